"""A report of three frameworks (torch, tf, jax): every framework gets its
losses column, and the summary names the fastest with its ratio over each of
the others, in speed order; two-framework suites read as before
(tests/benchmark/report/test_render.py)."""

from __future__ import annotations

import json

from benchmark.report import render_report
from tests.benchmark.report.test_render import section, table_rows, write_ok_run, write_results

RATES = {("dcgan", "torch", "eager"): (400, 380, 420), ("dcgan", "tf", "xla"): (200, 190, 210),
         ("dcgan", "jax", "jit"): (600, 570, 630)}


def test_summary_ranks_three_frameworks(tmp_path):
    runs = [write_ok_run(tmp_path, key, value, seed) for seed, (key, value) in enumerate(RATES.items())]
    results = write_results(tmp_path, runs, ["dcgan"])
    summary = json.loads((results / "results.json").read_text())
    summary["suite"]["frameworks"] = ["torch", "tf", "jax"]
    (results / "results.json").write_text(json.dumps(summary))
    report = render_report(tmp_path).read_text(encoding="utf-8")
    (row,) = table_rows(section(report, "## Summary"))
    # 600 / 400 = 1.5 over torch, then 600 / 200 = 3.0 over tf.
    assert row[1].startswith("jax (jit) 1.50x (") and " over torch (eager), tf (xla) 3.00x (" in row[1], row[1]
    assert len(row) == 5 + 3  # a D / G loss column per framework
    for name in ("dcgan-torch-eager", "dcgan-tf-xla", "dcgan-jax-jit"):
        assert f"runs/{name}" in report or name in report
