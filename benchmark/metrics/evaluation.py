"""One call that scores generated MNIST digits, whichever framework made them."""

from __future__ import annotations

import numpy as np

from benchmark.metrics import classes
from benchmark.metrics.classifier import load_classifier
from benchmark.metrics.distances import frechet_distance, gaussian_stats, kid, knn_radii, prdc
from benchmark.metrics.reference import ReferenceStats, reference_stats
from benchmark.metrics.table import CLASSIFIER, LOWER, METRICS, keys_of

__all__ = ["METRIC_KEYS", "LOWER_IS_BETTER", "MIN_SAMPLES", "evaluate", "evaluate_features"]

# Keys of evaluate()'s result, in order (benchmark.metrics.table has what each
# one is); label_accuracy only with requested_labels.
METRIC_KEYS: tuple[str, ...] = keys_of(CLASSIFIER)
# The quality metrics where a smaller value is better; for the others see each
# metric's direction (density: closest to 1; num_samples, kid_std and class_share_* are facts).
LOWER_IS_BETTER: frozenset[str] = frozenset(metric.key for metric in METRICS if metric.direction == LOWER)

# PRDC compares equally many real and generated samples, at most this many, so
# that values are comparable between runs that generate 10k or more.
PRDC_MAX_SAMPLES = 10_000
# Fewest generated samples scored: PRDC needs k + 1 = 6 per set and KID two;
# the CLI refuses a smaller --quality-samples before anything trains.
MIN_SAMPLES = 10
# Images must lie in [-1, 1] (tanh range); this slack admits float rounding only.
RANGE_SLACK = 1e-3


def evaluate(
    images: np.ndarray,
    requested_labels: np.ndarray | None = None,
    reference: ReferenceStats | None = None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Score generated digits against real MNIST through the MNIST classifier.

    Args:
        images: (N, 28, 28, 1) or (N, 28, 28) floats in [-1, 1], N >= MIN_SAMPLES (10k is
            the reference size; FID is biased upwards for small N).
        requested_labels: (N,) the digit each image was generated for
            (conditional models); adds ``label_accuracy``.
        reference: real-data statistics; default ``reference_stats()``, cached
            on disk after its first computation.
        seed: KID's subset draws, and PRDC's subset when N > 10k.

    Returns:
        Flat dict of floats keyed as in ``METRIC_KEYS`` (see docs/metrics.md).

    Raises:
        ValueError: images of the wrong shape, with NaN/inf, or outside [-1, 1].
    """
    images = np.asarray(images)
    if images.size and np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or infinity")
        low, high = float(images.min()), float(images.max())
        if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
            raise ValueError(f"images must lie in [-1, 1] (tanh range); found [{low:.3g}, {high:.3g}]")
    features, logits = load_classifier().features_and_logits(images)
    return evaluate_features(features, logits, requested_labels, reference, seed=seed)


def evaluate_features(
    features: np.ndarray,
    logits: np.ndarray,
    requested_labels: np.ndarray | None = None,
    reference: ReferenceStats | None = None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """``evaluate`` on features (N, 128) and logits (N, 10) the classifier already gave."""
    if reference is None:
        reference = reference_stats()
    n = len(features)
    if n < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} samples to evaluate, got {n}")

    mu, sigma = gaussian_stats(features)
    kid_mean, kid_std = kid(reference.features, features, seed=seed)
    m = min(n, PRDC_MAX_SAMPLES, len(reference.features))
    real = reference.features[:m]  # the cached subset is in random order
    real_radii = reference.radii if m == len(reference.features) else knn_radii(real, reference.k)
    # A random subset, not the first m: generated samples may come ordered by label.
    fake = features if m == n else features[np.random.default_rng(seed).choice(n, m, replace=False)]
    pr = prdc(real, fake, k=reference.k, real_radii=real_radii)
    histogram = classes.class_histogram(logits)

    result = {
        "num_samples": float(n),
        "fid": frechet_distance(mu, sigma, reference.mu, reference.sigma),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        **pr,
        "classifier_score": classes.classifier_score(logits),
        "classes_covered": float(classes.classes_covered(histogram)),
        "class_tv_distance": classes.class_tv_distance(histogram),
        **{f"class_share_{digit}": float(share) for digit, share in enumerate(histogram)},
    }
    if requested_labels is not None:
        result["label_accuracy"] = classes.label_accuracy(logits, requested_labels)
    return result
