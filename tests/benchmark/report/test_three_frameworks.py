"""A report of three frameworks (torch, tf, jax): every framework gets its
losses column, and the summary names the fastest with its ratio over each of
the others, in speed order; the paired seed verdicts and "When the twins
part" compare every pair of frameworks; two-framework suites read as before
(tests/benchmark/report/test_render.py, test_paired.py)."""

from __future__ import annotations

import json

import numpy as np

from benchmark.divergence import TRACE_FILE
from benchmark.report import render_report
from tests.benchmark.report.test_paired import seeded_suite
from tests.benchmark.report.test_render import section, table_rows, write_ok_run, write_results
from tests.benchmark.test_divergence import synthetic_trace

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


def test_seeds_pair_every_two_frameworks(tmp_path):
    """With --seeds, each pair of frameworks gets its paired verdict, in the
    summary (one clause per pair) and under the model (a table per pair)."""
    rng = np.random.default_rng(0)
    torch_fid = (100 + rng.normal(0, 1, 8)).tolist()
    fids = {"torch": torch_fid, "tf": [x + 15 + rng.normal(0, 1) for x in torch_fid],  # tf worse by ~15
            "jax": [x + rng.normal(0, 0.2) for x in torch_fid]}  # jax: torch within noise
    report = seeded_suite(tmp_path, {"dcgan": fids}, modes={"jax": "jit"})
    (row,) = table_rows(section(report, "## Summary"))
    clauses = row[3].split(" · ")
    assert [c.split(":")[0] for c in clauses] == ["torch vs tf", "torch vs jax", "tf vs jax"], row[3]
    assert clauses[0] == "torch vs tf: torch better (8 paired seeds)"
    assert clauses[1] == "torch vs jax: equivalent (8 paired seeds)"
    assert clauses[2] == "tf vs jax: jax better (8 paired seeds)"
    assert [c.split(":")[0] for c in row[4].split(" · ")] == ["mean FID torch − tf", "mean FID torch − jax",
                                                           "mean FID tf − jax"]
    seeds = section(report, "### Sample quality across seeds")
    for a, b in (("torch", "tf"), ("torch", "jax"), ("tf", "jax")):
        pair = seeds.split(f"**{a} vs {b}**\n")[1].split("\n**")[0]
        rows = table_rows(pair)
        assert [r[0] for r in rows] == [str(s) for s in range(8)]
        assert rows[3][3] == f"{fids[a][3] - fids[b][3]:+.2f}"
    assert seeds.count("**Verdict: ") == 3


def test_the_twins_part_for_every_pair_of_frameworks(tmp_path):
    """"When the twins part" compares every pair of frameworks at each seed."""
    runs = [write_ok_run(tmp_path, key, value, 0) for key, value in RATES.items()]
    for entry, scale in zip(runs, (0.0, 0.01, 0.02)):
        synthetic_trace([0, 1, 2, 4], scale, lambda s: [1, 2, 3]).save(tmp_path / entry["dir"] / TRACE_FILE)
    write_results(tmp_path, runs, ["dcgan"])
    report = render_report(tmp_path).read_text(encoding="utf-8")
    rows = table_rows(section(report, "### When the twins part"))
    assert [(r[0], r[1]) for r in rows] == [("torch vs tf", "0"), ("torch vs jax", "0"), ("tf vs jax", "0")]
    assert "identical (distance 0) at every seed" in report
    assert (tmp_path / "figures" / "divergence_dcgan.png").is_file()


def test_the_loaders_verdict_counts_the_frameworks():
    from benchmark.report.tables import loaders_verdict

    assert loaders_verdict({"torch": 0.01, "tf": 0.0}) == "so neither framework's native speed comes from its loader"
    assert loaders_verdict({"torch": 0.01, "tf": 0.0, "jax": 0.02}) == "so no framework's native speed comes from its loader"
    assert loaders_verdict({"torch": 0.3, "tf": 0.0, "jax": 0.12}) == (
        "so the frameworks' native speeds differ through torch and jax's loader")
