"""KID: the per-subset MMD^2 against torchmetrics', unbiasedness, and real MNIST."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import features_and_logits, kid
from benchmark.metrics.calibrate import uniform_noise
from benchmark.metrics.distances import polynomial_mmd2


def _features(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, 32)) + shift).astype(np.float32)


def test_polynomial_mmd2_agrees_with_torchmetrics():
    torch = pytest.importorskip("torch")
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    x, y = _features(300, 0).astype(np.float64), _features(300, 1, shift=0.2).astype(np.float64)
    expected = float(kid_module.poly_mmd(torch.from_numpy(x), torch.from_numpy(y)))  # degree 3, gamma 1/D, coef 1
    assert polynomial_mmd2(x, y) == pytest.approx(expected, rel=1e-9)


def test_kid_is_the_mean_and_std_over_subsets():
    real, fake = _features(800, 2), _features(700, 3, shift=0.3)
    rng = np.random.default_rng(7)  # replays kid()'s draws: real rows, then fake rows, per subset
    scores = []
    for _ in range(20):
        x = real[rng.choice(800, 500, replace=False)].astype(np.float64)
        y = fake[rng.choice(700, 500, replace=False)].astype(np.float64)
        scores.append(polynomial_mmd2(x, y))
    mean, std = kid(real, fake, num_subsets=20, subset_size=500, seed=7)
    assert mean == pytest.approx(np.mean(scores), rel=1e-4)  # float32 kernels vs float64
    assert std == pytest.approx(np.std(scores), rel=1e-3)


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
