"""CIFAR-10 (Krizhevsky 2009) from the canonical python tarball, numpy and the standard library only.

Looked up, in order, in an explicit ``data_dir``, ``$GANBENCH_CIFAR10_DIR``,
``data/cifar10/`` and the user cache ``$XDG_CACHE_HOME/ganbench/cifar10``; each
may hold ``cifar-10-python.tar.gz`` (checked against its published sha256, the
digest Keras checks; torchvision checks its md5) or the folder it unpacks to,
``cifar-10-batches-py/`` (each file checked against torchvision's md5s, so a
torchvision root works). When none does, the tarball is downloaded into the
user cache, verified before it is renamed into place.

The batches are python pickles: they are read only after the checksum passed,
and through an unpickler that admits numpy arrays and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from benchmark.data import sources
from benchmark.data.errors import DatasetError, DatasetNotFoundError
from benchmark.data.idx import PIXEL_TO_UNIT
from benchmark.io import user_cache

__all__ = ["TARBALL", "TARBALL_SHA256", "TARBALL_MD5", "BATCH_MD5", "URLS", "CLASSES",
           "find_cifar10", "load_cifar10", "load_cifar10_uint8"]

TARBALL = "cifar-10-python.tar.gz"
TARBALL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TARBALL_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
# md5 of each file in the tarball's folder (torchvision's table); a folder needs them all.
BATCH_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",  # class names; torchvision reads it
}
SPLIT_BATCHES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
URLS: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
DATA_DIR_ENV = "GANBENCH_CIFAR10_DIR"
PROJECT_DATA_DIR = sources.PROJECT_DATA_ROOT / "cifar10"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIDE = 32


def user_cache_dir() -> Path:
    return user_cache("cifar10")


def find_cifar10(
    data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> Path:
    """The tarball or the ``cifar-10-batches-py`` folder to read, downloading the tarball if needed.

    Raises DatasetNotFoundError naming every place looked and every URL tried.
    """
    candidates = sources.candidate_dirs(data_dir, DATA_DIR_ENV, PROJECT_DATA_DIR, user_cache_dir())
    for _, directory in candidates:
        found = _source_in(directory)
        if found is not None:
            return found
    looked = sources.describe_looked(candidates, data_dir, DATA_DIR_ENV, _describe_missing)
    how = (f"Download {URLS[0]} (sha256 {TARBALL_SHA256}) and pass --data-dir DIR or set "
           f"{DATA_DIR_ENV}=DIR with the tarball, or the {FOLDER}/ folder it unpacks to, in DIR.")
    if data_dir is not None:
        raise DatasetNotFoundError(f"CIFAR-10 not found in the given data directory:\n{looked}\n{how}")
    if not download:
        raise DatasetNotFoundError(f"CIFAR-10 not found and download is disabled. Looked in:\n{looked}\n{how}")
    destination = user_cache_dir() / TARBALL
    failures = sources.try_mirrors(URLS, destination, lambda path, url: _verify_tarball(path, url))
    if failures:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found and could not be downloaded.\nLooked in:\n{looked}\n"
            f"Tried:\n" + "\n".join(failures) + f"\n{how}"
        )
    return destination


def load_cifar10_uint8(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One split's pixels, uint8 (N, 32, 32, 3) NHWC, and labels, int64 (N,); read-only.

    The training split is data_batch_1 .. data_batch_5 in that order (as torchvision
    and Keras concatenate them).
    """
    if split not in SPLIT_BATCHES:
        raise ValueError(f"unknown CIFAR-10 split {split!r}; valid splits: {', '.join(SPLIT_BATCHES)}")
    source = find_cifar10(data_dir, download)
    files = [source / name for name in SPLIT_BATCHES[split]] if source.is_dir() else [source]
    # Re-read when any file read is replaced: (path, size, mtime_ns) of each.
    stamps = tuple((str(path.absolute()), path.stat().st_size, path.stat().st_mtime_ns) for path in files)
    return _load_cached(str(source.absolute()), stamps, split)


def load_cifar10(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One split as read-only ``(images, labels)``: float32 (N, 32, 32, 3) in [-1, 1], int64 (N,)."""
    pixels, labels = load_cifar10_uint8(split, data_dir, download)
    images = PIXEL_TO_UNIT[pixels]
    images.flags.writeable = False
    return images, labels


# --- locating and verifying -----------------------------------------------------------


def _source_in(directory: Path) -> Path | None:
    for candidate in (directory / TARBALL, directory / FOLDER):
        if candidate.is_file() or (candidate.is_dir() and all((candidate / name).is_file() for name in BATCH_MD5)):
            return candidate
    return None


def _describe_missing(directory: Path) -> str:
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "not a directory"
    folder = directory / FOLDER
    if folder.is_dir():
        missing = [name for name in BATCH_MD5 if not (folder / name).is_file()]
        return f"no {TARBALL}; {FOLDER}/ lacks " + ", ".join(missing)
    return f"no {TARBALL} or {FOLDER}/"


def _digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            hasher.update(chunk)
    return hasher.hexdigest()


def _verify_tarball(path: Path, source: str | None = None) -> None:
    digest = _digest(path, "sha256")
    if digest != TARBALL_SHA256:
        advice = ("the download was damaged" if source
                  else f"delete {path} and download it again, or point --data-dir at a good copy")
        raise DatasetError(f"checksum mismatch for {source or path}: sha256 is {digest}, "
                           f"expected {TARBALL_SHA256}; {advice}")


def _verify_batch(path: Path, name: str) -> bytes:
    data = path.read_bytes()
    digest = hashlib.md5(data).hexdigest()
    if digest != BATCH_MD5[name]:
        raise DatasetError(f"checksum mismatch for {path}: md5 is {digest}, expected {BATCH_MD5[name]}; "
                           f"unpack {TARBALL} again, or point --data-dir at a good copy")
    return data


# --- decoding -------------------------------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits the globals a pickled numpy array needs, and refuses everything else."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3's protocol 2 writes bytes (tests' tarballs)
    })

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def _decode_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch pickle -> uint8 (n, 32, 32, 3) and int64 (n,)."""
    try:
        loaded = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        # Python 2 wrote the keys as str: bytes here; a Python 3 writer's are str.
        batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in loaded.items()}
        pixels = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise DatasetError(f"malformed CIFAR-10 batch {where}: {error}") from error
    if pixels.ndim != 2 or pixels.shape[1] != 3 * SIDE * SIDE or len(pixels) != len(labels):
        raise DatasetError(f"malformed CIFAR-10 batch {where}: data {pixels.shape}, {len(labels)} labels; "
                           f"expected (n, {3 * SIDE * SIDE}) and n labels")
    # Each row is the red plane, then green, then blue, each 32x32 row-major.
    return pixels.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1), labels


@functools.lru_cache(maxsize=2)
def _load_cached(source: str, stamps: tuple[tuple[str, int, int], ...], split: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    path = Path(source)
    names = SPLIT_BATCHES[split]
    raw: dict[str, bytes] = {}
    if path.is_dir():
        raw = {name: _verify_batch(path / name, name) for name in names}
    else:
        _verify_tarball(path)
        try:
            with tarfile.open(path, "r:gz") as tar:
                for name in names:
                    member = tar.extractfile(f"{FOLDER}/{name}")
                    if member is None:
                        raise KeyError(name)
                    raw[name] = member.read()
        except (tarfile.TarError, KeyError, OSError, EOFError) as error:
            raise DatasetError(f"{path} lacks or cannot read {FOLDER}/{error}; delete it and download it again")
    batches = [_decode_batch(raw[name], f"{path}:{name}") for name in names]
    pixels = np.ascontiguousarray(np.concatenate([b[0] for b in batches]))
    labels = np.concatenate([b[1] for b in batches])
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels
