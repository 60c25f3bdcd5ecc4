"""Session fixtures for the metrics tests: real MNIST through the real classifier.

The reference statistics are computed once per session (about 60k images
through the numpy classifier, 10-15 s) into the session's private cache
(tests/conftest.py), the folder the suites' worker processes read: whichever
process asks first computes them under the file lock, the rest load its file.
So the tests exercise the computation and never read a developer's cache; and
the two pytest workers and the suites no longer compute them a time each.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import load_mnist, seeded_subset


@pytest.fixture(scope="session")
def metrics_cache_dir():
    from benchmark.metrics.reference import default_cache_dir

    return default_cache_dir()


@pytest.fixture(scope="session")
def reference(mnist_data_dir, metrics_cache_dir):
    from benchmark.metrics import reference_stats

    return reference_stats(data_dir=mnist_data_dir, cache_dir=metrics_cache_dir)


@pytest.fixture(scope="session")
def mnist_test(mnist_data_dir):
    return load_mnist("test", data_dir=mnist_data_dir)


@pytest.fixture(scope="session")
def test_outputs(mnist_test):
    """(features (10000, 128), logits (10000, 10)) of the whole test split."""
    from benchmark.metrics import features_and_logits

    return features_and_logits(mnist_test[0])


@pytest.fixture(scope="session")
def test_subset(mnist_test):
    """2000 test images and labels, seeded: enough for the monotonicity checks."""
    images, labels = seeded_subset(*mnist_test, n=2000, seed=1)
    return np.asarray(images), np.asarray(labels)
