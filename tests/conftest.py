"""Shared fixtures. Real MNIST comes through the project's data-directory
option: GANBENCH_DATA_DIR (CI sets it to ../shared/mnist)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# In a process that holds both frameworks, torch and the triton it loads lazily
# (torch._dynamo, reached from torch.optim) must come before tensorflow: the
# other order segfaults. Test modules may then import either.
try:
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
except ImportError:
    pass


def mnist_dir() -> str | None:
    """GANBENCH_DATA_DIR, else ../shared/mnist beside the checkout, else None."""
    for candidate in (os.environ.get("GANBENCH_DATA_DIR"), REPO_ROOT.parent / "shared" / "mnist"):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_data_dir() -> str:
    path = mnist_dir()
    if path is None:
        pytest.skip("real MNIST not found: set GANBENCH_DATA_DIR to a folder with the four IDX files")
    return path


@pytest.fixture(scope="session")
def mnist_train(mnist_data_dir):
    from benchmark.data import load_mnist

    return load_mnist("train", data_dir=mnist_data_dir)
