"""run_benchmark.py as a user meets it: bad input exits 2 with a message and
writes nothing; a real (tiny) benchmark of both frameworks writes a report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


@pytest.mark.parametrize("args, message", [
    (["--models", "stylegan"], "invalid choice: 'stylegan'"),
    (["--frameworks", "jax"], "invalid choice: 'jax'"),
    (["--epochs", "0"], "must be at least 1"),
    (["--quality-probes", "0"], "must be at least 1"),
    (["--batch-size", "many"], "is not an integer"),
    (["--seed", "-1"], "must be an integer >= 0"),
    (["--no-such-flag"], "unrecognized arguments"),
    (["--frameworks", "tf", "--modes", "compile"], "tf modes: eager, function, xla"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
])
def test_bad_flags_exit_2_naming_the_problem(tmp_path, args, message):
    result = run_cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_data_exits_2_listing_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("--data-dir", str(empty), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_out_exits_2(tmp_path, mnist_data_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("--data-dir", mnist_data_dir, "--out", str(blocker / "reports"))
    assert result.returncode == 2
    assert "--out" in result.stderr and "Traceback" not in result.stderr


def test_a_tiny_benchmark_of_both_frameworks_writes_a_report(tmp_path, mnist_data_dir):
    result = run_cli("--frameworks", "torch", "tf", "--models", "dcgan", "wgan",
                     "--profile", "smoke", "--train-size", "160", "--batch-size", "16",
                     "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "tiny")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run_dir = tmp_path / "tiny"
    results = json.loads((run_dir / "results.json").read_text())
    assert [(r["model"], r["framework"], r["status"]) for r in results["runs"]] == [
        ("dcgan", "torch", "ok"), ("dcgan", "tf", "ok"), ("wgan", "torch", "ok"), ("wgan", "tf", "ok")]
    for run in results["runs"]:
        timing = run["timing"]
        if run["model"] == "dcgan":  # 160 / 16 = 10 steps: 2 warm-up, 8 timed
            assert timing["steady_steps"] == 8 and timing["images_per_s"] > 0
        else:  # 160 / (5 x 16) = 2 steps, both warm-up: no speed rather than the warm-up's
            assert timing["steady_steps"] == 0 and timing["images_per_s"] is None
            assert timing["gflops_per_s"] is None and timing["warmup_steps"] == 2
        samples = np.load(run_dir / run["dir"] / "samples.npy")
        assert samples.shape == (16, 28, 28, 1) and np.all(np.abs(samples) <= 1)
    # Same seed, same data, same noise, same initial weights: the first
    # step's losses of the two frameworks agree to float32 rounding.
    first = {}
    for run in results["runs"]:
        row = (run_dir / run["dir"] / "history.csv").read_text().splitlines()[1].split(",")
        first.setdefault(run["model"], []).append(float(row[2]))
    for model, (torch_loss, tf_loss) in first.items():
        assert torch_loss == pytest.approx(tf_loss, rel=1e-5), model
    assert "warning: wgan runs 2 step(s), all of them warm-up" in result.stderr
    assert "dcgan runs" not in result.stderr
    report = (run_dir / "report.md").read_text()
    assert "## Summary" in report and "python run_benchmark.py" in report
    assert ("n/a: torch ran warm-up steps only (train longer), tf ran warm-up steps only (train longer)"
            in report)
    assert report.count("| – (warm-up only) |") == 2

    (run_dir / "report.md").unlink()
    rerender = run_cli("--report-only", str(run_dir))
    assert rerender.returncode == 0 and (run_dir / "report.md").read_text() == report


def test_a_tiny_bf16_run_of_both_frameworks_is_named_and_reported_as_bf16(tmp_path, mnist_data_dir):
    result = run_cli("--frameworks", "torch", "tf", "--models", "dcgan", "--precision", "bf16",
                     "--profile", "smoke", "--train-size", "32", "--batch-size", "16",
                     "--quality-samples", "0", "--data-dir", mnist_data_dir, "--out", str(tmp_path),
                     "--run-id", "bf16")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads((tmp_path / "bf16" / "results.json").read_text())
    assert [(r["name"], r["precision"], r["status"]) for r in results["runs"]] == [
        ("dcgan-torch-eager-bf16", "bf16", "ok"),
        ("dcgan-tf-xla-bf16", "bf16", "ok")]
    assert results["suite"]["precisions"] == ["bf16"]
    report = (tmp_path / "bf16" / "report.md").read_text()
    assert "| eager bf16 |" in report and "| xla bf16 |" in report


def test_precisions_plan_one_named_run_each():
    from benchmark.cli import build_parser, plan_runs

    args = build_parser().parse_args(["--models", "dcgan", "--precision", "fp32", "bf16"])
    assert [c.name for c in plan_runs(args, "cpu")] == [
        "dcgan-torch-eager", "dcgan-torch-eager-bf16", "dcgan-tf-xla", "dcgan-tf-xla-bf16"]
    assert {c.precision for c in plan_runs(build_parser().parse_args([]), "cpu")} == {"fp32"}


def test_repeats_and_batch_sweeps_plan_interleaved_named_runs():
    from benchmark.cli import UsageError, build_parser, plan_runs

    args = build_parser().parse_args(["--models", "dcgan", "--batch-sizes", "64", "128", "--repeats", "2"])
    names = [c.name for c in plan_runs(args, "cpu")]
    assert names == ["dcgan-torch-eager-b64-r1", "dcgan-tf-xla-b64-r1", "dcgan-torch-eager-b128-r1",
                     "dcgan-tf-xla-b128-r1", "dcgan-torch-eager-b64-r2", "dcgan-tf-xla-b64-r2",
                     "dcgan-torch-eager-b128-r2", "dcgan-tf-xla-b128-r2"]
    both = build_parser().parse_args(["--batch-size", "32", "--batch-sizes", "64"])
    with pytest.raises(UsageError, match="not both"):
        plan_runs(both, "cpu")
