"""Precision, recall, density, coverage: against the authors' ``prdc`` package,
chunking that changes nothing, and real MNIST against itself."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import distances, features_and_logits, knn_radii, prdc
from benchmark.metrics.calibrate import uniform_noise

KEYS = ("precision", "recall", "density", "coverage")


@pytest.fixture(scope="module")
def overlapping_sets():
    """Real N(0, I); fake half on the real distribution, half shifted away."""
    rng = np.random.default_rng(0)
    real = rng.normal(size=(600, 16)).astype(np.float32)
    fake = rng.normal(size=(500, 16)).astype(np.float32)
    fake[250:] += 1.5
    return real, fake


def test_prdc_agrees_with_the_authors_package(overlapping_sets):
    reference_impl = pytest.importorskip("prdc")
    real, fake = overlapping_sets
    expected = reference_impl.compute_prdc(real, fake, nearest_k=5)
    ours = prdc(real, fake, k=5)
    # Strict inequalities on distances; float32 rounding may flip a comparison
    # at a ball's very edge, so one sample's worth of slack.
    for key in KEYS:
        assert ours[key] == pytest.approx(float(expected[key]), abs=1.0 / 500), key
    assert 0.3 < ours["precision"] < 0.9  # the sets differ: not a trivial 0 or 1


def test_knn_radii_agree_with_a_sorted_distance_matrix(overlapping_sets):
    real, _ = overlapping_sets
    full = np.sqrt(((real[:, None, :].astype(np.float64) - real[None, :, :]) ** 2).sum(-1))
    expected = np.sort(full, axis=1)[:, 5]  # column 0 is the point itself
    np.testing.assert_allclose(knn_radii(real, k=5), expected, rtol=1e-5)


def test_chunk_size_changes_nothing(overlapping_sets, monkeypatch):
    real, fake = overlapping_sets
    whole = prdc(real, fake, k=5)
    monkeypatch.setattr(distances, "CHUNK_ROWS", 37)
    assert prdc(real, fake, k=5) == whole


def test_cached_real_radii_give_the_same_result(overlapping_sets):
    real, fake = overlapping_sets
    assert prdc(real, fake, k=5, real_radii=knn_radii(real, 5)) == prdc(real, fake, k=5)


def test_real_digits_against_the_real_reference(test_outputs, reference):
    features, _ = test_outputs
    n = 2000
    scores = prdc(reference.features[:n], features[:n], k=5)
    # Measured about 0.9 (docs/metrics.md): a k-NN manifold of 2k samples
    # misses some of another 2k of the same distribution. Density ~1, and
    # coverage ~1 - 2^-k (Naeem et al. 2020) for matching distributions.
    assert scores["precision"] > 0.85 and scores["recall"] > 0.85, scores
    assert 0.85 < scores["density"] < 1.15, scores
    assert scores["coverage"] > 0.85, scores  # measured 0.90 at 2k, 0.957 at 10k


def test_noise_is_outside_the_real_manifold(reference):
    noise_features, _ = features_and_logits(uniform_noise(1000))
    scores = prdc(reference.features[:1000], noise_features, k=5)
    assert scores["precision"] < 0.05 and scores["coverage"] < 0.05, scores
