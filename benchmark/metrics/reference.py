"""Statistics of real MNIST under the classifier, computed once and cached on disk.

The reference is the 60k-image training split: the mean and covariance of its
features (for FID) and a fixed, seeded subset of its features with their
k-NN radii (for KID and precision/recall/density/coverage). The cache file's
name carries a key made from the classifier weights' sha256, the MNIST files'
sha256s and the settings below, so retraining the classifier, other data or
other settings never read stale statistics. Files are written atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data import load_mnist
from benchmark.data.mnist import SHA256
from benchmark.io import user_cache, write_npz
from benchmark.metrics import classifier as classifier_lib
from benchmark.metrics.distances import gaussian_stats, knn_radii

__all__ = ["ReferenceStats", "reference_stats", "default_cache_dir", "reference_key"]

# Bump when the way the statistics are computed changes.
REFERENCE_VERSION = 1
REFERENCE_SPLIT = "train"
SUBSET_SIZE = 10_000
SUBSET_SEED = 0
DEFAULT_K = 5


@dataclass(frozen=True)
class ReferenceStats:
    """Real-data statistics in feature space.

    mu: (D,) float64 mean and sigma: (D, D) float64 covariance of all reference features.
    features: (SUBSET_SIZE, D) float32, a seeded random subset in random order
        (its first n rows are themselves a random subset of n).
    radii: (SUBSET_SIZE,) float32 distance of each subset row to its k-th nearest
        neighbour within the subset, k = ``k``.
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    radii: np.ndarray
    k: int
    key: str
    meta: dict[str, Any] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ganbench/metrics`` (``~/.cache/ganbench/metrics`` by default)."""
    return user_cache("metrics")


def reference_key(classifier: classifier_lib.Classifier, k: int = DEFAULT_K) -> str:
    """16 hex digits that change with the classifier, the data, or the settings."""
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    identity = {
        "version": REFERENCE_VERSION,
        "classifier_sha256": classifier.digest,
        "mnist_sha256": {stem: SHA256[stem] for stem in stems},
        "split": REFERENCE_SPLIT,
        "subset_size": SUBSET_SIZE,
        "subset_seed": SUBSET_SEED,
        "k": k,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def reference_stats(
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    k: int = DEFAULT_K,
    refresh: bool = False,
) -> ReferenceStats:
    """Load the cached reference statistics, computing and caching them when missing.

    Computing them reads the MNIST training split (``load_mnist``'s usual
    lookup, or ``data_dir``) and takes about 10-20 s on 2 cores; loading takes
    milliseconds, and needs no MNIST files. Repeated calls in one process
    return the same object.

    Args:
        data_dir: MNIST folder, only read when the statistics must be computed.
        cache_dir: where ``reference-<key>.npz`` lives (default ``default_cache_dir()``).
        k: neighbourhood size of the cached k-NN radii.
        refresh: recompute and overwrite the cache file.
    """
    clf = classifier_lib.load_classifier()
    key = reference_key(clf, k)
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / f"reference-{key}.npz"
    if refresh:
        _load_cached.cache_clear()
    else:
        cached = _try_load(path, key, k)
        if cached is not None:
            return cached
    # One process computes, the others wait and read its file: a suite's
    # processes, or a test session's, starting on an empty cache together.
    with _exclusive(path.with_name(path.name + ".lock")):
        cached = None if refresh else _try_load(path, key, k)
        if cached is not None:
            return cached
        stats = _compute(clf, key, k, data_dir)
        write_npz(
            path,
            mu=stats.mu,
            sigma=stats.sigma,
            features=stats.features,
            radii=stats.radii,
            meta_json=np.array(json.dumps(stats.meta, sort_keys=True)),
        )
        _load_cached.cache_clear()
    return _load_cached(str(path), key, k)


def _try_load(path: Path, key: str, k: int) -> ReferenceStats | None:
    try:
        return _load_cached(str(path), key, k)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing, truncated or from another key: compute it again


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Holds an exclusive lock on `lock_path` (created if needed); where the
    folder cannot hold one, goes on without it (computing twice is harmless)."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, key: str, k: int) -> ReferenceStats:
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta_json"]))
        if meta.get("key") != key:
            raise ValueError(f"{path} holds statistics for key {meta.get('key')}, not {key}")
        stats = ReferenceStats(
            mu=npz["mu"], sigma=npz["sigma"], features=npz["features"], radii=npz["radii"],
            k=k, key=key, meta=meta,
        )
    for array in (stats.mu, stats.sigma, stats.features, stats.radii):
        array.flags.writeable = False
    return stats


def _compute(clf: classifier_lib.Classifier, key: str, k: int, data_dir: Any) -> ReferenceStats:
    images, _ = load_mnist(REFERENCE_SPLIT, data_dir=data_dir)
    features, _ = clf.features_and_logits(images)  # (60000, D)
    mu, sigma = gaussian_stats(features)
    subset = np.random.default_rng(SUBSET_SEED).choice(len(features), SUBSET_SIZE, replace=False)
    subset_features = np.ascontiguousarray(features[subset])
    meta = {
        "key": key,
        "split": REFERENCE_SPLIT,
        "num_images": len(images),
        "subset_size": SUBSET_SIZE,
        "subset_seed": SUBSET_SEED,
        "k": k,
        "classifier_sha256": clf.digest,
        "classifier_test_accuracy": clf.meta.get("test_accuracy"),
    }
    return ReferenceStats(
        mu=mu, sigma=sigma, features=subset_features, radii=knn_radii(subset_features, k),
        k=k, key=key, meta=meta,
    )
