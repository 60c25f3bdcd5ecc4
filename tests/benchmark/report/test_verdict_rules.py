"""The speed verdict's rules (docs/metrics.md, "Verdict rules"), on suites
written as the worker writes them: "clear" only beyond the machine's measured
drift, never on a contended run, and the headline names a framework's modes
that did not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.report.results import load_suite
from benchmark.report.speed import compare, measured_drift, speed_verdict
from benchmark.report.tables import model_table, summary_table
from tests.benchmark.report.test_render import write_ok_run, write_results

IDLE = {"wall_s": 60.0, "cores": 2, "own_cpu_s": 119.0, "other_cpu_s": 1.0, "steal_s": 0.0,
        "other_share": 1 / 120, "steal_share": 0.0, "load_max": 2.1, "contended": False, "reason": None}
BUSY = {**IDLE, "other_cpu_s": 40.0, "other_share": 1 / 3, "contended": True,
        "reason": "other processes took 33% of the CPU"}


def suite(root: Path, rates: dict[tuple[str, str, str], list[tuple[float, float, float]]],
          load: dict | None = IDLE, calibration: dict | None = None, settings: dict | None = None):
    """One run per (configuration, repeat), with `load` as its machine_load."""
    runs, seed = [], 0
    for key, repeats in rates.items():
        for repeat, value in enumerate(repeats, 1):
            entry = write_ok_run(root, key, value, seed, repeat=repeat)
            entry["machine_load"] = load
            (root / entry["dir"] / "result.json").write_text(json.dumps(entry))
            runs.append(entry)
            seed += 1
    write_results(root, runs, sorted({key[0] for key in rates}))
    summary = json.loads((root / "results.json").read_text())
    summary["calibration"] = calibration
    summary["suite"].update(settings or {})
    (root / "results.json").write_text(json.dumps(summary))
    return load_suite(root)


def verdict(loaded) -> str:
    comparison = compare(loaded.runs, "dcgan", None)
    return speed_verdict(comparison, measured_drift(loaded.runs, loaded.summary.get("calibration")))


def test_repeats_measure_the_drift_that_a_clear_verdict_must_exceed(tmp_path):
    # torch's two repeats 400 and 420 img/s: a 5% drift. 2x over tf lies far beyond it.
    far = suite(tmp_path / "far", {("dcgan", "torch", "eager"): [(400, 395, 405), (420, 415, 425)],
                                   ("dcgan", "tf", "eager"): [(200, 198, 202), (205, 203, 207)]})
    drift = measured_drift(far.runs, None)
    assert drift.sources == ("repeats",) and drift.value == pytest.approx(0.05, abs=1e-3)
    assert verdict(far) == "clear (beyond ±5.0% drift)"
    # 5% faster in one tight run each: the interval excludes 1, but not a 10%
    # drift between the calibration's rounds.
    rounds = {"entries": [{"framework": "tf", "model": "dcgan", "precision": "fp32", "cached": False,
                           "chosen": "eager", "modes": {"eager": {"round_ms": [10.0, 11.0]}}}]}
    near = suite(tmp_path / "near", {("dcgan", "torch", "eager"): [(420, 419, 421)],
                                     ("dcgan", "tf", "eager"): [(400, 399, 401)]}, calibration=rounds)
    low = compare(near.runs, "dcgan", None).interval[1]
    assert low > 1.0 and verdict(near) == "within drift (±10%)"


def test_without_a_repeat_or_calibration_nothing_is_clear(tmp_path):
    once = suite(tmp_path, {("dcgan", "torch", "eager"): [(400, 395, 405)], ("dcgan", "tf", "eager"): [(200, 198, 202)]})
    assert measured_drift(once.runs, None).value is None
    assert verdict(once) == "drift not measured (--repeats 3 measures it)"


def test_the_calibrations_rounds_measure_the_drift_too(tmp_path):
    calibration = {"entries": [{"framework": "tf", "model": "dcgan", "precision": "fp32", "cached": False,
                                "chosen": "eager", "modes": {"eager": {"round_ms": [10.0, 11.0, 10.5]},
                                                             "xla": {"error": "failed"}}}]}
    loaded = suite(tmp_path, {("dcgan", "torch", "eager"): [(400, 395, 405)], ("dcgan", "tf", "eager"): [(200, 198, 202)]},
                   calibration=calibration)
    drift = measured_drift(loaded.runs, calibration)
    assert drift.sources == ("calibration rounds",) and drift.value == pytest.approx(0.1)
    assert verdict(loaded) == "clear (beyond ±10% drift)"
    # A cached entry was measured by an earlier suite: it says nothing of this one's machine.
    calibration["entries"][0]["cached"] = True
    assert measured_drift(loaded.runs, calibration).value is None


def test_a_contended_run_decides_no_speed_verdict_and_is_marked(tmp_path):
    loaded = suite(tmp_path, {("dcgan", "torch", "eager"): [(400, 395, 405), (420, 415, 425)],
                              ("dcgan", "tf", "eager"): [(200, 198, 202), (205, 203, 207)]}, load=BUSY)
    assert verdict(loaded).startswith("not judged: 4 run(s) contended")
    assert measured_drift(loaded.runs, None).value is None  # their spread is the other processes'
    assert model_table(loaded.runs).count("eager (contended)") == 4


def test_the_headline_names_modes_that_did_not_run(tmp_path):
    loaded = suite(tmp_path, {("dcgan", "torch", "eager"): [(400, 395, 405)], ("dcgan", "tf", "eager"): [(200, 198, 202)]},
                   settings={"framework_modes": {"torch": ["eager", "compile"], "tf": ["eager", "function", "xla"]}})
    assert "; torch compile not run; tf function/xla not run" in summary_table(loaded)
    calibrated = {"entries": [{"framework": "tf", "model": "dcgan", "precision": "fp32", "cached": True,
                               "chosen": "function", "fallback": None, "modes": {}}]}
    (tmp_path / "again").mkdir()
    again = suite(tmp_path / "again", {("dcgan", "torch", "eager"): [(400, 395, 405)],
                                       ("dcgan", "tf", "eager"): [(200, 198, 202)]}, calibration=calibrated,
                  settings={"framework_modes": {"torch": ["eager"], "tf": ["eager", "function", "xla"]}})
    assert "tf function, fastest here, not run" in summary_table(again)
