"""Fashion-MNIST (Xiao et al. 2017): MNIST's IDX format and sizes, Zalando's clothes.

The same machinery and search order as MNIST (``benchmark.data.idx``): an
explicit ``data_dir``, ``$GANBENCH_FASHION_MNIST_DIR``, ``data/fashion_mnist/``,
the user cache ``$XDG_CACHE_HOME/ganbench/fashion_mnist``, then a download.
The files share MNIST's names, so the data sets never share a folder.

Only the sha256 digests of the canonical ``.gz`` files are published (the
ones tensorflow-datasets registers; torchvision checks their md5), so a file
is accepted when it is that ``.gz`` file, byte for byte: keep the files as
downloaded.
"""

from __future__ import annotations

import os

import numpy as np

from benchmark.data import idx, sources
from benchmark.io import user_cache

__all__ = ["GZ_SHA256", "MIRRORS", "CLASSES", "fashion_mnist_files", "load_fashion_mnist"]

GZ_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
DATA_DIR_ENV = "GANBENCH_FASHION_MNIST_DIR"
PROJECT_DATA_DIR = sources.PROJECT_DATA_ROOT / "fashion_mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_mnist_files() -> idx.IDXSet:
    """Fashion-MNIST's facts, read from this module's globals at each call (tests patch them)."""
    return idx.IDXSet(
        name="fashion_mnist", title="Fashion-MNIST", sha256={}, gz_sha256=GZ_SHA256,
        mirrors=tuple(MIRRORS), env_var=DATA_DIR_ENV, project_dir=PROJECT_DATA_DIR,
        cache_dir=user_cache("fashion_mnist"),
    )


def load_fashion_mnist(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One split as read-only ``(images, labels)``: float32 (N, 28, 28, 1) in [-1, 1], int64 (N,).

    Raises DatasetNotFoundError when the files are nowhere and cannot be
    downloaded, DatasetError when one is corrupt.
    """
    return idx.load_idx(fashion_mnist_files(), split, data_dir, download)
