"""Sample quality of generated MNIST digits, the same yardstick for every framework.

Numpy in, numpy out; no training framework is imported (only the classifier's
training script, ``python -m torch_impl.train_classifier``, uses torch).
Everything looks through one MNIST classifier (``classifier.py``, numpy
inference): FID, KID and precision/recall/density/coverage on its 128-d
penultimate features; the classifier score, class coverage and label accuracy
on its predictions. See docs/metrics.md.

    from benchmark.metrics import evaluate
    scores = evaluate(images)                      # images (N, 28, 28, 1) in [-1, 1]
    scores = evaluate(images, requested_labels=y)  # conditional models
"""

from benchmark.metrics.classifier import Classifier, features_and_logits, load_classifier
from benchmark.metrics.distances import frechet_distance, gaussian_stats, kid, knn_radii, prdc
from benchmark.metrics.evaluation import LOWER_IS_BETTER, METRIC_KEYS, evaluate, evaluate_features
from benchmark.metrics.reference import ReferenceStats, default_cache_dir, reference_stats

__all__ = [
    "evaluate",
    "evaluate_features",
    "METRIC_KEYS",
    "LOWER_IS_BETTER",
    "reference_stats",
    "ReferenceStats",
    "default_cache_dir",
    "Classifier",
    "load_classifier",
    "features_and_logits",
    "frechet_distance",
    "gaussian_stats",
    "kid",
    "knn_radii",
    "prdc",
]
