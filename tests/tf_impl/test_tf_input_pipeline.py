"""The native TensorFlow pipeline (tensorflow-datasets' builders prepared offline,
tfds.ImageFolder's layout, tf.data with prefetch) yields the device pipeline's
batches, in the driver's order, bit for bit. Mirrors tests/torch_impl/test_torch_input_pipeline.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.datasets import tiny_sources, with_native_input

tf = pytest.importorskip("tensorflow")
tfds = pytest.importorskip("tensorflow_datasets")
from tf_impl.input_pipeline import DeviceInput, NativeInput  # noqa: E402

# tf.data iterators freed when the module ends (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("frees_tf_data_iterators")


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    # TFDS' MNIST builders read a fixed number of images from each file: the tiny set's.
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 24)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 6)
    return tiny_sources(tmp_path, monkeypatch)


@pytest.mark.parametrize("key", ["fashion_mnist", "cifar10", "folder"])
def test_native_batches_are_the_device_batches(sources: dict, key: str) -> None:
    images, labels, native, plan = with_native_input(sources[key], NativeInput)
    device = DeviceInput(images, labels)
    epochs = native.epochs([plan, plan[:1]])
    batches = list(next(epochs))
    assert len(batches) == len(plan)
    for step, (got, got_labels), (want, want_labels) in zip(plan, batches, device.epoch(plan)):
        assert got.dtype == tf.float32 and tuple(got.shape) == (2, *images.shape[1:])
        assert np.array_equal(got.numpy(), want.numpy()), f"step {step}: images differ"
        expected = want_labels.numpy() if labels is not None else np.full(2, -1)
        assert np.array_equal(got_labels.numpy(), expected)
    again = list(next(epochs))  # the next epoch's plan
    assert len(again) == 1 and np.array_equal(again[0][0].numpy(), device.images.numpy()[plan[0].reshape(-1)])


def test_a_prepared_builder_is_reused_and_nothing_is_downloaded(sources: dict, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    name, data_dir = sources["fashion_mnist"]
    NativeInput(name, data_dir=data_dir)

    def no_download(*args, **kwargs):
        raise AssertionError("tensorflow-datasets tried to download or prepare again")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    again = NativeInput(name, data_dir=data_dir, split="test")
    assert len(again) == 6
