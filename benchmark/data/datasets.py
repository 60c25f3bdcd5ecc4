"""One entry point for every data set: ``load_dataset(name)``.

Names: ``mnist`` (the default; exactly what ``load_mnist`` gives), ``fashion_mnist``,
``cifar10`` and ``folder:PATH`` (any folder of JPEG or PNG images, searched
recursively, center-cropped and resized to ``image_size``, 64 by default).
Images come back float32 NHWC in [-1, 1], labels int64, or None for a folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data import cifar10, fashion_mnist, folder, idx, mnist
from benchmark.data.errors import DatasetError

__all__ = ["DATASETS", "DatasetRef", "parse_dataset", "load_dataset", "load_pixels", "scale_pixels", "image_shape"]

DATASETS = ("mnist", "fashion_mnist", "cifar10", "folder:PATH")
FOLDER_PREFIX = "folder:"
# (H, W, C) and classes of the data sets whose images have one size.
_FIXED: dict[str, tuple[tuple[int, int, int], int]] = {
    "mnist": ((28, 28, 1), 10),
    "fashion_mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
}


@dataclass(frozen=True)
class DatasetRef:
    """A parsed data set name: ``kind`` is a key of DATASETS' fixed sets or "folder"."""

    kind: str
    path: Path | None = None

    @property
    def name(self) -> str:
        return f"{FOLDER_PREFIX}{self.path}" if self.kind == "folder" else self.kind

    @property
    def num_classes(self) -> int | None:
        """Classes of the labels; None for a folder, which has none."""
        return _FIXED[self.kind][1] if self.kind in _FIXED else None


def parse_dataset(name: str) -> DatasetRef:
    """``mnist`` -> DatasetRef("mnist"); ``folder:~/celeba`` -> DatasetRef("folder", Path(...)).

    Raises DatasetError for an unknown name, listing the valid ones.
    """
    if name.startswith(FOLDER_PREFIX):
        path = name[len(FOLDER_PREFIX):]
        if not path:
            raise DatasetError("folder: needs a path, e.g. folder:~/data/celeba")
        return DatasetRef("folder", Path(path).expanduser())
    key = name.replace("-", "_").lower()
    if key not in _FIXED:
        raise DatasetError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DatasetRef(key)


def image_shape(name: str, image_size: int | None = None) -> tuple[int, int, int]:
    """(H, W, C) of the data set's images, without reading them."""
    ref = parse_dataset(name)
    if ref.kind == "folder":
        size = folder.DEFAULT_IMAGE_SIZE if image_size is None else image_size
        return (size, size, 3)
    shape = _FIXED[ref.kind][0]
    if image_size is not None and image_size != shape[0]:
        raise DatasetError(f"{ref.kind} images are {shape[0]}x{shape[1]}; an image size of {image_size} "
                           "applies to folder:PATH data sets only")
    return shape


def load_pixels(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``load_dataset``'s data before scaling: uint8 (N, H, W, C), read-only, and labels."""
    ref = parse_dataset(name)
    image_shape(name, image_size)  # refuses a size the data set does not have
    if ref.kind == "folder":
        if split != "train":
            raise DatasetError(f"an image folder has one split, 'train'; got {split!r}")
        if data_dir is not None:
            raise DatasetError("folder:PATH names its own folder; --data-dir is for mnist, fashion_mnist, cifar10")
        return folder.load_folder_uint8(ref.path, image_size or folder.DEFAULT_IMAGE_SIZE).pixels, None
    if ref.kind == "cifar10":
        return cifar10.load_cifar10_uint8(split, data_dir, download)
    files = mnist.mnist_files() if ref.kind == "mnist" else fashion_mnist.fashion_mnist_files()
    return idx.load_idx_uint8(files, split, data_dir, download)


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One split as ``(images, labels)``.

    Args:
        name: ``mnist``, ``fashion_mnist``, ``cifar10`` or ``folder:PATH``.
        split: ``train`` or ``test`` (a folder has ``train`` only).
        data_dir: where the files are (not for a folder, which names its own).
        image_size: a folder's side in pixels (default 64); the other data sets
            accept only their own size.
        download: fetch missing canonical files into the user cache.

    Returns:
        images: float32 (N, H, W, C) NHWC in [-1, 1], read-only;
        labels: int64 (N,), read-only, or None for a folder.

    Raises:
        DatasetError: unknown name, missing or corrupt files, a folder without
            readable images; the message says what to do.
        ValueError: an unknown split of a canonical data set.
    """
    ref = parse_dataset(name)
    if ref.kind == "mnist":
        image_shape(name, image_size)
        return mnist.load_mnist(split, data_dir=data_dir, download=download)  # byte for byte as before
    if ref.kind == "fashion_mnist":
        image_shape(name, image_size)
        return idx.load_idx(fashion_mnist.fashion_mnist_files(), split, data_dir, download)
    pixels, labels = load_pixels(name, split, data_dir, image_size, download)
    return scale_pixels(pixels), labels


def scale_pixels(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, H, W, C) -> float32 in [-1, 1], read-only: the same
    values as ``load_dataset`` (one table lookup, MNIST's scaling). Scaling
    only the rows a run trains on spares a worker converting all of MNIST's
    60,000 images (0.1-0.2 s and 190 MB) for a --train-size of a few hundred."""
    images = idx.PIXEL_TO_UNIT[pixels]
    images.flags.writeable = False
    return images
