"""The native PyTorch input pipeline: torchvision datasets through a DataLoader with workers.

As pytorch/examples loads data: ``torchvision.datasets.MNIST`` / ``FashionMNIST`` /
``CIFAR10`` (``download=False``: ``benchmark.data.native`` lays out the verified
files) or ``ImageFolder`` with ``Resize(size)`` and ``CenterCrop(size)``, each
image then ``PILToTensor`` -> float32 -> ``Normalize(127.5, 127.5)``, i.e.
``(x - 127.5) / 127.5`` in float32, bit for bit the device pipeline's values
(``ToTensor`` + ``Normalize(0.5, 0.5)`` would differ in the last bit for 128 of
the 256 levels). The DataLoader's batch sampler yields the driver's batches
(``benchmark.driver.epoch_batches``), so both pipelines see the same images in
the same order. Mirrors ``tf_impl/input_pipeline.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torchvision import datasets, transforms
from torchvision.transforms import v2

from benchmark.data import folder, native
from benchmark.data.datasets import parse_dataset
from torch_impl.runner import nchw_tensor


class PlanSampler(Sampler[list[int]]):
    """Batches of indices from the driver's plan: (steps, n_critic, B) -> one list per step.

    The plan of the next epoch is set with ``set_plan`` before iterating; the
    DataLoader draws batches in the main process, so workers never see it.
    """

    def __init__(self) -> None:
        self.plan = np.zeros((0, 1, 1), np.int64)

    def set_plan(self, plan: np.ndarray) -> None:
        self.plan = np.asarray(plan, np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for step in self.plan:
            yield step.reshape(-1).tolist()

    def __len__(self) -> int:
        return len(self.plan)


def to_unit(channels: int) -> v2.Compose:
    """PIL image -> float32 (C, H, W) tensor in [-1, 1]: (x - 127.5) / 127.5."""
    return v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32, scale=False),
                       v2.Normalize([127.5] * channels, [127.5] * channels)])


def torchvision_dataset(name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                        image_size: int | None = None) -> torch.utils.data.Dataset:
    """The torchvision dataset for ``name``, in the device pipeline's index order."""
    ref = parse_dataset(name)
    if ref.kind == "folder":
        data = folder.load_folder_uint8(ref.path, image_size or folder.DEFAULT_IMAGE_SIZE)
        size = data.image_size
        # pytorch/examples' dcgan: transforms.Resize then transforms.CenterCrop, on PIL images.
        transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), to_unit(3)])
        return _DropLabel(datasets.ImageFolder(native.staged_folder(data) / "train", transform=transform))
    root = native.torchvision_root(name, data_dir)
    cls = getattr(datasets, native.TORCHVISION_CLASSES[ref.kind])
    return cls(root, train=split == "train", transform=to_unit(3 if ref.kind == "cifar10" else 1), download=False)


class _DropLabel(torch.utils.data.Dataset):
    """ImageFolder's class index is the staging folder's one class: a folder has no labels."""

    def __init__(self, dataset: datasets.ImageFolder) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.dataset[index][0], -1


class NativeInput:
    """The driver's batches through torchvision and a DataLoader.

    Args:
        workers: DataLoader worker processes (0: load in the main process).
        pin_memory: page-locked host batches, for a CUDA device.
    """

    def __init__(self, name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                 image_size: int | None = None, workers: int = 2, pin_memory: bool = False) -> None:
        self.dataset = torchvision_dataset(name, split, data_dir, image_size)
        self.sampler = PlanSampler()
        self.loader = DataLoader(self.dataset, batch_sampler=self.sampler, num_workers=workers,
                                 pin_memory=pin_memory, persistent_workers=workers > 0,
                                 prefetch_factor=4 if workers > 0 else None)

    def __len__(self) -> int:
        return len(self.dataset)

    def epoch(self, plan: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Per step of ``plan`` (steps, n_critic, B): images (n_critic * B, C, H, W) and labels (n_critic * B,)."""
        self.sampler.set_plan(plan)
        return iter(self.loader)

    def epochs(self, plans: Sequence[np.ndarray]) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        """``epoch(plan)`` for each plan, in turn; the workers persist between them."""
        return (self.epoch(plan) for plan in plans)


class DeviceInput:
    """The device pipeline's batches, for the same throughput measurement: the data set
    in one tensor, each step's images gathered by index."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, device: str = "cpu") -> None:
        self.images = nchw_tensor(images, device=device)  # the device pipeline's strides
        self.labels = torch.tensor(np.zeros(len(images), np.int64) if labels is None else labels, device=device)
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def epoch(self, plan: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for step in plan:
            indices = torch.from_numpy(np.ascontiguousarray(step.reshape(-1))).to(self.device)
            yield self.images[indices], self.labels[indices]
