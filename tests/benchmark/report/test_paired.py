"""With --seeds, the report pairs each framework's runs by seed and gives the
paired verdict (benchmark.report.seeds) in the summary and under each model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark.report import render_report
from test_render import section, table_rows, write_ok_run, write_results


def seeded_suite(root: Path, fids: dict[str, dict[str, list[float]]], modes: dict[str, str] | None = None) -> str:
    """model -> framework -> final FID per seed 0..N-1, as finished runs (in
    `modes`' mode, else torch eager and tf xla); the report's text."""
    runs, models = [], list(fids)
    for model in models:
        for framework, values in fids[model].items():
            mode = (modes or {}).get(framework) or ("eager" if framework == "torch" else "xla")
            for seed, fid in enumerate(values):
                entry = write_ok_run(root, (model, framework, mode), (400, 380, 420), seed, repeat=seed + 2)
                entry["config"]["seed"] = seed
                entry["quality"] = {"fid": fid, "kid_mean": fid / 10, "kid_std": 1.0, "recall": 0.5}
                runs.append(entry)
    write_results(root, runs, models)
    summary = json.loads((root / "results.json").read_text())
    summary["suite"]["seeds"] = list(range(max(len(v) for m in fids.values() for v in m.values())))
    (root / "results.json").write_text(json.dumps(summary))
    return render_report(root).read_text(encoding="utf-8")


def test_a_clear_shift_over_eight_seeds_is_a_verdict_with_every_seeds_point(tmp_path):
    rng = np.random.default_rng(0)
    torch_fid = (100 + rng.normal(0, 1, 8)).tolist()
    tf_fid = [x + 15 + rng.normal(0, 1) for x in torch_fid]  # tf worse by ~15 FID on every seed
    report = seeded_suite(tmp_path, {"dcgan": {"torch": torch_fid, "tf": tf_fid}})
    (row,) = table_rows(section(report, "## Summary"))
    assert row[3] == "torch better (8 paired seeds)"
    assert row[4].startswith("mean FID torch − tf: -1") and "margin ±" in row[4]
    seeds = section(report, "### Sample quality across seeds")
    rows = table_rows(seeds)
    assert [r[0] for r in rows] == [str(s) for s in range(8)]
    assert rows[3][1] == f"{torch_fid[3]:.2f}" and rows[3][3] == f"{torch_fid[3] - tf_fid[3]:+.2f}"
    assert "Wilcoxon signed-rank p = 0.00781" in seeds and "**Verdict: torch better.**" in seeds
    assert "- **Seed:** 0, 1, 2, 3, 4, 5, 6, 7" in report


def test_noise_only_is_equivalent_and_few_noisy_seeds_are_inconclusive(tmp_path):
    rng = np.random.default_rng(1)
    base = 100 + rng.normal(0, 5, 8)
    report = seeded_suite(tmp_path / "a", {
        "dcgan": {"torch": base.tolist(), "tf": (base + rng.normal(0, 0.5, 8)).tolist()},
        "wgan": {"torch": [100.0, 140.0, 90.0], "tf": [130.0, 95.0, 120.0]}})
    dcgan, wgan = table_rows(section(report, "## Summary"))
    assert dcgan[3] == "equivalent (8 paired seeds)"
    assert wgan[3].startswith("inconclusive: about ") and wgan[3].endswith("seeds would settle it (3 paired seeds)")


def test_one_seed_keeps_the_one_run_summary(tmp_path):
    report = seeded_suite(tmp_path, {"dcgan": {"torch": [100.0], "tf": [110.0]}})
    (row,) = table_rows(section(report, "## Summary"))
    assert row[3] == "tie (FID torch 100.00, tf 110.00)"  # the one-run verdict: KIDs 10 and 11 ± 1 overlap
    assert "### Sample quality across seeds" not in report
