"""Metrics read from the classifier's predictions: the Inception Score's MNIST
analogue, which digits a generator draws, and whether a conditional one obeys.

Numpy only; inputs are logits (N, 10).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COVERED_SHARE",
    "softmax",
    "classifier_score",
    "class_histogram",
    "classes_covered",
    "class_tv_distance",
    "label_accuracy",
]

# A class counts as covered when at least this share of the samples is predicted
# as it: a tenth of its fair 10% share.
COVERED_SHARE = 0.01


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (N, C) -> (N, C), float64, stable for large logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classifier_score(logits: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))): the Inception Score with the MNIST classifier.

    In [1, C]: high when each sample is confidently one digit (sharp p(y|x))
    and the digits are varied (flat p(y)). One split over all samples; p(y)
    is the mean of p(y|x). Computed with log-softmax so confident predictions
    (p = 0 in float64) add exact zeros, not NaN.
    """
    logits = np.asarray(logits, dtype=np.float64)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))  # log p(y|x), (N, C)
    p = np.exp(log_p)
    log_marginal = np.log(p.mean(axis=0))  # log p(y), (C,)
    kl = (p * (log_p - log_marginal)).sum(axis=1)  # (N,)
    return float(np.exp(kl.mean()))


def class_histogram(logits: np.ndarray) -> np.ndarray:
    """Share (C,) of samples whose predicted (argmax) class is each digit; sums to 1."""
    logits = np.asarray(logits)
    counts = np.bincount(logits.argmax(axis=1), minlength=logits.shape[1])
    return counts / counts.sum()


def classes_covered(histogram: np.ndarray, min_share: float = COVERED_SHARE) -> int:
    """How many classes hold at least ``min_share`` of the samples (10 = no mode dropped)."""
    return int((np.asarray(histogram) >= min_share).sum())


def class_tv_distance(histogram: np.ndarray) -> float:
    """Total variation distance from the uniform distribution, in [0, 1 - 1/C].

    0 when every digit is drawn equally often; 0.9 when only one digit is.
    """
    histogram = np.asarray(histogram, dtype=np.float64)
    return float(0.5 * np.abs(histogram - 1.0 / len(histogram)).sum())


def label_accuracy(logits: np.ndarray, requested_labels: np.ndarray) -> float:
    """Share of samples that the classifier reads as the label they were generated for."""
    requested_labels = np.asarray(requested_labels)
    if requested_labels.shape != (len(logits),):
        raise ValueError(
            f"requested_labels must be ({len(logits)},) to match the images, got {requested_labels.shape}"
        )
    return float((np.asarray(logits).argmax(axis=1) == requested_labels).mean())
