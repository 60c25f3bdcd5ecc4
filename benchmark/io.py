"""Atomic file writes: a temporary file beside the target, then a rename, so a
results directory never holds a truncated file, whatever kills the process.
A write that fails raises OSError naming the target; `is_disk_error` tells a
full, over-quota or read-only disk from a bug."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import numpy as np


# Write failures that are the disk's, not the benchmark's: the remedy is space
# (or a writable mount) and `--resume`, not a bug report.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# Below this much free space a failed write is put down to a full disk even when
# the writer lost the errno (torch.save raises a bare RuntimeError).
NEARLY_FULL_BYTES = 1 << 20


def is_disk_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in DISK_ERRNOS


def existing_parent(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (where its filesystem is asked)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Bytes this process may still write on the filesystem that holds `path`."""
    return shutil.disk_usage(existing_parent(path)).free


def disk_error_at(path: Path, error: BaseException) -> OSError | None:
    """`error` as a disk error naming `path` when it is one, or when the write
    failed without an errno on a filesystem that is read-only or full; else None."""
    if is_disk_error(error):
        return error if error.filename else OSError(error.errno, error.strerror, str(path))
    try:
        stat = os.statvfs(existing_parent(path))
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    if stat.f_bavail * stat.f_frsize < NEARLY_FULL_BYTES:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return None


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/ganbench/<name>`` (``~/.cache/ganbench/<name>`` by
    default): where downloads, reference statistics and calibrations are kept."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "ganbench" / name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # An OSError names the target, not the temporary file (or no file, as a failed flush does).
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda h: h.write(data))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda h: h.write(text.encode("utf-8")))


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=False, allow_nan=True) + "\n")


def write_npy(path: Path, array: np.ndarray) -> None:
    _atomic(path, lambda h: np.save(h, array))


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    _atomic(path, lambda h: np.savez(h, **arrays))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
