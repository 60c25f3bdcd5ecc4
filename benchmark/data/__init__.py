"""Datasets for the benchmark, loaded with numpy, PIL and the standard library:
MNIST, Fashion-MNIST, CIFAR-10 and any folder of images (``load_dataset``)."""

from benchmark.data.datasets import (
    DATASETS, DatasetRef, image_shape, load_dataset, load_pixels, parse_dataset, scale_pixels,
)
from benchmark.data.errors import DatasetError, DatasetNotFoundError
from benchmark.data.folder import UnreadableImagesWarning
from benchmark.data.mnist import MNISTError, MNISTNotFoundError, load_mnist, seeded_subset, subset_indices

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetRef",
    "MNISTError",
    "MNISTNotFoundError",
    "UnreadableImagesWarning",
    "image_shape",
    "load_dataset",
    "load_mnist",
    "load_pixels",
    "parse_dataset",
    "scale_pixels",
    "seeded_subset",
    "subset_indices",
]
