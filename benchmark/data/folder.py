"""Any folder of JPEG or PNG images, searched recursively, as a square RGB data set.

Each image is prepared as pytorch/examples' dcgan prepares CelebA,
``transforms.Resize(size)`` then ``transforms.CenterCrop(size)`` on the PIL image
that torchvision's ``pil_loader`` opens (``Image.open(f).convert("RGB")``):

  1. the shorter side is resized to ``size`` with PIL's bilinear filter (PIL always
     antialiases), the longer to ``int(size * long / short)``; an image already
     that size is left alone;
  2. the central ``size`` x ``size`` square is cut, its top-left corner at
     ``int(round((h - size) / 2))``, ``int(round((w - size) / 2))``.

That is torchvision's definition, written out in PIL so that benchmark/ needs no
torchvision; tests/torch_impl/test_torch_input_pipeline.py checks it against
torchvision's transforms pixel for pixel.

Files are every ``.jpg``, ``.jpeg`` and ``.png`` (any case) under the folder,
following symbolic links as torchvision's ImageFolder does, hidden files and
folders (names starting with ".") left out, in the sorted order of their
relative paths: that order is the data set's index. A file that cannot be
decoded is skipped and named in a warning (``UnreadableImagesWarning``); a
folder with no readable image is an error.

Decoded, resized pixels are cached in the user cache,
``$XDG_CACHE_HOME/ganbench/folders/<key>.npy`` with ``<key>.json`` beside it,
under a key made from every file's relative path, size and mtime and the
target size, so a second run reads one file instead of decoding every image.
Both files are written atomically, the index last: an interrupted run leaves
no cache that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark import io
from benchmark.data.errors import DatasetError
from benchmark.data.idx import PIXEL_TO_UNIT

__all__ = [
    "IMAGE_EXTENSIONS", "DEFAULT_IMAGE_SIZE", "FolderData", "UnreadableImagesWarning",
    "list_images", "resize_center_crop", "decode_image", "load_folder", "load_folder_uint8", "cache_dir",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DEFAULT_IMAGE_SIZE = 64  # the DCGAN paper's 64x64
# Bump when the preparation above changes: old caches are then never read.
CACHE_VERSION = 1
# Names listed in the warning about unreadable files; the cache's index holds them all.
WARN_NAMES = 20


class UnreadableImagesWarning(UserWarning):
    """Some files in an image folder could not be decoded and were skipped."""


@dataclass(frozen=True)
class FolderData:
    """A prepared image folder.

    pixels: uint8 (N, size, size, 3), read-only (memory-mapped from the cache).
    files: the N readable files, relative to ``root``, in index order.
    skipped: (relative path, why) of every file that could not be decoded.
    """

    root: Path
    image_size: int
    pixels: np.ndarray
    files: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    key: str


def cache_dir() -> Path:
    return io.user_cache("folders")


def list_images(root: str | os.PathLike[str]) -> list[str]:
    """Relative POSIX paths of every JPEG and PNG under ``root``, sorted."""
    root = Path(root)
    found = []
    for directory, subdirs, names in os.walk(root, followlinks=True):
        subdirs[:] = [name for name in subdirs if not name.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(directory, name).relative_to(root).as_posix())
    return sorted(found)


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """torchvision's ``Resize(size)`` then ``CenterCrop(size)`` on a PIL image (see the module doc)."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.BILINEAR)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def decode_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """One file as uint8 (size, size, 3); raises what PIL raises for an unreadable file."""
    with Image.open(path) as image:
        image = image.convert("RGB")  # decodes the whole file: truncation raises here
    return np.asarray(resize_center_crop(image, size), dtype=np.uint8)


def load_folder_uint8(
    root: str | os.PathLike[str], image_size: int = DEFAULT_IMAGE_SIZE, workers: int | None = None
) -> FolderData:
    """Prepare (or read from the cache) every image under ``root``.

    Raises DatasetError when ``root`` is not a folder, holds no JPEG or PNG, or
    none of them can be decoded. Warns (UnreadableImagesWarning) naming the
    files it skipped, on every call, cached or not.
    """
    root = Path(root).expanduser()
    if image_size < 1:
        raise DatasetError(f"image size must be positive, got {image_size}")
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise DatasetError(f"image folder {root} {what}; pass folder:PATH with a folder of JPEG or PNG images")
    names = list_images(root)
    if not names:
        raise DatasetError(
            f"no JPEG or PNG files under {root} (searched recursively for "
            f"{', '.join(IMAGE_EXTENSIONS)}, any case, hidden files left out); point folder:PATH at your images"
        )
    key = _cache_key(root, names, image_size)
    data = _read_cache(root, key, image_size)
    if data is None:
        data = _prepare(root, names, image_size, key, workers)
    if data.skipped:
        _warn_skipped(root, data.skipped, cache_dir() / f"{key}.json")
    return data


def load_folder(
    root: str | os.PathLike[str], image_size: int = DEFAULT_IMAGE_SIZE
) -> tuple[np.ndarray, None]:
    """``(images, None)``: float32 (N, size, size, 3) in [-1, 1]; a folder has no labels."""
    pixels = load_folder_uint8(root, image_size).pixels
    return PIXEL_TO_UNIT[pixels], None


# --- preparing and caching ------------------------------------------------------------


def _cache_key(root: Path, names: list[str], image_size: int) -> str:
    entries = []
    for name in names:
        stat = (root / name).stat()
        entries.append((name, stat.st_size, stat.st_mtime_ns))
    identity = {"version": CACHE_VERSION, "image_size": image_size, "files": entries}
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:24]


def _read_cache(root: Path, key: str, image_size: int) -> FolderData | None:
    index_path, pixels_path = cache_dir() / f"{key}.json", cache_dir() / f"{key}.npy"
    try:
        index = io.read_json(index_path)
        pixels = np.load(pixels_path, mmap_mode="r")
    except (OSError, ValueError):
        return None  # missing or damaged: prepare again
    files = tuple(index.get("files", ()))
    if index.get("key") != key or pixels.shape != (len(files), image_size, image_size, 3) or pixels.dtype != np.uint8:
        return None
    skipped = tuple((name, why) for name, why in index.get("skipped", ()))
    return FolderData(root, image_size, pixels, files, skipped, key)


def _prepare(root: Path, names: list[str], image_size: int, key: str, workers: int | None) -> FolderData:
    pixels = np.empty((len(names), image_size, image_size, 3), dtype=np.uint8)
    failures: dict[int, str] = {}

    def work(i: int) -> None:
        try:
            pixels[i] = decode_image(root / names[i], image_size)
        # What PIL raises for unreadable files: unidentified or truncated (OSError),
        # broken headers (SyntaxError, ValueError), decompression bombs (its own Error).
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            failures[i] = f"{type(error).__name__}: {error}"

    # PIL releases the GIL while it decodes and resizes: threads use every core.
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(work, range(len(names))))
    skipped = tuple((names[i], failures[i]) for i in sorted(failures))
    if len(skipped) == len(names):
        listed = "\n".join(f"  - {name}: {why}" for name, why in skipped[:WARN_NAMES])
        more = f"\n  ... and {len(skipped) - WARN_NAMES} more" if len(skipped) > WARN_NAMES else ""
        raise DatasetError(f"no readable image under {root}: all {len(names)} JPEG/PNG files failed to "
                           f"decode:\n{listed}{more}\nCheck that the files are images and not damaged.")
    keep = np.array([i not in failures for i in range(len(names))])
    pixels = pixels[keep] if failures else pixels
    files = tuple(name for i, name in enumerate(names) if i not in failures)
    directory = cache_dir()
    io.write_npy(directory / f"{key}.npy", pixels)
    io.write_json(directory / f"{key}.json", {
        "key": key, "version": CACHE_VERSION, "root": str(root.absolute()), "image_size": image_size,
        "files": list(files), "skipped": [list(entry) for entry in skipped],
    })
    pixels.flags.writeable = False
    return FolderData(root, image_size, pixels, files, skipped, key)


def _warn_skipped(root: Path, skipped: tuple[tuple[str, str], ...], index_path: Path) -> None:
    listed = "\n".join(f"  - {name}: {why}" for name, why in skipped[:WARN_NAMES])
    more = (f"\n  ... and {len(skipped) - WARN_NAMES} more, all listed in {index_path}"
            if len(skipped) > WARN_NAMES else "")
    warnings.warn(f"skipped {len(skipped)} unreadable image file(s) under {root}; training uses the "
                  f"others:\n{listed}{more}", UnreadableImagesWarning, stacklevel=3)
