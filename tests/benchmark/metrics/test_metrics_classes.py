"""Classifier score, class histogram and coverage, label accuracy.

float64 throughout: numpy's exp and log are within a few ulp (~1e-16) with
every instruction set's implementation, so the relative tolerances (1e-9,
1e-10) sit far above rounding and far below any error in a formula."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import classes


def _confident_logits(labels: np.ndarray, margin: float = 50.0) -> np.ndarray:
    logits = np.zeros((len(labels), 10))
    logits[np.arange(len(labels)), labels] = margin
    return logits


def test_classifier_score_spans_one_to_ten():
    balanced = np.repeat(np.arange(10), 20)
    assert classes.classifier_score(_confident_logits(balanced)) == pytest.approx(10.0, rel=1e-9)
    assert classes.classifier_score(_confident_logits(np.full(200, 3))) == pytest.approx(1.0)
    assert classes.classifier_score(np.zeros((200, 10))) == pytest.approx(1.0)  # unsure of everything
    two_digits = np.repeat([1, 7], 100)
    assert classes.classifier_score(_confident_logits(two_digits)) == pytest.approx(2.0, rel=1e-9)


def test_classifier_score_agrees_with_the_direct_formula():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(500, 10))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1)))
    assert classes.classifier_score(logits) == pytest.approx(expected, rel=1e-10)
    assert 1.0 <= classes.classifier_score(logits) <= 10.0


def test_histogram_coverage_and_distance_from_uniform():
    labels = np.array([0] * 50 + [1] * 45 + [2] * 5)  # 5% share: covered; digits 3-9: dropped
    histogram = classes.class_histogram(_confident_logits(labels))
    np.testing.assert_allclose(histogram, [0.5, 0.45, 0.05] + [0.0] * 7)
    assert classes.classes_covered(histogram) == 3
    assert classes.classes_covered(np.full(10, 0.1)) == 10
    assert classes.class_tv_distance(np.full(10, 0.1)) == pytest.approx(0.0)
    assert classes.class_tv_distance(np.eye(10)[4]) == pytest.approx(0.9)
    assert classes.class_tv_distance(histogram) == pytest.approx(0.5 * (0.4 + 0.35 + 0.05 + 0.7))


def test_label_accuracy():
    logits = _confident_logits(np.array([1, 2, 3, 4]))
    assert classes.label_accuracy(logits, np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="requested_labels"):
        classes.label_accuracy(logits, np.array([1, 2]))


def test_real_test_digits(test_outputs, mnist_test):
    _, logits = test_outputs
    histogram = classes.class_histogram(logits)
    assert classes.classifier_score(logits) > 9.5  # confident and varied
    assert classes.classes_covered(histogram) == 10
    assert classes.class_tv_distance(histogram) < 0.05  # MNIST's digits are nearly balanced
    assert classes.label_accuracy(logits, mnist_test[1]) >= 0.993
