"""Paired-seed verdicts on known inputs, and Holm's adjustment across models."""

from dataclasses import replace

import numpy as np
import pytest

from benchmark.report.seeds import holm, paired_verdict

SEEDS = tuple(range(8))
# FID of framework B per seed: about 30, so the 10% margin is about 3.
BASE = np.array([30.2, 28.9, 31.5, 29.7, 30.8, 32.1, 29.1, 30.4])


def verdict(a_values, b_values=BASE, **kwargs):
    return paired_verdict("fid", "torch", "tf", SEEDS[:len(b_values)], a_values, b_values, **kwargs)


def test_identical_values_are_equivalent_without_a_signed_rank_test():
    v = verdict(BASE)
    assert v.verdict == "equivalent"
    assert v.mean_difference == 0.0 and v.interval == (0.0, 0.0)
    assert v.wilcoxon_p is None and v.tost_p == 0.0 and v.seeds_needed is None
    assert v.margin == pytest.approx(0.1 * BASE.mean())
    assert v.median_a == v.median_b == pytest.approx(np.median(BASE))
    assert v.iqr_a == pytest.approx(tuple(np.percentile(BASE, [25, 75])))


def test_an_exact_shift_beyond_the_margin_names_the_better_one():
    a = [40.0, 41.0, 42.0]
    v = paired_verdict("fid", "torch", "tf", (0, 1, 2), a, [30.0, 31.0, 32.0])
    assert v.verdict == "tf better"  # SD 0: decided on the exact d, even with 3 seeds


def test_a_large_shift_with_noise_makes_the_lower_fid_better():
    noise = np.random.default_rng(1).normal(0.0, 1.0, BASE.size)
    v = verdict(BASE + 10.0 + noise)
    assert v.verdict == "tf better"
    assert v.wilcoxon_p == pytest.approx(2 / 2**8)  # all 8 d positive, exact test
    assert v.interval[0] > 0 and v.tost_p > 0.05
    assert verdict(BASE + 10.0 + noise, lower_is_better=False).verdict == "torch better"


def test_small_noise_around_zero_is_equivalent():
    noise = np.random.default_rng(2).normal(0.0, 0.3, BASE.size)
    v = verdict(BASE + noise)
    assert v.verdict == "equivalent"
    assert v.tost_p < 0.05 and v.seeds_needed is None


def test_wide_noise_on_three_seeds_is_inconclusive_with_a_seed_count():
    b = BASE[:3]
    v = verdict(b + np.array([8.0, -6.0, 3.0]), b)
    assert v.seeds_needed is not None and v.seeds_needed > 3
    assert v.verdict == f"inconclusive: about {v.seeds_needed} seeds would settle it"
    assert v.interval[0] < 0 < v.interval[1]


def test_one_seed_is_inconclusive_without_tests():
    v = verdict([35.0], [30.0])
    assert v.verdict == "inconclusive: one seed"
    assert v.wilcoxon_p is None and v.tost_p is None and v.seeds_needed is None
    assert v.interval == (5.0, 5.0)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        paired_verdict("fid", "torch", "tf", (0, 1), [1.0, 2.0], [1.0])


def holm_family(raw_p):
    """One clear "tf better" model per raw p, the p overwritten."""
    base = verdict(BASE + 10.0 + np.random.default_rng(1).normal(0.0, 1.0, BASE.size))
    return [replace(base, wilcoxon_p=p) for p in raw_p]


@pytest.mark.parametrize("raw, expected", [
    ([0.04, 0.01, 0.02], [0.04, 0.03, 0.04]),
    ([0.01, 0.012, 0.04], [0.03, 0.03, 0.04]),  # 2 x 0.012 = 0.024 lifted to 0.03
    ([0.5, 0.6, 0.7], [1.0, 1.0, 1.0]),  # capped at 1
])
def test_holm_is_the_step_down_running_max(raw, expected):
    adjusted = holm(holm_family(raw))
    assert [v.holm_p for v in adjusted] == pytest.approx(expected)
    assert all(v.wilcoxon_p == p for v, p in zip(adjusted, raw))


def test_holm_redraws_verdicts_and_skips_untested_models():
    family = holm_family([0.01, 0.03, 0.04]) + [verdict(BASE)]
    adjusted = holm(family)
    assert [v.holm_p for v in adjusted] == pytest.approx([0.03, 0.06, 0.06, None])
    assert adjusted[0].verdict == "tf better"
    for v in adjusted[1:3]:
        assert v.verdict == f"inconclusive: about {v.seeds_needed} seeds would settle it"
        assert v.seeds_needed > len(SEEDS)
    assert adjusted[3].verdict == "equivalent" and adjusted[3].holm_p is None
