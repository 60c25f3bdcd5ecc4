"""The report's quality verdict: lower FID wins, but a winner is named only
where KID's spread separates it ("tie" otherwise) and some run has learned
the data ("none" otherwise); docs/metrics.md, "Verdict rules"."""

from pathlib import Path

from benchmark.report.results import Run
from benchmark.report.sample_quality import quality_table, quality_verdict, unlearned_note


def run(framework: str, fid: float, kid: float, kid_std: float, recall: float = 0.7) -> Run:
    quality = {"num_samples": 10000.0, "fid": fid, "kid_mean": kid, "kid_std": kid_std,
               "precision": 0.8, "recall": recall, "density": 0.9, "coverage": 0.85,
               "classifier_score": 9.1, "classes_covered": 10.0}
    return Run({"framework": framework, "model": "dcgan", "mode": "eager", "status": "ok",
                "quality": quality, "config": {}}, Path("."))


def test_a_kid_gap_beyond_twice_the_spread_is_clear():
    better, difference = quality_verdict([run("torch", 5.0, 0.010, 0.001), run("tf", 9.0, 0.030, 0.001)])
    assert better == "torch (5.00 vs 9.00)" and difference == "clear (KID)"


def test_overlapping_kids_are_a_tie_with_no_winner_named():
    better, difference = quality_verdict([run("torch", 5.2, 0.011, 0.004), run("tf", 5.0, 0.010, 0.004)])
    assert better == "tie (FID tf 5.00, torch 5.20)" and difference == "within noise (KID)"


def test_no_winner_where_kids_spread_was_not_measured():
    # 500 Inception samples scored before the spread was estimated at that
    # size: every KID subset held them all, the std is rounding
    runs = [run("torch", 442.99, 0.5478, 2e-10), run("tf", 435.53, 0.5336, 1e-10)]
    assert quality_verdict(runs) == ("none named (FID tf 435.53, torch 442.99)",
                                     "not judged: KID's spread unmeasured (≤ 1,000 samples, an older results file)")
    assert "0.5478 |" in quality_table(runs[:1]) and "±" not in quality_table(runs[:1])


def test_quality_table_shows_kid_with_its_spread_and_skips_absent_columns():
    table = quality_table([run("torch", 5.0, 0.0101, 0.0012)])
    assert "0.0101 ± 0.0012" in table and "Label acc." not in table


def test_runs_whose_samples_reach_no_real_digit_are_flagged_not_learned_yet():
    # The default report's one-epoch WGAN: FID ~1180, recall 0 in both frameworks.
    unlearned = [run("torch", 1173.0, 0.70, 0.01, recall=0.0), run("tf", 1183.0, 0.71, 0.01, recall=0.0)]
    better, difference = quality_verdict(unlearned)
    assert better == "none: not learned yet (FID torch 1173.00, tf 1183.00)"
    assert difference == "n/a: every run's recall < 0.01"
    assert "Not learned yet" in unlearned_note(unlearned)


def test_one_run_that_reaches_real_digits_lifts_the_flag():
    runs = [run("torch", 390.0, 0.15, 0.01, recall=0.23), run("tf", 1183.0, 0.71, 0.01, recall=0.0)]
    assert quality_verdict(runs) == ("torch (390.00 vs 1183.00)", "clear (KID)")
    assert unlearned_note(runs) is None
    assert unlearned_note([]) is None


def test_each_scored_run_gets_the_band_its_fid_falls_in():
    from benchmark.report.sample_quality import FID_BANDS, fid_band

    (well, _), (recognisable, _) = FID_BANDS
    assert fid_band(1.7) == fid_band(well) == "well trained"
    assert fid_band(well + 0.01) == fid_band(recognisable) == "recognisable"
    assert fid_band(recognisable + 0.01) == fid_band(1183.0) == "not converged"
    table = quality_table([run("torch", 390.0, 0.15, 0.01), run("tf", 5.0, 0.01, 0.001)])
    rows = [line for line in table.splitlines() if line.startswith("| torch") or line.startswith("| tf")]
    assert rows[0].endswith("| recognisable |") and rows[1].endswith("| well trained |")
    assert "*Band*" in table


def test_no_winner_on_inception_features_alone():
    """A 64x64 folder after one epoch (reports/folder-64-cpu-example): both
    samples noise, their KIDs 0.5478 +- 0.0050 and 0.5336 +- 0.0044 differ
    beyond twice the spread, yet nothing says either run learned the data."""
    runs = [run("torch", 442.99, 0.5478, 0.0050), run("tf", 435.53, 0.5336, 0.0044)]
    assert quality_verdict(runs)[1] == "clear (KID)"  # on MNIST's classifier: learned (recall 0.7), judged
    for scored in runs:
        scored.result["quality"] = {key: scored.result["quality"][key] for key in ("num_samples", "fid", "kid_mean",
                                                                                   "kid_std")}
        scored.result["quality"]["features"] = "inception"
    assert quality_verdict(runs) == ("none named (FID tf 435.53, torch 442.99)",
                                     "not judged: no check on Inception features that any run learned the data")
