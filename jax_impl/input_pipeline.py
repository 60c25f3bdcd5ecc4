"""The native JAX input pipeline: Grain's DataLoader, the loader the JAX ecosystem recommends.

Grain reads records by index from a random-access data source, transforms
them and batches them, in worker processes with ``worker_count`` > 0. Here a
record is one step of the driver's plan (``PlanSource``): its images, read
from the data set's own records and stacked in the plan's order, so the
DataLoader's ``SequentialSampler`` yields the driver's batches in order, as
torch's ``PlanSampler`` does. The records are MNIST's, Fashion-MNIST's and
CIFAR-10's verified uint8 pixels (the files ganbench checked, held in memory:
Grain's own sources, ArrayRecord files, would need a conversion these small
sets do not warrant), or an image folder's files, each decoded and
center-cropped when read by the device pipeline's own function
(``benchmark.data.folder.decode_image``), as torchvision's ImageFolder
decodes per item. Grain's ``MapTransform`` then scales them by
``(x - 127.5) / 127.5`` in float32, bit for bit the device pipeline's values.
Mirrors ``torch_impl/input_pipeline.py`` and ``tf_impl/input_pipeline.py``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence

import grain
import jax.numpy as jnp
import numpy as np
from absl import flags

from benchmark.data import folder
from benchmark.data.datasets import load_pixels, parse_dataset


class PlanSource(grain.sources.RandomAccessDataSource):
    """Record ``i``: step ``i`` of the plan (steps, n_critic * B): uint8 images
    (n_critic * B, H, W, C) and int64 labels (-1 for a folder, which has none).

    Either ``pixels`` (the data set in memory) or ``paths`` (files decoded to
    ``size`` per read) holds the records. Pickled to each worker process.
    """

    def __init__(self, plan: np.ndarray, labels: np.ndarray | None, pixels: np.ndarray | None = None,
                 paths: list[str] | None = None, size: int = 0) -> None:
        self.plan, self.labels, self.pixels, self.paths, self.size = plan, labels, pixels, paths, size

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, step: int) -> dict[str, np.ndarray]:
        indices = self.plan[step]
        if self.pixels is not None:
            images = self.pixels[indices]
        else:
            images = np.stack([folder.decode_image(self.paths[i], self.size) for i in indices])
        labels = np.full(len(indices), -1, np.int64) if self.labels is None else self.labels[indices]
        return {"images": images, "labels": labels}


class Scale(grain.transforms.Map):
    """uint8 -> float32 in [-1, 1]: (x - 127.5) / 127.5, the device pipeline's values."""

    def map(self, record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**record, "images": (record["images"].astype(np.float32) - np.float32(127.5)) / np.float32(127.5)}


class NativeInput:
    """The driver's batches through a Grain DataLoader.

    Args (torch's NativeInput's signature):
        workers: Grain worker processes (0: read in this process).
        pin_memory: ignored; JAX copies each batch to its device.
    """

    def __init__(self, name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                 image_size: int | None = None, workers: int = 2, pin_memory: bool = False) -> None:
        ref = parse_dataset(name)
        self.workers = workers
        # Grain's worker processes read its absl flags, which only an absl app
        # parses; ours is not one, so they take their defaults.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        if ref.kind == "folder":
            data = folder.load_folder_uint8(ref.path, image_size or folder.DEFAULT_IMAGE_SIZE)
            self.records = {"labels": None, "paths": [str(data.root / path) for path in data.files], "size": data.image_size}
            self.count = len(data.files)
        else:
            pixels, labels = load_pixels(name, split, data_dir)
            self.records = {"labels": None if labels is None else np.asarray(labels, np.int64), "pixels": pixels}
            self.count = len(pixels)

    def __len__(self) -> int:
        return self.count

    def epoch(self, plan: np.ndarray) -> Iterator[tuple[jnp.ndarray, jnp.ndarray]]:
        """Per step of ``plan`` (steps, n_critic, B): images (n_critic * B, H, W, C) float32 in
        [-1, 1] and labels (n_critic * B,) int64 (-1 for a folder), as JAX arrays."""
        return next(self.epochs([plan]))

    def epochs(self, plans: Sequence[np.ndarray]) -> Iterator[Iterator[tuple[jnp.ndarray, jnp.ndarray]]]:
        """``epoch(plan)`` for each plan, in turn, all read from one DataLoader
        over the plans' steps: Grain's workers take their source once, when the
        loader starts, so a loader per epoch started them again at every epoch
        (0.9 s before its first batch, MNIST on 2 cores), where torch's keep
        theirs (``persistent_workers``). Its prefetch runs on into the next epoch."""
        steps = [np.asarray(plan, np.int64).reshape(len(plan), -1) for plan in plans]
        if not steps:
            return
        loader = grain.DataLoader(data_source=PlanSource(np.concatenate(steps), **self.records),
                                  sampler=grain.samplers.SequentialSampler(sum(map(len, steps)),
                                                                           grain.sharding.NoSharding()),
                                  operations=[Scale()], worker_count=self.workers)
        records = iter(loader)
        for epoch in steps:
            yield (_as_jax(record) for record in itertools.islice(records, len(epoch)))


def _as_jax(record: dict[str, np.ndarray]) -> tuple[jnp.ndarray, jnp.ndarray]:
    return jnp.asarray(record["images"]), jnp.asarray(record["labels"])


class DeviceInput:
    """The device pipeline's batches, for the same throughput measurement: the data set
    in one JAX array, each step's images gathered by index."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        self.images = jnp.asarray(np.asarray(images, np.float32))
        self.labels = jnp.asarray(np.zeros(len(images), np.int64) if labels is None else labels)
        self.count = len(images)

    def __len__(self) -> int:
        return self.count

    def epoch(self, plan: np.ndarray) -> Iterator[tuple[jnp.ndarray, jnp.ndarray]]:
        for step in plan:
            indices = jnp.asarray(np.asarray(step).reshape(-1))
            yield self.images[indices], self.labels[indices]
