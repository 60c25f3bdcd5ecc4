"""KID: the per-subset MMD^2 against torchmetrics', its variance estimate against
repeated draws, unbiasedness, and real MNIST."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import features_and_logits, kid
from benchmark.metrics.calibrate import uniform_noise
from benchmark.metrics.distances import mmd2_variance, polynomial_mmd2
from tests.parity.rounding import ELEMENTWISE_TERMS, U32


def _features(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, 32)) + shift).astype(np.float32)


def test_polynomial_mmd2_agrees_with_torchmetrics():
    torch = pytest.importorskip("torch")
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    x, y = _features(300, 0).astype(np.float64), _features(300, 1, shift=0.2).astype(np.float64)
    expected = float(kid_module.poly_mmd(torch.from_numpy(x), torch.from_numpy(y)))  # degree 3, gamma 1/D, coef 1
    # Both float64: 3 x 90,000 kernel entries ~1 summed to an MMD^2 of 0.1 lose
    # ~2^-53 sqrt(2 x 90,000) / 0.1 ~ 1e-12 relative to the order of the sums
    # (measured: equal); 1e-9 keeps three decades for any machine's sums.
    assert polynomial_mmd2(x, y) == pytest.approx(expected, rel=1e-9)


def mmd_rounding(x: np.ndarray, y: np.ndarray) -> float:
    """How far float32 kernel entries can move polynomial_mmd2(x, y), summed in
    float64: each entry (a.b / D + 1)^3 carries the dot product's rounding
    (u sqrt(2D) of |a||b| / D, tests/parity/rounding.py), tripled by the cube
    (3 base^2), and a few ulp of its own for the scaling, the +1 and the cube;
    the MMD's means add them up with no credit for cancelling."""
    dim = x.shape[1]

    def entry_bounds(a, b):
        base = a @ b.T / dim + 1
        scale = np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)) / dim
        return U32 * (3 * base**2 * np.sqrt(2 * dim) * scale + 3 * np.sqrt(2 * ELEMENTWISE_TERMS) * np.abs(base) ** 3)

    m = len(x)
    within = sum(e.sum() - np.trace(e) for e in (entry_bounds(x, x), entry_bounds(y, y)))
    return float(within / (m * (m - 1)) + 2 * entry_bounds(x, y).sum() / m**2)


def test_kid_is_the_mean_and_std_over_subsets():
    real, fake = _features(800, 2), _features(700, 3, shift=0.3)
    rng = np.random.default_rng(7)  # replays kid()'s draws: real rows, then fake rows, per subset
    scores, bounds = [], []
    for _ in range(20):
        x = real[rng.choice(800, 500, replace=False)].astype(np.float64)
        y = fake[rng.choice(700, 500, replace=False)].astype(np.float64)
        scores.append(polynomial_mmd2(x, y))
        bounds.append(mmd_rounding(x, y))
    mean, std = kid(real, fake, num_subsets=20, subset_size=500, seed=7)
    # kid() computes its kernels in float32, the replay in float64: each score
    # within its bound, so the mean within theirs, and the std (1-Lipschitz in
    # the largest change of a score) within the largest.
    assert abs(mean - np.mean(scores)) <= np.mean(bounds)
    assert abs(std - np.std(scores)) <= np.max(bounds)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_mmd2_variance_is_the_spread_of_the_estimate_over_draws(shift):
    """mmd2_variance, from one pair of sets each, averaged over many pairs,
    against the variance of polynomial_mmd2 across those pairs. Both
    distributions alike (shift 0: only zeta2's term is non-zero) and apart
    (zeta1's term dominates), so that both terms are checked. The bound: 4
    standard errors of the observed variance (from the estimates' fourth
    moment, Var s^2 = (mu4 - sigma^4 (n - 3) / (n - 1)) / n) and of the mean
    estimate, plus the estimate's own bias, which is O(1/m): it treats the
    between-set mean as a U-statistic and its zetas are plug-in estimates;
    measured -17% at m = 20, -7% to -8% at 50, -1% to -5% at 200 (4,000 and
    1,500 draws), -2% and +5% at 500 (400 draws, standard error 9%): 10 / m
    bounds them all. It catches a term dropped, halved
    or of the wrong sign; not a diagonal left in K_YY (+3% to +12% here)."""
    rng = np.random.default_rng(11)
    m, dim, draws = 100, 8, 2000
    estimates, variances = np.empty(draws), np.empty(draws)
    for i in range(draws):
        x, y = rng.normal(size=(m, dim)), rng.normal(size=(m, dim)) + shift
        estimates[i], variances[i] = polynomial_mmd2(x, y), mmd2_variance(x, y)
    observed = estimates.var(ddof=1)
    centred = estimates - estimates.mean()
    kurtosis = np.mean(centred**4) / np.mean(centred**2) ** 2
    observed_se = np.sqrt((kurtosis - (draws - 3) / (draws - 1)) / draws)  # relative
    estimated_se = variances.std(ddof=1) / np.sqrt(draws) / observed
    ratio = variances.mean() / observed
    assert abs(ratio - 1) < 4 * (observed_se + estimated_se) + 10 / m, (ratio, observed_se, estimated_se)


def test_kid_measures_its_spread_when_every_subset_holds_every_sample():
    """500 generated samples (Inception on a CPU): the subsets' std would be
    rounding, so the spread is the variance estimate's root; with a larger
    real set, its average over the subsets' real rows."""
    real, fake = _features(500, 8), _features(500, 9, shift=0.1)
    mean, spread = kid(real, fake, num_subsets=20)
    assert mean == polynomial_mmd2(real, fake)
    assert spread == pytest.approx(np.sqrt(mmd2_variance(real, fake)), rel=1e-12) and spread > 0
    more_real = _features(2000, 10)
    mean, spread = kid(more_real, fake, num_subsets=5, seed=3)
    rng = np.random.default_rng(3)  # replays kid()'s draws
    subsets = [(more_real[rng.choice(2000, 500, replace=False)], fake[rng.choice(500, 500, replace=False)])
               for _ in range(5)]
    assert spread == pytest.approx(np.sqrt(np.mean([mmd2_variance(x, y) for x, y in subsets])), rel=1e-9)


def test_kid_is_unbiased_for_one_distribution():
    mean, std = kid(_features(4000, 4), _features(4000, 5), num_subsets=100, subset_size=500)
    # The expectation is 0: the mean of 100 subset scores lies within a few
    # standard errors of it (subsets overlap, so allow a generous 5).
    assert abs(mean) < 5 * std / np.sqrt(100) + 1e-12
    shifted, _ = kid(_features(4000, 4), _features(4000, 5, shift=0.3), num_subsets=20, subset_size=500)
    assert shifted > 20 * abs(mean)


def test_subset_size_is_capped_at_the_sample_count():
    mean, _ = kid(_features(50, 6), _features(30, 7), num_subsets=5)
    assert np.isfinite(mean)


def test_real_digits_score_near_zero_and_noise_far(test_outputs, reference):
    features, _ = test_outputs
    real_mean, real_std = kid(reference.features, features[:2000], num_subsets=20)
    noise_features, _ = features_and_logits(uniform_noise(1000))
    noise_mean, _ = kid(reference.features, noise_features, num_subsets=20)
    assert abs(real_mean) < 3 * real_std + 1e-3 * noise_mean
    assert noise_mean > 1000 * max(real_mean, real_std / 10)
