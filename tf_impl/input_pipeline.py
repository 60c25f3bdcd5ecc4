"""The native TensorFlow input pipeline: tensorflow-datasets and tf.data with prefetch.

MNIST, Fashion-MNIST and CIFAR-10 come from tensorflow-datasets' own builders
(``tfds.builder(name)``), read from a prepared data directory; when the data is
not prepared yet it is prepared offline from the files ganbench verified
(``benchmark.data.native.tfds_manual_dir``), never downloaded. The split is
read whole (``as_dataset(batch_size=-1)``, as TFDS suggests for small data) and
its examples, which TFDS stores in its own shuffled order, are matched to the
device pipeline's order by content. An image folder is laid out as
``tfds.ImageFolder`` wants it (``benchmark.data.native.staged_folder``) and its
files are read and decoded by tf.data, JPEG with ``dct_method="INTEGER_ACCURATE"``
(libjpeg's ISLOW, which PIL uses; TF's default INTEGER_FAST differs by up to 5
levels), then cropped and resized by the device pipeline's own function (PIL's
bilinear filter through ``tf.numpy_function``: ``tf.image.resize`` has no
filter that gives PIL's pixels).

Either way a ``tf.data`` pipeline maps each step of the driver's plan to its
images, scales them by ``(x - 127.5) / 127.5`` in float32 (the device
pipeline's values bit for bit) and prefetches. Mirrors ``torch_impl/input_pipeline.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmark.data import folder, native
from benchmark.data.datasets import load_pixels, parse_dataset
from benchmark.data.errors import DatasetError
from benchmark.io import user_cache

TFDS_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}


def tfds_data_dir() -> Path:
    """Where ganbench prepares tensorflow-datasets' builders: ``$XDG_CACHE_HOME/ganbench/tfds``."""
    return user_cache("tfds")


def prepared_builder(name: str, data_dir: str | os.PathLike[str] | None = None,
                     tfds_dir: str | os.PathLike[str] | None = None):
    """tensorflow-datasets' builder for ``name``, prepared, without any download.

    ``tfds_dir``: a TFDS data directory that may already hold the prepared data
    set (e.g. ``~/tensorflow_datasets``); otherwise it is prepared in
    ``tfds_data_dir()`` from the verified files.
    """
    import tensorflow_datasets as tfds

    kind = parse_dataset(name).kind
    for candidate in ([Path(tfds_dir).expanduser()] if tfds_dir else []) + [tfds_data_dir()]:
        builder = tfds.builder(TFDS_NAMES[kind], data_dir=str(candidate))
        if builder.is_prepared():
            return builder
    manual = native.tfds_manual_dir(kind, data_dir)
    builder = _offline_builder_class(type(builder), manual)(data_dir=str(tfds_data_dir()))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    return tfds.builder(TFDS_NAMES[kind], data_dir=str(tfds_data_dir()))


def _offline_builder_class(base: type, manual: Path) -> type:
    """``base`` (a TFDS builder class) expecting the checksums of the files in ``manual``.

    Every file its download would fetch is in ``manual``, so nothing is
    downloaded. TFDS checks a manual file against the sha256 of its original
    download; ganbench verified the content and accepts recompressed copies, so
    this class expects the sha256 of the files that are there. It writes the
    same data set, under the same name and version, as ``base`` does.
    """
    from tensorflow_datasets.core.download import checksums

    expected = {}
    for url, info in (base.url_infos or {}).items():
        path = manual / info.filename
        if not path.is_file():
            raise DatasetError(f"{path} is missing: tensorflow-datasets would download {url}")
        computed = checksums.compute_url_info(path)
        expected[url] = checksums.UrlInfo(size=computed.size, checksum=computed.checksum, filename=info.filename)

    class Offline(base, skip_registration=True):
        name = base.name
        url_infos = expected

    return Offline


class NativeInput:
    """The driver's batches through tensorflow-datasets and tf.data.

    Args (beyond torch's NativeInput, whose signature this shares):
        workers, pin_memory: ignored; tf.data loads with its own thread pool
            (AUTOTUNE) inside this process, and there is no host pinning to ask for.
        tfds_dir: where tensorflow-datasets prepares its files (default: a cache folder).
    """

    def __init__(self, name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                 image_size: int | None = None, workers: int = 2, pin_memory: bool = False,
                 tfds_dir: str | os.PathLike[str] | None = None) -> None:
        ref = parse_dataset(name)
        if ref.kind == "folder":
            self._init_folder(ref.path, image_size or folder.DEFAULT_IMAGE_SIZE)
        else:
            self._init_builder(name, split, data_dir, tfds_dir)

    def _init_builder(self, name: str, split: str, data_dir, tfds_dir) -> None:
        import tensorflow_datasets as tfds

        builder = prepared_builder(name, data_dir, tfds_dir)
        loaded = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
        pixels, labels = load_pixels(name, split, data_dir)
        perm = native.order_by_content(pixels, labels, loaded["image"], loaded["label"],
                                       f"tensorflow-datasets' {builder.name} in {builder.data_dir}")
        # Row i of these is the device pipeline's image i.
        self.images = tf.constant(loaded["image"][perm])  # uint8 (N, H, W, C)
        self.labels = tf.constant(loaded["label"][perm].astype(np.int64))
        self.count = len(perm)
        self._load_one = None
        self._load = lambda indices: (tf.gather(self.images, indices), tf.gather(self.labels, indices))

    def _init_folder(self, root: Path, size: int) -> None:
        import tensorflow_datasets as tfds

        data = folder.load_folder_uint8(root, size)
        stage = native.staged_folder(data)
        builder = tfds.ImageFolder(str(stage), shape=(None, None, 3))
        found = builder.info.splits["train"].num_examples
        if found != len(data.files):
            raise DatasetError(f"tfds.ImageFolder finds {found} images in {stage}, expected {len(data.files)}")
        paths = sorted(str(path) for path in (stage / "train" / "all").iterdir())
        self.paths = tf.constant(paths)
        self.count = len(paths)

        def crop(image: np.ndarray) -> np.ndarray:
            from PIL import Image

            return np.asarray(folder.resize_center_crop(Image.fromarray(image), size), np.uint8)

        def load_one(index: tf.Tensor) -> tf.Tensor:
            raw = tf.io.read_file(tf.gather(self.paths, index))
            image = tf.cond(tf.io.is_jpeg(raw),
                            lambda: tf.io.decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE"),
                            lambda: tf.io.decode_png(raw, channels=3))
            image = tf.numpy_function(crop, [image], tf.uint8, stateful=False)
            return tf.ensure_shape(image, (size, size, 3))

        self._load_one = load_one

    def __len__(self) -> int:
        return self.count

    def epoch(self, plan: np.ndarray) -> tf.data.Dataset:
        """Per step of ``plan`` (steps, n_critic, B): images (n_critic * B, H, W, C) float32 in
        [-1, 1] and labels (n_critic * B,) int64; -1 for a folder, which has none."""
        steps = np.asarray(plan, np.int64).reshape(len(plan), -1)

        def scaled(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return (tf.cast(images, tf.float32) - 127.5) / 127.5, labels

        if self._load_one is not None:  # files: decode image by image in parallel, then batch
            load_one = self._load_one
            dataset = (tf.data.Dataset.from_tensor_slices(steps.reshape(-1))
                       .map(lambda i: (load_one(i), tf.constant(-1, tf.int64)),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                       .batch(steps.shape[1]))
        else:  # a tensor in memory: one gather per step
            dataset = tf.data.Dataset.from_tensor_slices(steps).map(self._load)  # sequential: in order
        return dataset.map(scaled, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)

    def epochs(self, plans: Sequence[np.ndarray]) -> Iterator[tf.data.Dataset]:
        """``epoch(plan)`` for each plan, in turn (tf.data's threads live in this process)."""
        return (self.epoch(plan) for plan in plans)


class DeviceInput:
    """The device pipeline's batches, for the same throughput measurement: the data set
    in one Variable, each step's images gathered by index."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, device: str = "/CPU:0") -> None:
        with tf.device(device):
            self.images = tf.Variable(np.asarray(images, np.float32), trainable=False)
            self.labels = tf.Variable(np.zeros(len(images), np.int64) if labels is None else labels, trainable=False)
        self.count = len(images)

    def __len__(self) -> int:
        return self.count

    def epoch(self, plan: np.ndarray):
        for step in plan:
            indices = tf.constant(np.asarray(step, np.int64).reshape(-1))
            yield tf.gather(self.images, indices), tf.gather(self.labels, indices)
