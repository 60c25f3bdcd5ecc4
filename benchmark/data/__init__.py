"""Datasets for the benchmark: MNIST, loaded with numpy only."""

from benchmark.data.mnist import MNISTError, MNISTNotFoundError, load_mnist, seeded_subset

__all__ = ["MNISTError", "MNISTNotFoundError", "load_mnist", "seeded_subset"]
