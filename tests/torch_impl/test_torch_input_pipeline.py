"""The native PyTorch pipeline (torchvision datasets, a DataLoader with a worker)
yields the device pipeline's batches, in the driver's order, bit for bit.
Mirrors tests/tf_impl/test_tf_input_pipeline.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.datasets import read_with_workers, tiny_sources, with_native_input

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch_impl.input_pipeline import DeviceInput, NativeInput  # noqa: E402


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    found = tiny_sources(tmp_path, monkeypatch)
    # torchvision checks CIFAR-10's files against its own md5 table: give it the tiny set's.
    from benchmark.data import cifar10

    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[name, cifar10.BATCH_MD5[name]] for name in cifar10.SPLIT_BATCHES["train"]])
    monkeypatch.setattr(cls, "test_list", [["test_batch", cifar10.BATCH_MD5["test_batch"]]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": cifar10.BATCH_MD5["batches.meta"]})
    return found


@pytest.mark.parametrize("key", ["fashion_mnist", "cifar10", "folder"])
def test_native_batches_are_the_device_batches(sources: dict, key: str) -> None:
    images, labels, native, plan = with_native_input(sources[key], NativeInput, workers=1)
    device = DeviceInput(images, labels)
    epochs = native.epochs([plan, plan[:1]])
    batches, workers = read_with_workers(next(epochs))
    assert len(batches) == len(plan)
    for step, (got, got_labels), (want, want_labels) in zip(plan, batches, device.epoch(plan)):
        assert got.dtype == torch.float32 and got.shape == (2, *images.shape[3:], *images.shape[1:3])
        assert torch.equal(got, want), f"step {step}: images differ"
        expected_labels = want_labels if labels is not None else torch.full((2,), -1)
        assert torch.equal(got_labels, expected_labels)
    again, workers_again = read_with_workers(next(epochs))  # the next epoch's plan
    assert len(again) == 1 and torch.equal(again[0][0], device.images[torch.from_numpy(plan[0].reshape(-1))])
    assert workers and workers_again == workers, "the DataLoader's workers started again for the next epoch"
