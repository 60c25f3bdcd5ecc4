"""FID: agreement with independent computations, and its behaviour on real MNIST.

Tolerances. FID is computed in float64, where every CPU rounds each
operation by at most 2^-53; only how LAPACK orders its sums changes between
machines. Against independent float64 computations (pytorch-fid's, a matrix
square root by scipy's sqrtm; torchmetrics', eigenvalues of the
non-symmetric product) the difference is that rounding amplified by the
covariances' conditioning (cond(S1 S2) ~ 5e9); the bound 1e-6 keeps decades
above it on any machine and stays far below any error in the formula (a
trace term dropped or doubled moves FID by O(1)). Rank-deficient covariances
make sqrtm lose half the digits (its error is ~sqrt(2^-53) ~ 1e-8): 1e-3
there.
The real-data checks are about the data, not rounding, and are ratios far
from their bounds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import features_and_logits, frechet_distance, gaussian_stats
from benchmark.metrics.calibrate import gaussian_blur, gaussian_noise, uniform_noise


def _correlated_features(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return rng.normal(size=(n, dim)) @ mixing + shift


def _fid_by_sqrtm(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's FID: scipy's sqrtm of the product (our formula uses no sqrtm)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


@pytest.fixture(scope="module")
def random_stats():
    a = _correlated_features(3000, 128, seed=1)
    b = _correlated_features(2000, 128, seed=2, shift=0.05)
    return (*gaussian_stats(a), *gaussian_stats(b))


def test_fid_agrees_with_pytorch_fids_matrix_square_root(random_stats):
    assert frechet_distance(*random_stats) == pytest.approx(_fid_by_sqrtm(*random_stats), rel=1e-6)


def test_fid_agrees_with_torchmetrics(random_stats):
    torch = pytest.importorskip("torch")
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    tensors = [torch.from_numpy(np.asarray(s, dtype=np.float64)) for s in random_stats]
    expected = float(fid_module._compute_fid(*tensors))  # the internals of FrechetInceptionDistance
    assert frechet_distance(*random_stats) == pytest.approx(expected, rel=1e-6)


def test_fid_of_identical_statistics_is_zero(random_stats):
    mu, sigma = random_stats[:2]
    # tr(S) + tr(S) - 2 tr(sqrt(S S)): a cancellation of terms of size tr(S),
    # each within the square root's float64 error (~1e-8 relative at worst,
    # as for singular matrices above; measured 5e-15).
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8 * np.trace(sigma)


def test_fid_is_finite_for_singular_covariances():
    """Fewer samples than dimensions: rank-deficient covariances, the case where
    pytorch-fid may add an offset to the diagonals."""
    a = _correlated_features(40, 128, seed=3)
    b = _correlated_features(40, 128, seed=4, shift=0.1)
    stats = (*gaussian_stats(a), *gaussian_stats(b))
    fid = frechet_distance(*stats)
    assert np.isfinite(fid)
    assert fid == pytest.approx(_fid_by_sqrtm(*stats), rel=1e-3)


def test_fid_rejects_mismatched_statistics(random_stats):
    mu, sigma = random_stats[:2]
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(mu, sigma, mu[:10], sigma[:10, :10])


def _fid(images, reference) -> float:
    features, _ = features_and_logits(images)
    return frechet_distance(*gaussian_stats(features), reference.mu, reference.sigma)


def test_real_test_digits_are_close_and_noise_is_far(test_outputs, reference):
    real = frechet_distance(*gaussian_stats(test_outputs[0]), reference.mu, reference.sigma)
    noise = _fid(uniform_noise(2000), reference)
    # Measured 1.68 and 2181 (docs/metrics.md): the scale is the classifier
    # features', so the test bounds the real value loosely and the ratio tightly.
    assert 0 < real < 3
    assert noise > 500 * real


@pytest.mark.parametrize(
    "corrupt, strengths",
    [(gaussian_noise, (0.0, 0.1, 0.25, 0.5, 1.0)), (gaussian_blur, (0.0, 0.5, 1.0, 1.5, 2.0))],
    ids=["gaussian-noise", "blur"],
)
def test_fid_rises_monotonically_with_corruption(corrupt, strengths, test_subset, reference):
    images, _ = test_subset
    fids = [_fid(corrupt(images, strength), reference) for strength in strengths]
    assert all(later > earlier for earlier, later in zip(fids, fids[1:])), fids
