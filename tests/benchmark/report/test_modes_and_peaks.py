"""The report says which modes it compares and why (the calibration table of
`--modes auto`), and measures each run's share of peak against a peak in the
run's own arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.report import render_report
from test_render import section, table_rows, write_ok_run, write_results

CALIBRATION = {
    "seconds": 41.5, "cache": "/home/u/.cache/ganbench/calibration/abc.json",
    "entries": [
        {"framework": "torch", "model": "dcgan", "precision": "fp32", "batch_size": 32, "device": "cpu",
         "threads": 0, "cached": False, "chosen": "eager", "fallback": None,
         "modes": {"eager": {"images_per_s": 1173.0, "step_ms": 27.3, "steps": 24, "warmup_s": 0.3},
                   "compile": {"images_per_s": 901.0, "step_ms": 35.5, "steps": 24, "warmup_s": 37.0}}},
        {"framework": "tf", "model": "dcgan", "precision": "fp32", "batch_size": 32, "device": "cpu",
         "threads": 0, "cached": True, "chosen": "function", "fallback": None,
         "modes": {"eager": {"images_per_s": 496.0, "step_ms": 64.5, "steps": 9, "warmup_s": 0.9},
                   "function": {"images_per_s": 1121.0, "step_ms": 28.5, "steps": 24, "warmup_s": 1.4},
                   "xla": {"error": "RuntimeError: XLA compilation failed"}}},
    ],
}


def suite_with(tmp_path: Path, *, calibration: dict | None, modes_chosen_by: str | None,
               peaks: dict[str, float] | None = None) -> str:
    """A rendered two-run DCGAN suite; `peaks` gives each run's matrix-product probe by precision."""
    runs = []
    for seed, (framework, mode, precision, rate) in enumerate(
            [("torch", "eager", "fp32", 1173), ("tf", "function", "fp32", 1121),
             ("torch", "eager", "bf16", 2139)]):
        entry = write_ok_run(tmp_path, ("dcgan", framework, mode), (rate, rate - 20, rate + 20), seed,
                             precision=precision)
        entry["timing"]["gflops_per_s"] = {"fp32": 190.0, "bf16": 351.0}[precision]
        if peaks:
            entry["timing"]["matmul_peak_gflops"] = peaks[precision]
        runs.append(entry)
    write_results(tmp_path, runs, ["dcgan"])
    summary = json.loads((tmp_path / "results.json").read_text())
    summary["environment"]["cpu_peak_gflops"] = 358.0  # numpy's float32 probe
    summary["environment"]["cpu_features"] = ["AVX2", "FMA", "AVX-512", "AVX512-BF16", "AMX"]
    summary["suite"]["modes"] = ["tf function", "torch eager"]
    if modes_chosen_by:
        summary["suite"]["modes_chosen_by"] = modes_chosen_by
    summary["calibration"] = calibration
    (tmp_path / "results.json").write_text(json.dumps(summary))
    return render_report(tmp_path).read_text(encoding="utf-8")


def test_auto_modes_show_the_calibration_and_say_why(tmp_path):
    report = suite_with(tmp_path, calibration=CALIBRATION, modes_chosen_by="measured")
    summary = section(report, "## Summary")
    assert "each framework's fastest mode on this machine, measured before the suite" in summary
    assert "tf function, torch eager" in summary
    modes = section(report, "## Execution modes")
    rows = {(row[0], row[1]): row for row in table_rows(modes)}
    torch_row, tf_row = rows[("DCGAN", "torch")], rows[("DCGAN", "tf")]
    assert torch_row[2] == "**eager**" and torch_row[3] == "eager 1,173 · compile 901"
    assert torch_row[4] == "eager 0.30 · compile 37.0" and torch_row[5] == "measured"
    assert tf_row[2] == "**function**" and tf_row[3] == "function 1,121 · eager 496 · xla failed"
    assert tf_row[5] == "cache"
    assert "41.5 s" in modes and "--recalibrate" in modes
    assert report.index("## Summary") < report.index("## Execution modes") < report.index("## DCGAN")


def test_named_and_reference_modes_are_said_and_nothing_calibrated_is_shown(tmp_path):
    given = suite_with(tmp_path / "given", calibration=None, modes_chosen_by="given")
    assert "those named by `--modes`" in section(given, "## Summary")
    assert "## Execution modes" not in given
    reference = suite_with(tmp_path / "reference", calibration=None, modes_chosen_by="reference")
    assert "the reference machine's fastest" in section(reference, "## Summary")
    old = suite_with(tmp_path / "old", calibration=None, modes_chosen_by=None)  # results before auto
    assert "*Modes compared*" not in old


def test_share_of_peak_is_against_the_runs_own_arithmetic(tmp_path):
    # The figures: a bf16 run at 351 GFLOP/s showed "98% peak" against
    # numpy's float32 probe of 358. Its own bf16 probe (1,400) makes it 25%.
    report = suite_with(tmp_path, calibration=None, modes_chosen_by="given",
                        peaks={"fp32": 300.0, "bf16": 1400.0})
    rows = {row[1]: row for row in table_rows(section(report, "### Speed"))}
    assert rows["eager bf16"][4] == "351.0 (25%)"
    # float32: the best of numpy's probe (358) and the runs' own (300)
    assert rows["eager"][4] == "190.0 (53%)" and rows["function"][4] == "190.0 (53%)"
    environment = section(report, "## Environment")
    assert "cpu bf16 1,400 GFLOP/s" in environment and "cpu fp32 358 GFLOP/s" in environment
    assert "AVX512-BF16, AMX" in environment


def test_without_a_probe_in_its_arithmetic_a_run_shows_no_share(tmp_path):
    # Results written before per-precision probes: a bf16 run is not divided by the float32 peak.
    report = suite_with(tmp_path, calibration=None, modes_chosen_by="given")
    rows = {row[1]: row for row in table_rows(section(report, "### Speed"))}
    assert rows["eager bf16"][4] == "351.0"
    assert rows["eager"][4] == "190.0 (53%)"


def test_mixed_precision_is_compared_with_fp32_plainly(tmp_path):
    # The figures: tf xla bf16 921 img/s against its fp32 987 is a finding, said as such.
    runs = [write_ok_run(tmp_path, ("dcgan", "torch", "eager"), (1000, 980, 1020), 0),
            write_ok_run(tmp_path, ("dcgan", "torch", "eager"), (2139, 2100, 2180), 1, precision="bf16"),
            write_ok_run(tmp_path, ("dcgan", "tf", "xla"), (987, 960, 1010), 2),
            write_ok_run(tmp_path, ("dcgan", "tf", "xla"), (921, 900, 940), 3, precision="bf16")]
    write_results(tmp_path, runs, ["dcgan"])
    speed = section(render_report(tmp_path).read_text(encoding="utf-8"), "### Speed")
    assert "torch eager bf16 2.14x its fp32 images/s" in speed
    assert "tf xla bf16 0.93x its fp32 images/s (slower than fp32)" in speed


def test_a_share_above_the_peak_blames_the_probe(tmp_path):
    # dcgan-pilot's 105%: the peak was probed while other work shared the CPU.
    report = suite_with(tmp_path, calibration=None, modes_chosen_by="given", peaks={"fp32": 300.0, "bf16": 300.0})
    rows = {row[1]: row for row in table_rows(section(report, "### Speed"))}
    assert rows["eager bf16"][4] == "351.0 (117%: the peak probe ran slow)"
