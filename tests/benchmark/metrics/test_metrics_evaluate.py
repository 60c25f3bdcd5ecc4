"""evaluate(): its keys and types, input checks, and the reference statistics' cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.metrics import METRIC_KEYS, evaluate, evaluate_features, reference_stats
from benchmark.metrics import reference as reference_lib
from benchmark.metrics.classifier import Classifier, load_classifier


@pytest.fixture(scope="module")
def conditional_scores(test_subset, reference):
    images, labels = test_subset
    return evaluate(images, requested_labels=labels, reference=reference)


def test_result_is_flat_json_friendly_floats_with_stable_keys(conditional_scores):
    assert tuple(conditional_scores) == METRIC_KEYS
    assert all(type(value) is float for value in conditional_scores.values())
    assert json.loads(json.dumps(conditional_scores)) == conditional_scores


def test_real_digits_score_as_real(conditional_scores):
    scores = conditional_scores
    assert scores["num_samples"] == 2000
    assert scores["label_accuracy"] >= 0.99
    assert scores["classes_covered"] == 10
    assert sum(scores[f"class_share_{d}"] for d in range(10)) == pytest.approx(1.0)
    assert scores["precision"] > 0.85 and scores["recall"] > 0.85


def test_unconditional_result_has_no_label_accuracy(test_subset, reference, conditional_scores):
    images, _ = test_subset
    clf = load_classifier()
    features, logits = clf.features_and_logits(images)
    scores = evaluate_features(features, logits, reference=reference)
    assert "label_accuracy" not in scores
    assert scores == {k: v for k, v in conditional_scores.items() if k != "label_accuracy"}


def test_rejects_bad_images(reference):
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.full((20, 28, 28, 1), np.nan, np.float32), reference=reference)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        evaluate(np.full((20, 28, 28, 1), 255.0, np.float32), reference=reference)
    with pytest.raises(ValueError, match="28, 28"):
        evaluate(np.zeros((20, 64), np.float32), reference=reference)
    with pytest.raises(ValueError, match="at least 10"):
        evaluate(np.zeros((5, 28, 28, 1), np.float32), reference=reference)


def test_reference_statistics_are_cached_on_disk(reference, metrics_cache_dir, tmp_path):
    path = metrics_cache_dir / f"reference-{reference.key}.npz"
    assert path.is_file()
    assert reference.features.shape == (reference_lib.SUBSET_SIZE, 128)
    assert reference.sigma.shape == (128, 128) and reference.meta["num_images"] == 60_000
    # Loaded from the file, the MNIST files are never needed: an empty data dir works.
    reference_lib._load_cached.cache_clear()
    again = reference_stats(data_dir=tmp_path, cache_dir=metrics_cache_dir)
    for name in ("mu", "sigma", "features", "radii"):
        np.testing.assert_array_equal(getattr(again, name), getattr(reference, name))
    assert not list(metrics_cache_dir.glob(".*.tmp"))  # the atomic write left no temp file


def test_reference_key_changes_with_the_classifier_and_k():
    clf = load_classifier()
    other = Classifier(weights=clf.weights, meta=clf.meta, digest="0" * 64)
    key = reference_lib.reference_key(clf)
    assert reference_lib.reference_key(other) != key
    assert reference_lib.reference_key(clf, k=3) != key
    assert reference_lib.reference_key(clf) == key
