"""Atomic file writes: a temporary file beside the target, then a rename, so a
results directory never holds a truncated file, whatever kills the process."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
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
