"""MNIST from the four canonical IDX files, with numpy and the standard library only.

Files are looked up, in order, in an explicit ``data_dir``, the directory named by
``GANBENCH_DATA_DIR``, the project-local ``data/mnist/`` and the user cache
``$XDG_CACHE_HOME/ganbench/mnist`` (``~/.cache/ganbench/mnist`` by default). Each
file may be gzip'd (``<name>.gz``) or raw. When no source holds the files they are
downloaded into the user cache. Every file read or downloaded is checked against
the sha256 of its decompressed bytes, so gzip wrappers from any mirror are accepted.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.io import user_cache

__all__ = [
    "SHA256",
    "MIRRORS",
    "MNISTError",
    "MNISTNotFoundError",
    "find_mnist_dir",
    "load_mnist",
    "seeded_subset",
]

SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Base URLs; a file is fetched from ``<mirror>/<stem>.gz``. Tried in order, once each.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DOWNLOAD_TIMEOUT_S = 5.0

DATA_DIR_ENV = "GANBENCH_DATA_DIR"
# benchmark/data/mnist.py -> the repository root is three levels up.
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
IMAGE_SIDE = 28
GZIP_MAGIC = b"\x1f\x8b"

# uint8 pixel -> x / 127.5 - 1, exact at both ends (0 -> -1.0, 255 -> 1.0).
_PIXEL_TO_UNIT = (np.arange(256, dtype=np.float64) / 127.5 - 1.0).astype(np.float32)

_HOW_TO_PROVIDE = (
    "Download the four files " + ", ".join(f"{stem}.gz" for stem in SHA256) + " "
    f"(e.g. from {MIRRORS[0]}) and pass --data-dir DIR or set GANBENCH_DATA_DIR=DIR "
    "(gzip'd or raw files both work)."
)


class MNISTError(RuntimeError):
    """MNIST files are missing, corrupt or malformed."""


class MNISTNotFoundError(MNISTError):
    """No source holds the MNIST files and none could be downloaded."""


def user_cache_dir() -> Path:
    """The per-user download cache, ``$XDG_CACHE_HOME/ganbench/mnist``."""
    return user_cache("mnist")


def find_mnist_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the first source directory that holds all four MNIST files, else None.

    An explicit ``data_dir`` is the only place considered when given.
    """
    stems = tuple(SHA256)
    for _, directory in _candidate_dirs(data_dir):
        if not _missing_files(directory, stems):
            return directory
    return None


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as ``(images, labels)``.

    images: float32 (N, 28, 28, 1), NHWC, values in [-1, 1]; labels: int64 (N,).
    Both arrays are read-only views of an in-process cache; copy them to modify.
    Raises MNISTNotFoundError when the files are nowhere and cannot be downloaded,
    MNISTError when a file is corrupt, and ValueError for an unknown split.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown MNIST split {split!r}; valid splits: {', '.join(SPLIT_FILES)}")
    stems = SPLIT_FILES[split]
    directory = _locate_split(stems, data_dir, download, mirrors)
    images_key, labels_key = (_file_key(directory, stem) for stem in stems)
    return _load_cached(images_key, labels_key)


def seeded_subset(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` distinct examples at random, reproducibly for a given ``seed``.

    When ``n`` covers the whole set the inputs are returned as they are.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    if n <= 0:
        raise ValueError(f"subset size must be positive, got n={n}")
    if n >= len(images):
        return images, labels
    indices = np.random.default_rng(seed).choice(len(images), size=n, replace=False)
    return images[indices], labels[indices]


# --- locating files -------------------------------------------------------------------


def _candidate_dirs(data_dir: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    """(description, directory) pairs in search order."""
    if data_dir is not None:
        return [("data_dir argument", Path(data_dir).expanduser())]
    candidates = []
    env_dir = os.environ.get(DATA_DIR_ENV)
    if env_dir:
        candidates.append((DATA_DIR_ENV, Path(env_dir).expanduser()))
    candidates.append(("project data dir", PROJECT_DATA_DIR))
    candidates.append(("user cache", user_cache_dir()))
    return candidates


def _existing_file(directory: Path, stem: str) -> Path | None:
    """The raw file if present, else the gzip'd one, else None."""
    for name in (stem, f"{stem}.gz"):
        path = directory / name
        if path.is_file():
            return path
    return None


def _missing_files(directory: Path, stems: Sequence[str]) -> list[str]:
    return [stem for stem in stems if _existing_file(directory, stem) is None]


def _describe_missing(directory: Path, stems: Sequence[str]) -> str:
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "not a directory"
    return "missing " + ", ".join(f"{stem}[.gz]" for stem in _missing_files(directory, stems))


def _locate_split(
    stems: Sequence[str],
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    mirrors: Sequence[str] | None,
) -> Path:
    """Directory holding ``stems``, downloading into the user cache if needed."""
    candidates = _candidate_dirs(data_dir)
    for _, directory in candidates:
        if not _missing_files(directory, stems):
            return directory

    looked_lines = [
        f"  - {label}: {directory} ({_describe_missing(directory, stems)})"
        for label, directory in candidates
    ]
    if data_dir is None and not os.environ.get(DATA_DIR_ENV):
        looked_lines.insert(0, f"  - {DATA_DIR_ENV}: (not set)")
    looked = "\n".join(looked_lines)
    if data_dir is not None:
        # An explicit choice that fails is a mistake to report, not to paper over.
        raise MNISTNotFoundError(
            f"MNIST files not found in the given data directory:\n{looked}\n{_HOW_TO_PROVIDE}"
        )
    if not download:
        raise MNISTNotFoundError(
            f"MNIST files not found and download is disabled. Looked in:\n{looked}\n{_HOW_TO_PROVIDE}"
        )

    cache_dir = user_cache_dir()
    mirror_list = list(MIRRORS if mirrors is None else mirrors)
    failures: list[str] = []
    for stem in _missing_files(cache_dir, stems):
        failures = _download(stem, cache_dir, mirror_list)
        if failures:
            break  # the other files would fail the same way; report within seconds
    if failures or _missing_files(cache_dir, stems):
        tried = "\n".join(failures) or "  - (no mirrors given)"
        raise MNISTNotFoundError(
            f"MNIST files not found and could not be downloaded.\nLooked in:\n{looked}\n"
            f"Tried mirrors:\n{tried}\n{_HOW_TO_PROVIDE}"
        )
    return cache_dir


# --- downloading ----------------------------------------------------------------------


def _download(stem: str, cache_dir: Path, mirrors: Sequence[str]) -> list[str]:
    """Fetch ``<stem>.gz`` into ``cache_dir`` from the first mirror that serves good bytes.

    Returns one line per failed mirror, or [] on success.
    """
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{stem}.gz"
        try:
            _download_verified(url, stem, cache_dir / f"{stem}.gz")
            return []
        # URLError and timeouts are OSErrors; ValueError: malformed URL; MNISTError: bad bytes.
        except (OSError, http.client.HTTPException, ValueError, MNISTError) as error:
            failures.append(f"  - {url}: {error}")
    return failures


def _download_verified(url: str, stem: str, destination: Path) -> None:
    """Download to a temp file beside ``destination``, verify, then rename into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Same directory so os.replace is atomic; a crash leaves at most a dot-file.
    fd, temp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=destination.parent)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as temp_file:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                while chunk := response.read(1 << 20):
                    temp_file.write(chunk)
        _read_verified(temp_path, stem, source=url)
        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)


# --- reading and decoding -------------------------------------------------------------


def _read_verified(path: Path, stem: str, source: str | None = None) -> bytes:
    """Decompressed bytes of ``path``, checked against ``SHA256[stem]``."""
    where = source or str(path)
    advice = (
        "the download was damaged"
        if source
        else f"delete {path} and download it again, or point --data-dir at good files"
    )
    try:
        raw = path.read_bytes()
        # Sniff rather than trust the name: raw IDX starts with 00 00, gzip with 1f 8b.
        data = gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise MNISTError(f"corrupt gzip file {where}: {error}; {advice}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[stem]:
        raise MNISTError(
            f"checksum mismatch for {where}: sha256 of the {len(data)} decompressed bytes is "
            f"{digest}, expected {SHA256[stem]}; {advice}"
        )
    return data


def _parse_idx(data: bytes, path: Path, magic: int, ndim: int) -> np.ndarray:
    """uint8 array shaped by the IDX header; ``magic`` encodes dtype and ndim."""
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise MNISTError(f"malformed IDX file {path}: {len(data)} bytes is shorter than its header")
    found_magic, *dims = struct.unpack(f">{1 + ndim}I", data[:header_size])
    if found_magic != magic:
        raise MNISTError(f"malformed IDX file {path}: magic number {found_magic}, expected {magic}")
    expected_size = header_size + int(np.prod(dims))
    if len(data) != expected_size:
        raise MNISTError(
            f"malformed IDX file {path}: header dims {tuple(dims)} need {expected_size} bytes, "
            f"file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def _decode_images(data: bytes, path: Path) -> np.ndarray:
    pixels = _parse_idx(data, path, IMAGES_MAGIC, ndim=3)  # (N, 28, 28) uint8
    if pixels.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise MNISTError(f"malformed IDX file {path}: images are {pixels.shape[1:]}, expected 28x28")
    # One table lookup converts and scales in a single pass.
    return _PIXEL_TO_UNIT[pixels][..., np.newaxis]  # (N, 28, 28, 1) float32


def _decode_labels(data: bytes, path: Path) -> np.ndarray:
    return _parse_idx(data, path, LABELS_MAGIC, ndim=1).astype(np.int64)  # (N,)


def _file_key(directory: Path, stem: str) -> tuple[str, int, int]:
    """Cache key that changes when the file is replaced: (absolute path, size, mtime_ns)."""
    path = _existing_file(directory, stem)
    if path is None:
        raise MNISTNotFoundError(f"{stem}[.gz] disappeared from {directory}")
    stat = path.stat()
    # Absolute, not resolved: the name must stay the stem even behind a symlink.
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


def _stem_of(path: Path) -> str:
    return path.name.removesuffix(".gz")


@functools.lru_cache(maxsize=4)  # train + test from up to two places; train is ~190 MB
def _load_cached(
    images_key: tuple[str, int, int], labels_key: tuple[str, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = Path(images_key[0]), Path(labels_key[0])
    images = _decode_images(_read_verified(images_path, _stem_of(images_path)), images_path)
    labels = _decode_labels(_read_verified(labels_path, _stem_of(labels_path)), labels_path)
    if len(images) != len(labels):
        raise MNISTError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
