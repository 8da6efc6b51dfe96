"""Errors raised by the data set loaders.

Every message names the file (or data set) that is wrong, what was expected, what was
found, and what to do about it, so a failed benchmark run can be mended without reading
the loader's source.
"""

from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """Base class of every error raised by :mod:`datasets`."""

    def __reduce__(self):
        # Exceptions unpickle as cls(*args), which the keyword-only constructors below
        # refuse; rebuild from the state instead, so errors cross process boundaries.
        return _restore_error, (type(self), self.args, self.__dict__)


def _restore_error(cls: type, args: tuple, state: dict) -> DatasetError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class UnknownDatasetError(DatasetError, KeyError):
    """A data set key that no loader answers to."""

    def __str__(self) -> str:
        # KeyError would otherwise quote the whole message.
        return str(self.args[0]) if self.args else ""


class DataFileError(DatasetError, ValueError):
    """A data file that is present but unusable (corrupt, truncated, wrong format).

    Parameters
    ----------
    path : path-like
        The file that is wrong.
    problem : str
        What is wrong, in a few words.
    expected : str
        What the loader expected to find.
    found : str
        What it found instead.
    remedy : str
        What the user should do.
    """

    def __init__(
        self, path: str | Path, problem: str, *, expected: str, found: str, remedy: str
    ) -> None:
        self.path = Path(path)
        self.problem = problem
        self.expected = expected
        self.found = found
        self.remedy = remedy
        super().__init__(f"{self.path}: {problem}: expected {expected}, found {found}. {remedy}")


class ChecksumMismatchError(DataFileError):
    """A file whose checksum is not the canonical one (truncated, corrupt or another file)."""

    def __init__(
        self, path: str | Path, *, algorithm: str, expected: str, actual: str, remedy: str
    ) -> None:
        self.algorithm = algorithm
        self.actual = actual
        super().__init__(
            path,
            f"{algorithm} checksum mismatch",
            expected=expected,
            found=actual,
            remedy=remedy,
        )


class UnsafePickleError(DataFileError):
    """A pickle that asks for something the canonical files never contain."""


class DataFileNotFoundError(DatasetError, FileNotFoundError):
    """A data file found in none of the searched places and not downloadable.

    Parameters
    ----------
    message : str
        The whole message: what is missing, where it was looked for, what to do.
    summary : str, optional
        What is missing, in one line, for a table cell or a log line; the message's first
        line by default.
    """

    def __init__(self, message: str, *, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary if summary is not None else message.partition("\n")[0]


class DownloadError(DatasetError, OSError):
    """A download that failed; nothing of it is left in the cache."""
