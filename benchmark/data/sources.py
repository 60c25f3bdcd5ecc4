"""Where a data set's files are looked for, and how they are downloaded.

Every canonical data set (MNIST, Fashion-MNIST, CIFAR-10) searches the same
places in the same order: an explicit ``data_dir`` (then the only place), the
directory named by the data set's environment variable, the project-local
``data/<name>/`` and the user cache ``$XDG_CACHE_HOME/ganbench/<name>``. When
none holds the files they are downloaded into the user cache: each file goes
to a temporary file beside its destination, is verified, and only then renamed
into place, so a failed or corrupt download leaves nothing behind.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmark.data.errors import DatasetError

__all__ = ["DOWNLOAD_TIMEOUT_S", "candidate_dirs", "describe_looked", "download_verified", "try_mirrors"]

# Seconds without a byte before a mirror is given up: offline machines fail within seconds.
DOWNLOAD_TIMEOUT_S = 5.0
# benchmark/data/sources.py -> the repository root is three levels up.
PROJECT_DATA_ROOT = Path(__file__).resolve().parents[2] / "data"


def candidate_dirs(
    data_dir: str | os.PathLike[str] | None, env_var: str, project_dir: Path, cache_dir: Path
) -> list[tuple[str, Path]]:
    """(description, directory) pairs in search order; an explicit ``data_dir`` alone."""
    if data_dir is not None:
        return [("data_dir argument", Path(data_dir).expanduser())]
    candidates = []
    env_dir = os.environ.get(env_var)
    if env_dir:
        candidates.append((env_var, Path(env_dir).expanduser()))
    candidates.append(("project data dir", project_dir))
    candidates.append(("user cache", cache_dir))
    return candidates


def describe_looked(
    candidates: list[tuple[str, Path]], data_dir: object, env_var: str, why: Callable[[Path], str]
) -> str:
    """One line per place looked, ``why(directory)`` saying what it lacked."""
    lines = [f"  - {label}: {directory} ({why(directory)})" for label, directory in candidates]
    if data_dir is None and not os.environ.get(env_var):
        lines.insert(0, f"  - {env_var}: (not set)")
    return "\n".join(lines)


def try_mirrors(
    urls: Sequence[str], destination: Path, verify: Callable[[Path, str], None]
) -> list[str]:
    """Download the first of ``urls`` that serves bytes ``verify`` accepts.

    ``verify(path, url)`` raises DatasetError for bad bytes. Returns one line per
    failed URL, or [] on success.
    """
    failures = []
    for url in urls:
        try:
            download_verified(url, destination, verify)
            return []
        # URLError and timeouts are OSErrors; ValueError: malformed URL; DatasetError: bad bytes.
        except (OSError, http.client.HTTPException, ValueError, DatasetError) as error:
            failures.append(f"  - {url}: {error}")
    return failures


def download_verified(url: str, destination: Path, verify: Callable[[Path, str], None]) -> None:
    """Download to a temp file beside ``destination``, verify, then rename into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Same directory so os.replace is atomic; a crash leaves at most a dot-file.
    fd, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as temp_file:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                while chunk := response.read(1 << 20):
                    temp_file.write(chunk)
        verify(temp_path, url)
        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)
