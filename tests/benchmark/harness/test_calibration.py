"""--modes auto: the calibration times every mode for real, picks the fastest,
caches per machine, and falls back to the reference choice when it cannot time."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.harness.calibration import (AUTO, MAX_STEPS, MIN_STEPS_PER_ROUND, ROUNDS, Target, apply, cache_path,
                                   calibrate, fastest, machine, targets_of)
from benchmark.config import RunConfig
from benchmark.frameworks import TABLE as FRAMEWORKS

REPO_ROOT = Path(__file__).resolve().parents[3]
needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow not installed")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})})


def config(framework: str, model: str, mode: str = AUTO, batch_size: int = 32, precision: str = "fp32"):
    return RunConfig(framework=framework, model=model, mode=mode, device="cpu", profile="quick", epochs=1,
                     batch_size=batch_size, train_size=None, sample_count=16, seed=0, threads=0,
                     data_dir=None, precision=precision)


@pytest.fixture()
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_one_choice_per_framework_model_and_precision_at_the_first_batch_size():
    plan = [config("torch", "dcgan", batch_size=b) for b in (64, 128)] + [
        config("tf", "dcgan", batch_size=64), config("tf", "dcgan", batch_size=64, precision="bf16"),
        config("tf", "wgan", mode="xla")]  # named, not auto: nothing to choose
    assert targets_of(plan) == [Target("torch", "dcgan", "fp32", 64, "cpu", 0),
                                Target("tf", "dcgan", "fp32", 64, "cpu", 0),
                                Target("tf", "dcgan", "bf16", 64, "cpu", 0)]


def test_apply_replaces_auto_only():
    calibration = {"entries": [{"framework": "tf", "model": "dcgan", "precision": "fp32", "chosen": "function"}]}
    plan = [config("tf", "dcgan"), config("tf", "dcgan", mode="xla"), config("tf", "dcgan", precision="bf16")]
    assert [c.mode for c in apply(plan, calibration)] == ["function", "xla", FRAMEWORKS["tf"].modes[0]]


def test_fastest_ignores_modes_that_failed():
    assert fastest({"xla": {"error": "compile failed"}, "eager": {"images_per_s": 10.0},
                    "function": {"images_per_s": 30.0}}) == "function"
    assert fastest({"xla": {"error": "compile failed"}}) is None


def test_cache_key_changes_with_the_machine_and_versions(cache_home):
    facts = machine()
    assert cache_path(facts) == cache_path(dict(facts))
    assert cache_path(facts) != cache_path({**facts, "cpu_features": [*facts["cpu_features"], "AMX"]})
    assert cache_path(facts) != cache_path({**facts, "packages": {**facts["packages"], "torch": "0.0"}})
    assert str(cache_path(facts)).startswith(str(cache_home))


needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")


@needs_jax
def test_calibration_times_every_mode_then_reads_the_cache(cache_home, mnist_data_dir):
    # JAX's modes, timed for real (tf's: the default-suite test below); the
    # MLP GAN at batch 16 keeps XLA's compile short.
    target = Target("jax", "vanilla", "fp32", 16, "cpu", 0)
    first = calibrate([target], mnist_data_dir)
    (entry,) = first["entries"]
    assert not entry["cached"] and entry["fallback"] is None
    assert set(entry["modes"]) == set(FRAMEWORKS["jax"].modes)
    for mode, measured in entry["modes"].items():
        assert measured["images_per_s"] > 0, mode
        assert ROUNDS * MIN_STEPS_PER_ROUND <= measured["steps"] <= MAX_STEPS
        assert measured["warmup_s"] > 0
    assert entry["chosen"] == max(entry["modes"], key=lambda m: entry["modes"][m]["images_per_s"])
    stored = json.loads(cache_path().read_text())
    assert stored["entries"][target.key]["modes"] == entry["modes"]

    again = calibrate([target], mnist_data_dir)
    assert again["entries"][0]["cached"] and again["entries"][0]["modes"] == entry["modes"]
    # --recalibrate measures again even with the target cached: here in a
    # process that cannot (no MNIST there), so it fails at once and says so.
    redone = calibrate([target], str(Path(mnist_data_dir) / "no-mnist-here"), recalibrate=True)
    assert not redone["entries"][0]["cached"] and redone["entries"][0]["fallback"]
    assert json.loads(cache_path().read_text())["entries"][target.key]["modes"] == entry["modes"]  # kept


@needs_tf
def test_a_calibration_that_cannot_run_falls_back_to_the_reference_modes(cache_home, tmp_path, capsys):
    # Its process fails for real (no MNIST there); the suite goes on with the reference choice.
    target = Target("tf", "dcgan", "fp32", 32, "cpu", 0)
    result = calibrate([target], str(tmp_path / "no-mnist-here"))
    (entry,) = result["entries"]
    assert entry["chosen"] == FRAMEWORKS["tf"].reference_mode and entry["fallback"]
    assert all("error" in m for m in entry["modes"].values())
    assert not cache_path().exists()  # a failure is never cached
    # The warning carries the process's own last lines, indented.
    warning = capsys.readouterr().err
    assert "warning: calibrating tf failed" in warning
    assert any(line.startswith("    | ") and "no-mnist-here" in line for line in warning.splitlines()), warning


def test_each_target_is_timed_in_a_process_of_its_own(cache_home, tmp_path, capsys):
    # Several models in one process made torch.compile hit its recompile limit and run the later
    # ones eagerly, so "compile" was timed at eager's speed (benchmark.harness.calibration.calibrate).
    # Here each process fails at once (no MNIST there): one failure, and one warning, per target.
    targets = [Target("torch", model, "fp32", 32, "cpu", 0) for model in ("dcgan", "wgan")]
    result = calibrate(targets, str(tmp_path / "no-mnist-here"))
    assert [entry["fallback"] is not None for entry in result["entries"]] == [True, True]
    assert capsys.readouterr().err.count("warning: calibrating torch failed") == 2


def test_auto_with_other_modes_is_refused(tmp_path):
    result = run_cli("--modes", "auto", "xla", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "give auto alone" in result.stderr
    assert not (tmp_path / "out").exists()


@needs_tf
def test_the_default_suite_calibrates_and_reports_its_choice(tmp_path, mnist_data_dir):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    flags = ("--frameworks", "tf", "--models", "vanilla", "--profile", "quick", "--train-size", "320",
             "--batch-size", "32", "--quality-samples", "0", "--data-dir", mnist_data_dir,
             "--out", str(tmp_path))
    first = run_cli(*flags, "--run-id", "first", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "modes calibrated in" in first.stdout
    results = json.loads((tmp_path / "first" / "results.json").read_text())
    (entry,) = results["calibration"]["entries"]
    assert set(entry["modes"]) == set(FRAMEWORKS["tf"].modes)  # every tf mode timed
    assert all(m["images_per_s"] > 0 for m in entry["modes"].values())
    chosen = entry["chosen"]
    assert [r["mode"] for r in results["runs"]] == [chosen]
    assert results["suite"]["modes_chosen_by"] == "measured"
    report = (tmp_path / "first" / "report.md").read_text()
    assert "## Execution modes" in report and f"**{chosen}**" in report

    second = run_cli(*flags, "--run-id", "second", "--plan-only", env=env)  # the plan reads the cache
    assert second.returncode == 0, second.stderr[-2000:]
    assert "modes from the calibration cache" in second.stdout
    plan = json.loads((tmp_path / "second" / "suite.json").read_text())
    assert plan["calibration"]["entries"][0]["cached"] and [r["mode"] for r in plan["runs"]] == [chosen]


@needs_tf
def test_smoke_takes_the_reference_modes_without_calibrating(tmp_path, mnist_data_dir):
    # The plan is where the choice is made; --plan-only stops before training.
    result = run_cli("--frameworks", "tf", "--models", "vanilla", "--profile", "smoke", "--train-size", "96",
                     "--quality-samples", "0", "--data-dir", mnist_data_dir, "--out", str(tmp_path),
                     "--run-id", "smoke", "--plan-only", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "calibrat" not in result.stdout + result.stderr
    plan = json.loads((tmp_path / "smoke" / "suite.json").read_text())
    assert plan["calibration"] is None and plan["settings"]["modes_chosen_by"] == "reference"
    assert [r["mode"] for r in plan["runs"]] == [FRAMEWORKS["tf"].reference_mode]
