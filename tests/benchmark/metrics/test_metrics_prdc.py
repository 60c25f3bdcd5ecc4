"""Precision, recall, density, coverage: against the authors' ``prdc`` package,
chunking that changes nothing, and real MNIST against itself.

Tolerances. Our distances are float32, ||a||^2 + ||b||^2 - 2 a.b on centred
rows, so each squared distance, and each squared k-NN radius (one of them),
carries a rounding error of at most `sq_distance_rounding` (the model of
tests/parity/rounding.py: u sqrt(2n) per sum of n terms, u = 2^-24). A
sample's membership in a ball can therefore differ from exact arithmetic only
where its distance lies within that of the radius; `edge_slack` counts those
samples in float64 and allows each metric exactly that many (1 to 3 here).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import distances, features_and_logits, knn_radii, prdc
from benchmark.metrics.calibrate import uniform_noise
from tests.parity.rounding import ELEMENTWISE_TERMS, U32

KEYS = ("precision", "recall", "density", "coverage")


def sq_distances(a: np.ndarray, b: np.ndarray, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exact squared distances (A, B), their float32 rounding bound), float64.

    The dot product of D terms rounds by u sqrt(2D) of |a||b|, the norms by
    as much of |a|^2 and |b|^2, and the centring, the doubling and the two
    additions by a few ulp of the same: u (sqrt(2D) + 4 sqrt(2 * 4)) (|a| + |b|)^2."""
    a, b = a.astype(np.float64) - center, b.astype(np.float64) - center
    exact = np.square(a[:, None, :] - b[None, :, :]).sum(-1)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    bound = U32 * (np.sqrt(2 * a.shape[1]) + 4 * np.sqrt(2 * ELEMENTWISE_TERMS)) * (na[:, None] + nb[None, :]) ** 2
    return exact, bound


def sq_radii(d2: np.ndarray, bound: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared k-NN radii of a set from its own (N, N) squared distances, and
    their rounding bound: a k-th smallest value moves by at most the largest
    move among its row."""
    return np.partition(d2, k, axis=1)[:, k], bound.max(axis=1)


def edge_slack(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Per metric, the share that float32 rounding could change: samples (or,
    for density, sample-ball pairs) whose distance to some ball's centre lies
    within rounding of its radius, so that our strict inequality and the exact
    one may disagree; twice the bound covers two float32 computations."""
    center = real.astype(np.float64).mean(axis=0)
    d2, d2_bound = sq_distances(real, fake, center)  # (R, F)
    real_sq, real_bound = sq_radii(*sq_distances(real, real, center), k)
    fake_sq, fake_bound = sq_radii(*sq_distances(fake, fake, center), k)
    near_real_edge = np.abs(d2 - real_sq[:, None]) <= 2 * (d2_bound + real_bound[:, None])
    near_fake_edge = np.abs(d2 - fake_sq[None, :]) <= 2 * (d2_bound + fake_bound[None, :])
    return {"precision": near_real_edge.any(axis=0).mean(), "recall": near_fake_edge.any(axis=1).mean(),
            "density": near_real_edge.sum() / (k * len(fake)), "coverage": near_real_edge.any(axis=1).mean()}


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
    # The same strict inequalities; only a sample at a ball's edge can differ.
    slack = edge_slack(real, fake, k=5)
    for key in KEYS:
        assert abs(ours[key] - float(expected[key])) <= slack[key] + 1e-12, (key, slack[key])
    assert 0.3 < ours["precision"] < 0.9  # the sets differ: not a trivial 0 or 1


def test_knn_radii_agree_with_a_sorted_distance_matrix(overlapping_sets):
    real, _ = overlapping_sets
    center = real.astype(np.float64).mean(axis=0)
    sq, bound = sq_radii(*sq_distances(real, real, center), k=5)  # column 0 is the point itself
    expected = np.sqrt(sq)
    # d = sqrt(d^2) moves by at most |d(d^2)| / d, plus the root's own rounding.
    tolerance = bound / expected + U32 * expected
    assert np.all(np.abs(knn_radii(real, k=5) - expected) <= tolerance)


def test_chunk_size_changes_nothing(overlapping_sets, monkeypatch):
    real, fake = overlapping_sets
    whole = prdc(real, fake, k=5)
    monkeypatch.setattr(distances, "CHUNK_ROWS", 37)
    # A 37-row product may round differently from a 600-row one, so a sample
    # at a ball's edge may move; both are within rounding of exact (edge_slack).
    chunked, slack = prdc(real, fake, k=5), edge_slack(real, fake, k=5)
    for key in KEYS:
        assert abs(chunked[key] - whole[key]) <= slack[key] + 1e-12, key


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
