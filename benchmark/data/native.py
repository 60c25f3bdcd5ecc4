"""What the frameworks' own loaders need on disk, made from the files ganbench verified.

``--input-pipeline native`` loads data the way each framework's users do:
torchvision's datasets (MNIST, FashionMNIST, CIFAR10, ImageFolder) and
tensorflow-datasets' builders. Both expect their own layouts and neither may
download here, so this module lays the verified files out for them, offline,
in the user cache (every file and folder written atomically):

- ``torchvision_root(name)``: a root where ``torchvision.datasets.<Class>(root,
  download=False)`` finds ``<Class>/raw/<files>`` (MNIST, FashionMNIST) or
  ``cifar-10-batches-py/`` (CIFAR10);
- ``tfds_manual_dir(name)``: the files a tensorflow-datasets builder reads from
  its ``manual_dir`` instead of downloading (the four ``.gz`` files; for
  CIFAR-10 the binary tarball its builder reads, written from the same pixels);
- ``staged_folder(data)``: an image folder as both frameworks' ImageFolder want
  it, ``<stage>/train/all/<index:08d><ext>``, symbolic links to the readable
  files in index order, so that sorted order is the device pipeline's order.

``order_by_content`` maps a loader's own order onto the device pipeline's.
"""

from __future__ import annotations

import gzip
import hashlib
import io as _io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from benchmark import io
from benchmark.data import cifar10, fashion_mnist, idx, mnist
from benchmark.data.datasets import load_pixels, parse_dataset
from benchmark.data.errors import DatasetError
from benchmark.data.folder import FolderData

__all__ = ["torchvision_root", "tfds_manual_dir", "staged_folder", "order_by_content", "TORCHVISION_CLASSES"]

TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def _idx_files(name: str) -> idx.IDXSet:
    return mnist.mnist_files() if name == "mnist" else fashion_mnist.fashion_mnist_files()


def _verified_idx_bytes(name: str, data_dir: str | os.PathLike[str] | None) -> dict[str, bytes]:
    """stem -> decompressed, verified bytes of all four files."""
    files = _idx_files(name)
    out = {}
    for split, stems in idx.SPLIT_STEMS.items():
        for stem, path in zip(stems, idx.locate_split(files, split, data_dir)):
            out[stem] = idx.read_verified(files, path, stem)
    return out


def _write_if_changed(path: Path, data: bytes) -> None:
    if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
        io.write_bytes(path, data)


def torchvision_root(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """A root from which ``torchvision.datasets.<Class>(root, download=False)`` reads ``name``."""
    kind = parse_dataset(name).kind
    root = io.user_cache("torchvision")
    if kind in ("mnist", "fashion_mnist"):
        raw = root / TORCHVISION_CLASSES[kind] / "raw"
        for stem, data in _verified_idx_bytes(kind, data_dir).items():
            _write_if_changed(raw / stem, data)
        return root
    if kind == "cifar10":
        source = cifar10.find_cifar10(data_dir)
        load_pixels("cifar10", "train", data_dir)  # verifies the checksums
        if source.is_dir():
            return source.parent
        target = root / cifar10.FOLDER
        if not all((target / name).is_file() for name in cifar10.BATCH_MD5):
            _extract_atomically(source, root)
        return root
    raise DatasetError(f"{name}: torchvision reads image folders with ImageFolder; use staged_folder")


def _extract_atomically(tarball: Path, root: Path) -> None:
    """Unpack the CIFAR tarball's folder into ``root`` through a temporary folder and a rename."""
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cifar-", dir=root))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            tar.extractall(scratch, filter="data")
        shutil.rmtree(root / cifar10.FOLDER, ignore_errors=True)
        os.replace(scratch / cifar10.FOLDER, root / cifar10.FOLDER)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def tfds_manual_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """A folder with the files tensorflow-datasets' ``name`` builder downloads, made from verified data.

    TFDS checks a file in its ``manual_dir`` against the sha256 of its own
    download; ganbench accepts recompressed copies (checked by content), so the
    caller prepares with checksum registration instead (``tf_impl.input_pipeline``).
    """
    kind = parse_dataset(name).kind
    folder = io.user_cache("tfds-manual") / kind
    if kind in ("mnist", "fashion_mnist"):
        for stem, data in _verified_idx_bytes(kind, data_dir).items():
            target = folder / f"{stem}.gz"
            try:
                same = gzip.decompress(target.read_bytes()) == data
            except (OSError, EOFError, gzip.BadGzipFile):
                same = False
            if not same:
                io.write_bytes(target, gzip.compress(data, mtime=0))
        return folder
    if kind == "cifar10":
        members = {}
        for split, names in cifar10.SPLIT_BATCHES.items():
            pixels, labels = load_pixels("cifar10", split, data_dir)
            start = 0
            for batch in names:
                count = len(pixels) // len(names)
                rows = pixels[start:start + count].transpose(0, 3, 1, 2).reshape(count, -1)  # planes
                records = np.concatenate([labels[start:start + count, None].astype(np.uint8), rows], axis=1)
                members[f"{batch}.bin"] = records.tobytes()  # 1 label byte + 3072 pixel bytes each
                start += count
        members["batches.meta.txt"] = ("\n".join(cifar10.CLASSES) + "\n").encode()
        digest = hashlib.sha256(b"".join(members[k] for k in sorted(members))).hexdigest()[:16]
        target = folder / "cifar-10-binary.tar.gz"
        stamp = folder / "cifar-10-binary.sha256"
        if not (target.is_file() and stamp.is_file() and stamp.read_text() == digest):
            buffer = _io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                for member, data in members.items():
                    info = tarfile.TarInfo(f"cifar-10-batches-bin/{member}")
                    info.size = len(data)
                    tar.addfile(info, _io.BytesIO(data))
            io.write_bytes(target, buffer.getvalue())
            io.write_text(stamp, digest)
        return folder
    raise DatasetError(f"{name}: tensorflow-datasets reads image folders with tfds.ImageFolder; use staged_folder")


def staged_folder(data: FolderData) -> Path:
    """``<stage>`` with ``train/all/<index:08d><ext>`` linking to each readable file, in index order.

    torchvision's ImageFolder opens ``<stage>/train``, tensorflow-datasets'
    ImageFolder ``<stage>``; both then list the files in the device pipeline's order.
    """
    stage = io.user_cache("folders") / f"{data.key}-staged"
    images = stage / "train" / "all"
    if images.is_dir() and len(os.listdir(images)) == len(data.files):
        return stage
    stage.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{data.key}-", dir=stage.parent))
    try:
        (scratch / "train" / "all").mkdir(parents=True)
        root = data.root.absolute()
        for i, name in enumerate(data.files):
            os.symlink(root / name, scratch / "train" / "all" / f"{i:08d}{Path(name).suffix.lower()}")
        shutil.rmtree(stage, ignore_errors=True)
        os.replace(scratch, stage)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return stage


def order_by_content(pixels: np.ndarray, labels: np.ndarray | None, other_pixels: np.ndarray,
                     other_labels: np.ndarray | None, where: str) -> np.ndarray:
    """``perm`` with ``other[perm[i]] == (pixels[i], labels[i])`` for every i.

    Exact duplicates are interchangeable (any assignment gives the same batches).
    Raises DatasetError when the two sets differ.
    """
    if other_pixels.shape != pixels.shape:
        raise DatasetError(f"{where} holds images {other_pixels.shape}, the verified files {pixels.shape}")

    def keys(array: np.ndarray, label: np.ndarray | None) -> list[bytes]:
        rows = array.reshape(len(array), -1)
        extra = np.zeros(len(array), np.int64) if label is None else np.asarray(label, np.int64)
        return [hashlib.sha1(row.tobytes() + int(y).to_bytes(8, "little")).digest() for row, y in zip(rows, extra)]

    positions: dict[bytes, list[int]] = {}
    for j, key in enumerate(keys(other_pixels, other_labels)):
        positions.setdefault(key, []).append(j)
    perm = np.empty(len(pixels), np.int64)
    for i, key in enumerate(keys(pixels, labels)):
        found = positions.get(key)
        if not found:
            raise DatasetError(f"{where} differs from the verified files: image {i} (and its label) is not in "
                               "it; delete it so that it is prepared again from the verified files")
        perm[i] = found.pop()
    return perm
