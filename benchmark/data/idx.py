"""Data sets stored as four IDX files (MNIST, Fashion-MNIST), numpy and the standard library only.

An ``IDXSet`` names the files, their checksums and mirrors; ``load_idx`` finds
them (``benchmark.data.sources``' search order), downloads them when nowhere,
verifies and decodes them. Each file may be gzip'd (``<stem>.gz``) or raw. A
file is accepted when the sha256 of its decompressed bytes is the canonical
one or, where only the canonical ``.gz`` file's digest is published, when it is
that very ``.gz`` file.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data import sources
from benchmark.data.errors import DatasetError, DatasetNotFoundError

__all__ = ["IDXSet", "SPLIT_STEMS", "PIXEL_TO_UNIT", "find_dir", "load_idx", "load_idx_uint8", "locate_split"]

SPLIT_STEMS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
IMAGE_SIDE = 28
GZIP_MAGIC = b"\x1f\x8b"

# uint8 pixel -> x / 127.5 - 1, exact at both ends (0 -> -1.0, 255 -> 1.0). Bit for bit
# the float32 (x - 127.5) / 127.5 that the native pipelines compute (tested).
PIXEL_TO_UNIT = (np.arange(256, dtype=np.float64) / 127.5 - 1.0).astype(np.float32)


@dataclass(frozen=True)
class IDXSet:
    """Facts of one IDX data set.

    sha256: stem -> sha256 of the decompressed file (empty where unpublished).
    gz_sha256: stem -> sha256 of the canonical ``<stem>.gz``.
    mirrors: base URLs; a file is fetched from ``<mirror>/<stem>.gz``, in order, once each.
    error, not_found: the exception types raised (MNIST keeps its own).
    """

    name: str
    title: str
    sha256: Mapping[str, str]
    gz_sha256: Mapping[str, str]
    mirrors: Sequence[str]
    env_var: str
    project_dir: Path
    cache_dir: Path
    error: type[DatasetError] = DatasetError
    not_found: type[DatasetError] = DatasetNotFoundError

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(stem for pair in SPLIT_STEMS.values() for stem in pair)

    def how_to_provide(self) -> str:
        mirror = f" (e.g. from {self.mirrors[0]})" if self.mirrors else ""
        form = ("gzip'd or raw files both work" if self.sha256
                else "the original .gz files: their sha256 is what is checked")
        return (f"Download the four files {', '.join(f'{stem}.gz' for stem in self.stems)}{mirror} "
                f"and pass --data-dir DIR or set {self.env_var}=DIR ({form}).")

    def digests(self, stem: str) -> tuple[str | None, str | None]:
        return self.sha256.get(stem), self.gz_sha256.get(stem)


def find_dir(files: IDXSet, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first source directory that holds all four files, else None."""
    for _, directory in _candidates(files, data_dir):
        if not _missing_files(files, directory, files.stems):
            return directory
    return None


def load_idx(
    files: IDXSet,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One split as ``(images, labels)``: float32 (N, 28, 28, 1) in [-1, 1], int64 (N,).

    Read-only views of an in-process cache. Raises ``files.not_found`` when the
    files are nowhere and cannot be downloaded, ``files.error`` when one is
    corrupt, ValueError for an unknown split.
    """
    images_key, labels_key = _split_keys(files, split, data_dir, download)
    return _load_cached(images_key, labels_key, _verification(files, split), files.error)


def load_idx_uint8(
    files: IDXSet, split: str = "train", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One split's raw pixels, uint8 (N, 28, 28, 1), and int64 labels (N,), read-only."""
    images_key, labels_key = _split_keys(files, split, data_dir, download)
    return _load_cached_uint8(images_key, labels_key, _verification(files, split), files.error)


def locate_split(
    files: IDXSet, split: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[Path, Path]:
    """Paths of one split's (images, labels) files, downloading them if needed."""
    images_key, labels_key = _split_keys(files, split, data_dir, download)
    return Path(images_key[0]), Path(labels_key[0])


def read_verified(files: IDXSet, path: Path, stem: str, source: str | None = None) -> bytes:
    """Decompressed bytes of ``path``, checked against the set's digests for ``stem``."""
    return _read_verified(path, stem, files.digests(stem), files.error, source)


# --- locating files -------------------------------------------------------------------


def _candidates(files: IDXSet, data_dir: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    return sources.candidate_dirs(data_dir, files.env_var, files.project_dir, files.cache_dir)


def existing_file(files: IDXSet, directory: Path, stem: str) -> Path | None:
    """The file a set can verify: raw first when its decompressed digest is known, else the .gz."""
    names = (stem, f"{stem}.gz") if files.sha256.get(stem) else (f"{stem}.gz", stem)
    for name in names:
        path = directory / name
        if path.is_file():
            return path
    return None


def _missing_files(files: IDXSet, directory: Path, stems: Sequence[str]) -> list[str]:
    return [stem for stem in stems if existing_file(files, directory, stem) is None]


def _describe_missing(files: IDXSet, directory: Path, stems: Sequence[str]) -> str:
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "not a directory"
    return "missing " + ", ".join(f"{stem}[.gz]" for stem in _missing_files(files, directory, stems))


def _split_keys(
    files: IDXSet, split: str, data_dir: str | os.PathLike[str] | None, download: bool
) -> tuple[tuple[str, int, int], tuple[str, int, int]]:
    if split not in SPLIT_STEMS:
        raise ValueError(f"unknown {files.title} split {split!r}; valid splits: {', '.join(SPLIT_STEMS)}")
    stems = SPLIT_STEMS[split]
    directory = _locate(files, stems, data_dir, download)
    images_key, labels_key = (_file_key(files, directory, stem) for stem in stems)
    return images_key, labels_key


def _locate(
    files: IDXSet, stems: Sequence[str], data_dir: str | os.PathLike[str] | None, download: bool
) -> Path:
    """Directory holding ``stems``, downloading into the user cache if needed."""
    candidates = _candidates(files, data_dir)
    for _, directory in candidates:
        if not _missing_files(files, directory, stems):
            return directory

    looked = sources.describe_looked(candidates, data_dir, files.env_var,
                                     lambda directory: _describe_missing(files, directory, stems))
    how = files.how_to_provide()
    if data_dir is not None:
        # An explicit choice that fails is a mistake to report, not to paper over.
        raise files.not_found(f"{files.title} files not found in the given data directory:\n{looked}\n{how}")
    if not download:
        raise files.not_found(
            f"{files.title} files not found and download is disabled. Looked in:\n{looked}\n{how}"
        )

    failures: list[str] = []
    for stem in _missing_files(files, files.cache_dir, stems):
        urls = [f"{mirror.rstrip('/')}/{stem}.gz" for mirror in files.mirrors]
        failures = sources.try_mirrors(
            urls, files.cache_dir / f"{stem}.gz",
            lambda path, url, stem=stem: read_verified(files, path, stem, source=url))
        if failures:
            break  # the other files would fail the same way; report within seconds
    if failures or _missing_files(files, files.cache_dir, stems):
        tried = "\n".join(failures) or "  - (no mirrors given)"
        raise files.not_found(
            f"{files.title} files not found and could not be downloaded.\nLooked in:\n{looked}\n"
            f"Tried mirrors:\n{tried}\n{how}"
        )
    return files.cache_dir


# --- reading and decoding -------------------------------------------------------------


def _verification(files: IDXSet, split: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """(stem, decompressed sha256, gz sha256) of a split's files: the cache's hashable key."""
    return tuple((stem, *files.digests(stem)) for stem in SPLIT_STEMS[split])


def _read_verified(
    path: Path, stem: str, digests: tuple[str | None, str | None], error: type[DatasetError],
    source: str | None = None,
) -> bytes:
    """Decompressed bytes of ``path``, checked against (decompressed sha256, gz sha256)."""
    sha256, gz_sha256 = digests
    where = source or str(path)
    advice = (
        "the download was damaged"
        if source
        else f"delete {path} and download it again, or point --data-dir at good files"
    )
    raw = path.read_bytes()
    # Sniff rather than trust the name: raw IDX starts with 00 00, gzip with 1f 8b.
    is_gzip = raw[:2] == GZIP_MAGIC
    if is_gzip and gz_sha256 is not None and hashlib.sha256(raw).hexdigest() == gz_sha256:
        verified = True
    else:
        verified = False
    try:
        data = gzip.decompress(raw) if is_gzip else raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise error(f"corrupt gzip file {where}: {exc}; {advice}") from exc
    if verified:
        return data
    if sha256 is None:
        raise error(
            f"checksum mismatch for {where}: only the canonical {stem}.gz can be verified (sha256 "
            f"{gz_sha256}), and this file's sha256 is {hashlib.sha256(raw).hexdigest()}; {advice}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise error(
            f"checksum mismatch for {where}: sha256 of the {len(data)} decompressed bytes is "
            f"{digest}, expected {sha256}; {advice}"
        )
    return data


def parse_idx(data: bytes, path: Path, magic: int, ndim: int, error: type[DatasetError]) -> np.ndarray:
    """uint8 array shaped by the IDX header; ``magic`` encodes dtype and ndim."""
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise error(f"malformed IDX file {path}: {len(data)} bytes is shorter than its header")
    found_magic, *dims = struct.unpack(f">{1 + ndim}I", data[:header_size])
    if found_magic != magic:
        raise error(f"malformed IDX file {path}: magic number {found_magic}, expected {magic}")
    expected_size = header_size + int(np.prod(dims))
    if len(data) != expected_size:
        raise error(
            f"malformed IDX file {path}: header dims {tuple(dims)} need {expected_size} bytes, "
            f"file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def decode_pixels(data: bytes, path: Path, error: type[DatasetError] = DatasetError) -> np.ndarray:
    pixels = parse_idx(data, path, IMAGES_MAGIC, 3, error)  # (N, 28, 28) uint8
    if pixels.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise error(f"malformed IDX file {path}: images are {pixels.shape[1:]}, expected 28x28")
    return pixels[..., np.newaxis]  # (N, 28, 28, 1)


def decode_labels(data: bytes, path: Path, error: type[DatasetError] = DatasetError) -> np.ndarray:
    return parse_idx(data, path, LABELS_MAGIC, 1, error).astype(np.int64)  # (N,)


def _file_key(files: IDXSet, directory: Path, stem: str) -> tuple[str, int, int]:
    """Cache key that changes when the file is replaced: (absolute path, size, mtime_ns)."""
    path = existing_file(files, directory, stem)
    if path is None:
        raise files.not_found(f"{stem}[.gz] disappeared from {directory}")
    stat = path.stat()
    # Absolute, not resolved: the name must stay the stem even behind a symlink.
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)  # train + test from up to two places; MNIST's train is ~190 MB
def _load_cached(
    images_key: tuple[str, int, int], labels_key: tuple[str, int, int],
    verification: tuple[tuple[str, str | None, str | None], ...], error: type[DatasetError],
) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = _load_cached_uint8(images_key, labels_key, verification, error)
    # One table lookup converts and scales in a single pass.
    images = PIXEL_TO_UNIT[pixels]  # (N, 28, 28, 1) float32
    images.flags.writeable = False
    return images, labels


@functools.lru_cache(maxsize=4)
def _load_cached_uint8(
    images_key: tuple[str, int, int], labels_key: tuple[str, int, int],
    verification: tuple[tuple[str, str | None, str | None], ...], error: type[DatasetError],
) -> tuple[np.ndarray, np.ndarray]:
    (images_stem, *images_digests), (labels_stem, *labels_digests) = verification
    images_path, labels_path = Path(images_key[0]), Path(labels_key[0])
    pixels = decode_pixels(_read_verified(images_path, images_stem, tuple(images_digests), error),
                           images_path, error)
    labels = decode_labels(_read_verified(labels_path, labels_stem, tuple(labels_digests), error),
                           labels_path, error)
    if len(pixels) != len(labels):
        raise error(f"{images_path} holds {len(pixels)} images but {labels_path} holds {len(labels)} labels")
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels
