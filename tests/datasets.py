"""Small data sets that tests write themselves, in the canonical formats:
IDX files (MNIST, Fashion-MNIST), a CIFAR-10 python tarball, image folders."""

from __future__ import annotations

import gzip
import hashlib
import io
import multiprocessing
import pickle
import struct
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: magic (0x08 = ubyte, ndim), big-endian dims, the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">I{array.ndim}I", 0x0800 + array.ndim, *array.shape)
    return header + array.tobytes()


def write_idx_set(directory: Path, sizes: dict[str, int], seed: int = 0, gz: bool = True
                  ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Four IDX files of random 28x28 images; returns the arrays per split and the
    sha256 of each file as written (the .gz's when ``gz``)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays, digests = {}, {}
    for split, n in sizes.items():
        pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        arrays[split] = (pixels, labels)
        for stem, array in zip(IDX_STEMS[split], (pixels, labels)):
            data = idx_bytes(array)
            if gz:
                data = gzip.compress(data, mtime=0)
            (directory / (f"{stem}.gz" if gz else stem)).write_bytes(data)
            digests[stem] = hashlib.sha256(data).hexdigest()
    return arrays, digests


def _batch_pickle(pixels: np.ndarray, labels: np.ndarray, name: str) -> bytes:
    """A batch in CIFAR-10's layout: rows of 1024 red, 1024 green, 1024 blue bytes."""
    rows = pixels.transpose(0, 3, 1, 2).reshape(len(pixels), -1)
    return pickle.dumps({"batch_label": name, "labels": [int(v) for v in labels], "data": rows,
                         "filenames": [f"{name}_{i}.png" for i in range(len(labels))]}, protocol=2)


def write_cifar_tarball(directory: Path, per_batch: int = 4, seed: int = 0
                        ) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]], str, dict[str, str]]:
    """cifar-10-python.tar.gz with 5 training batches and a test batch of ``per_batch`` images.

    Returns (tarball, arrays per split, its sha256, md5 of each member).
    """
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    members, md5s, train = {}, {}, []
    arrays = {}
    for name in names:
        pixels = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch, dtype=np.int64)
        members[name] = _batch_pickle(pixels, labels, name)
        if name == "test_batch":
            arrays["test"] = (pixels, labels)
        else:
            train.append((pixels, labels))
    arrays["train"] = (np.concatenate([p for p, _ in train]), np.concatenate([l for _, l in train]))
    members["batches.meta"] = pickle.dumps({"label_names": ["airplane", "automobile", "bird", "cat", "deer",
                                                            "dog", "frog", "horse", "ship", "truck"],
                                            "num_cases_per_batch": per_batch, "num_vis": 3072}, protocol=2)
    directory.mkdir(parents=True, exist_ok=True)
    tarball = directory / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            md5s[name] = hashlib.md5(data).hexdigest()
    return tarball, arrays, hashlib.sha256(tarball.read_bytes()).hexdigest(), md5s


def write_image_folder(root: Path, seed: int = 0, corrupt: bool = True) -> dict[str, np.ndarray]:
    """A nested folder of PNG and JPEG images of several sizes and modes, plus
    (``corrupt``) a truncated JPEG and a text file named .png. Returns the RGB
    pixels of each readable file by relative path."""
    rng = np.random.default_rng(seed)
    written = {}
    specs = [  # (relative path, (width, height), PIL mode, format)
        ("a/face_000.png", (80, 96), "RGB", "PNG"),
        ("a/face_001.jpg", (96, 80), "RGB", "JPEG"),
        ("a/b/face_002.PNG", (64, 64), "L", "PNG"),
        ("a/b/face_003.jpeg", (70, 101), "RGB", "JPEG"),
        ("face_004.png", (50, 40), "RGBA", "PNG"),
        ("face_005.png", (33, 65), "P", "PNG"),
    ]
    for name, (width, height), mode, fmt in specs:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Smooth gradients plus noise: JPEG-like content, not only noise.
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                         (x + y) * 255 // max(1, width + height - 2)], axis=-1)
        pixels = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        if mode == "L":
            image = image.convert("L")
        elif mode == "RGBA":
            image = image.convert("RGBA")
        elif mode == "P":
            image = image.convert("P", palette=Image.ADAPTIVE, colors=32)
        image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        written[name] = np.asarray(Image.open(path).convert("RGB"))
    (root / ".hidden").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / ".hidden" / "ignored.png")
    (root / "notes.txt").write_text("not an image")
    if corrupt:
        good = (root / "a/face_001.jpg").read_bytes()
        (root / "a/truncated.jpg").write_bytes(good[: len(good) // 3])
        (root / "a/b/not_really.png").write_text("this is text, not a PNG")
    return written


def tiny_sources(tmp_path: Path, monkeypatch) -> dict[str, tuple[str, Path | None]]:
    """Small copies of every data set, the user cache under ``tmp_path``, their
    checksums patched in: {key: (data set name, data_dir)}. The IDX set stands
    for both MNIST and Fashion-MNIST (one machinery); ``folder`` has 2 corrupt files."""
    from benchmark.data import cifar10, fashion_mnist

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("GANBENCH_FASHION_MNIST_DIR", raising=False)
    monkeypatch.delenv("GANBENCH_CIFAR10_DIR", raising=False)
    _, digests = write_idx_set(tmp_path / "fashion", {"train": 24, "test": 6}, seed=1)
    monkeypatch.setattr(fashion_mnist, "GZ_SHA256", digests)
    _, _, sha256, md5s = write_cifar_tarball(tmp_path / "cifar", per_batch=5, seed=2)
    monkeypatch.setattr(cifar10, "TARBALL_SHA256", sha256)
    monkeypatch.setattr(cifar10, "BATCH_MD5", md5s)
    write_image_folder(tmp_path / "faces", seed=3)
    return {"fashion_mnist": ("fashion_mnist", tmp_path / "fashion"), "cifar10": ("cifar10", tmp_path / "cifar"),
            "folder": (f"folder:{tmp_path / 'faces'}", None)}


def with_native_input(source: tuple[str, Path | None], native_input: Callable, **options):
    """One of ``tiny_sources``'s sets as the device pipeline loads it, (images,
    labels), and a twin's ``NativeInput`` over the same files; and a plan of 3
    steps of 2 critic batches of 1 image, (steps, n_critic, B), in an order no
    sampler would give. The folder's two corrupt files' warnings are silenced
    (tests/benchmark/data/test_datasets.py names them)."""
    from benchmark.data import load_dataset

    name, data_dir = source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images, labels = load_dataset(name, data_dir=data_dir)
        native = native_input(name, data_dir=data_dir, **options)
    assert len(native) == len(images)
    plan = np.random.default_rng(0).permutation(len(images))[:6].reshape(3, 2, 1)[::-1]
    return images, labels, native, plan


def read_with_workers(epoch) -> tuple[list, set[int]]:
    """An epoch's batches, and this process's child processes while it was
    read (torch's DataLoader workers and Grain's are the standard library's
    processes), so that a test can see whether the next epoch reuses them."""
    batches = iter(epoch)
    first = next(batches)
    return [first, *batches], {process.pid for process in multiprocessing.active_children()}
