"""The report's quality verdict: lower FID wins; KID's spread decides whether
the difference is noise."""

from pathlib import Path

from benchmark.report.results import Run
from benchmark.report.tables import quality_table, quality_verdict


def run(framework: str, fid: float, kid: float, kid_std: float) -> Run:
    quality = {"num_samples": 10000.0, "fid": fid, "kid_mean": kid, "kid_std": kid_std,
               "precision": 0.8, "recall": 0.7, "density": 0.9, "coverage": 0.85,
               "classifier_score": 9.1, "classes_covered": 10.0}
    return Run({"framework": framework, "model": "dcgan", "mode": "eager", "status": "ok",
                "quality": quality, "config": {}}, Path("."))


def test_a_kid_gap_beyond_twice_the_spread_is_clear():
    better, difference = quality_verdict([run("torch", 5.0, 0.010, 0.001), run("tf", 9.0, 0.030, 0.001)])
    assert better == "torch (5.00 vs 9.00)" and difference == "clear (KID)"


def test_overlapping_kids_are_within_noise():
    better, difference = quality_verdict([run("torch", 5.2, 0.011, 0.004), run("tf", 5.0, 0.010, 0.004)])
    assert better == "tf (5.00 vs 5.20)" and difference == "within noise (KID)"


def test_quality_table_shows_kid_with_its_spread_and_skips_absent_columns():
    table = quality_table([run("torch", 5.0, 0.0101, 0.0012)])
    assert "0.0101 ± 0.0012" in table and "Label acc." not in table
