"""The errors every data set raises: what was wrong, and what to do about it."""

from __future__ import annotations

__all__ = ["DatasetError", "DatasetNotFoundError"]


class DatasetError(RuntimeError):
    """A data set's files are missing, corrupt or malformed, or its name is unknown.

    The message names the file or folder, says what was wrong and what to do.
    """


class DatasetNotFoundError(DatasetError):
    """No source holds the data set's files and none could be downloaded."""
