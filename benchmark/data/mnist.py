"""MNIST from the four canonical IDX files, with numpy and the standard library only.

Files are looked up, in order, in an explicit ``data_dir``, the directory named by
``GANBENCH_DATA_DIR``, the project-local ``data/mnist/`` and the user cache
``$XDG_CACHE_HOME/ganbench/mnist`` (``~/.cache/ganbench/mnist`` by default). Each
file may be gzip'd (``<name>.gz``) or raw. When no source holds the files they are
downloaded into the user cache. Every file read or downloaded is checked against
the sha256 of its decompressed bytes, so gzip wrappers from any mirror are accepted.
The machinery is ``benchmark.data.idx``'s, which Fashion-MNIST shares.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.data import idx, sources
from benchmark.data.errors import DatasetError, DatasetNotFoundError
from benchmark.io import user_cache

__all__ = [
    "SHA256",
    "MIRRORS",
    "MNISTError",
    "MNISTNotFoundError",
    "find_mnist_dir",
    "load_mnist",
    "seeded_subset",
]

SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Base URLs; a file is fetched from ``<mirror>/<stem>.gz``. Tried in order, once each.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DATA_DIR_ENV = "GANBENCH_DATA_DIR"
PROJECT_DATA_DIR = sources.PROJECT_DATA_ROOT / "mnist"
SPLIT_FILES: dict[str, tuple[str, str]] = idx.SPLIT_STEMS

class MNISTError(DatasetError):
    """MNIST files are missing, corrupt or malformed."""


class MNISTNotFoundError(MNISTError, DatasetNotFoundError):
    """No source holds the MNIST files and none could be downloaded."""


def user_cache_dir() -> Path:
    """The per-user download cache, ``$XDG_CACHE_HOME/ganbench/mnist``."""
    return user_cache("mnist")


def mnist_files() -> idx.IDXSet:
    """MNIST's facts, read from this module's globals at each call (tests patch them)."""
    return idx.IDXSet(
        name="mnist", title="MNIST", sha256=SHA256, gz_sha256={}, mirrors=tuple(MIRRORS),
        env_var=DATA_DIR_ENV, project_dir=PROJECT_DATA_DIR, cache_dir=user_cache_dir(),
        error=MNISTError, not_found=MNISTNotFoundError,
    )


def find_mnist_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the first source directory that holds all four MNIST files, else None.

    An explicit ``data_dir`` is the only place considered when given.
    """
    return idx.find_dir(mnist_files(), data_dir)


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as ``(images, labels)``.

    images: float32 (N, 28, 28, 1), NHWC, values in [-1, 1]; labels: int64 (N,).
    Both arrays are read-only views of an in-process cache; copy them to modify.
    Raises MNISTNotFoundError when the files are nowhere and cannot be downloaded,
    MNISTError when a file is corrupt, and ValueError for an unknown split.
    """
    files = mnist_files()
    if mirrors is not None:
        files = dataclasses.replace(files, mirrors=tuple(mirrors))
    return idx.load_idx(files, split, data_dir, download)


def seeded_subset(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` distinct examples at random, reproducibly for a given ``seed``.

    When ``n`` covers the whole set the inputs are returned as they are.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    indices = subset_indices(len(images), n, seed)
    if indices is None:
        return images, labels
    return images[indices], labels[indices]


def subset_indices(total: int, n: int, seed: int) -> np.ndarray | None:
    """The rows ``seeded_subset`` picks from ``total`` examples; None when
    ``n`` covers them all. A native input pipeline reads these rows of its own data set."""
    if n <= 0:
        raise ValueError(f"subset size must be positive, got n={n}")
    if n >= total:
        return None
    return np.random.default_rng(seed).choice(total, size=n, replace=False)


# --- the IDX machinery under MNIST's names (benchmark.data.idx) ------------------------


def _existing_file(directory: Path, stem: str) -> Path | None:
    """The raw file if present, else the gzip'd one, else None."""
    return idx.existing_file(mnist_files(), directory, stem)


def _decode_images(data: bytes, path: Path) -> np.ndarray:
    return idx.PIXEL_TO_UNIT[idx.decode_pixels(data, path, MNISTError)]  # (N, 28, 28, 1) float32


def _decode_labels(data: bytes, path: Path) -> np.ndarray:
    return idx.decode_labels(data, path, MNISTError)  # (N,)
