"""Finding, verifying and downloading the canonical data files.

Search order for a file of data set ``NAME``: the explicit ``data_dir``, then every
directory in ``CNNBENCH_DATA`` (``os.pathsep``-separated), then the user cache
(``CNNBENCH_CACHE`` or the platform's cache folder, e.g. ``~/.cache/cnnbench``). In each
directory the file may sit in a ``NAME/`` sub-folder or at the top. The first file found
is verified against its canonical MD5 checksum; a mismatch is an error, never a silent
fall-through to another copy. Only when no copy exists anywhere is the file downloaded,
into the cache, with pooch's downloaders.

A download goes to a temporary ``.part`` file beside its destination, is verified, and
only then renamed into place (an atomic rename on one file system), so a failed,
interrupted or wrong download never leaves a file under the canonical name.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets.errors import (
    ChecksumMismatchError,
    DataFileNotFoundError,
    DownloadError,
)
from datasets.sources import DatasetSource, SourceFile

#: environment variable naming directories that hold the canonical files
DATA_DIR_ENV = "CNNBENCH_DATA"
#: environment variable overriding the download cache directory
CACHE_DIR_ENV = "CNNBENCH_CACHE"

#: pooch's downloader protocol: ``downloader(url, output_file, pooch_instance)``
Downloader = Callable[[str, str, object], object]

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class SourceRecord:
    """A data file that a data set was loaded from.

    Attributes
    ----------
    filename : str
        The file's name (the canonical name for canonical files).
    path : pathlib.Path
        Where it was read on this machine (not part of any fingerprint).
    md5 : str
        Its MD5 checksum, lower-case hex.
    size : int
        Its size in bytes.
    """

    filename: str
    path: Path
    md5: str
    size: int

    def to_record(self) -> dict[str, object]:
        """Return a JSON-ready dict (filename, md5, size)."""
        return {"filename": self.filename, "md5": self.md5, "size": self.size}


def file_md5(path: str | Path) -> str:
    """Return the MD5 checksum of a file as lower-case hex, reading it in chunks."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def record_file(path: str | Path) -> SourceRecord:
    """Checksum a file that has no canonical checksum (a custom data set's file)."""
    path = Path(path)
    return SourceRecord(path.name, path, file_md5(path), path.stat().st_size)


def default_cache_dir() -> Path:
    """Return the download cache: ``$CNNBENCH_CACHE`` or the platform's user cache."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import pooch  # imported here: only a download needs it

    return Path(pooch.os_cache("cnnbench"))


def default_downloader(url: str) -> Downloader:
    """Return pooch's downloader for ``url``, with 1 MiB chunks and a bar on a terminal."""
    import pooch

    progressbar = sys.stderr.isatty()
    if url.startswith(("http://", "https://")):
        return pooch.HTTPDownloader(progressbar=progressbar, chunk_size=_CHUNK_BYTES, timeout=60)
    from pooch.downloaders import choose_downloader

    return choose_downloader(url, progressbar=progressbar)


@dataclass(frozen=True)
class DataLocator:
    """Where to look for data files, and whether and how to download missing ones.

    Parameters
    ----------
    data_dir : path-like, optional
        A directory searched first (the command line's ``--data-dir``).
    cache_dir : path-like, optional
        The download cache; :func:`default_cache_dir` when omitted.
    download : bool
        Download files found nowhere (default). When false such a file is an error.
    downloader : callable, optional
        ``downloader(url, output_file, None)`` that writes ``url`` to ``output_file``
        (pooch's protocol). Defaults to :func:`default_downloader`; tests inject one.
    """

    data_dir: str | Path | None = None
    cache_dir: str | Path | None = None
    download: bool = True
    downloader: Downloader | None = None

    def search_dirs(self) -> list[Path]:
        """Return the directories searched, in order (the cache last)."""
        dirs = [Path(self.data_dir).expanduser()] if self.data_dir is not None else []
        dirs += [
            Path(entry).expanduser()
            for entry in os.environ.get(DATA_DIR_ENV, "").split(os.pathsep)
            if entry
        ]
        dirs.append(self.resolved_cache_dir())
        return dirs

    def resolved_cache_dir(self) -> Path:
        """Return the cache directory in force."""
        if self.cache_dir is not None:
            return Path(self.cache_dir).expanduser()
        return default_cache_dir()

    def fetch_all(self, source: DatasetSource) -> tuple[SourceRecord, ...]:
        """Find (or download) and verify every file of ``source``."""
        return tuple(self.fetch(source, source_file) for source_file in source.files)

    def fetch(self, source: DatasetSource, source_file: SourceFile) -> SourceRecord:
        """Find (or download) one canonical file and verify its checksum.

        Returns
        -------
        SourceRecord
            The verified file.

        Raises
        ------
        ChecksumMismatchError
            If the first copy found is not the canonical file.
        DataFileNotFoundError
            If no copy exists and downloading is off.
        DownloadError
            If every URL failed; nothing is left in the cache.
        """
        candidates = [
            path
            for directory in self.search_dirs()
            for path in (
                directory / source.name / source_file.filename,
                directory / source_file.filename,
            )
        ]
        for path in candidates:
            if path.is_file():
                return verify_file(path, source_file, source.name)
        cache_path = self.resolved_cache_dir() / source.name / source_file.filename
        if not self.download:
            searched = "\n  ".join(str(path) for path in candidates)
            raise DataFileNotFoundError(
                f"{source.name}: {source_file.filename} not found; searched:\n  {searched}\n"
                f"Downloading is off. Put the canonical file (md5 {source_file.md5}, from "
                f"{source_file.urls[0]}) in one of these places, point {DATA_DIR_ENV} at a "
                f"directory that holds it, or allow downloading.",
                summary=f"{source.name}: {source_file.filename} not found",
            )
        return self._download(source, source_file, cache_path)

    def _download(
        self, source: DatasetSource, source_file: SourceFile, destination: Path
    ) -> SourceRecord:
        destination.parent.mkdir(parents=True, exist_ok=True)
        failures = []
        for url in source_file.urls:
            descriptor, part_name = tempfile.mkstemp(
                dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
            )
            os.close(descriptor)
            part = Path(part_name)
            try:
                downloader = self.downloader or default_downloader(url)
                downloader(url, str(part), None)
                record = verify_file(part, source_file, source.name)
                os.replace(part, destination)
                return SourceRecord(source_file.filename, destination, record.md5, record.size)
            except ChecksumMismatchError as error:
                expected_size = f" of {source_file.size}" if source_file.size else ""
                failures.append(
                    f"{url}: md5 mismatch: expected {error.expected}, found {error.actual} "
                    f"({part.stat().st_size} bytes{expected_size})"
                )
            except Exception as error:  # every failure is reported below, URL by URL
                failures.append(f"{url}: {type(error).__name__}: {error}")
            finally:
                # Covers KeyboardInterrupt too: never leave a partial download behind.
                part.unlink(missing_ok=True)
        reasons = "\n  ".join(failures)
        raise DownloadError(
            f"{source.name}: could not download {source_file.filename} "
            f"(md5 {source_file.md5}); every URL failed:\n  {reasons}\n"
            f"Nothing was left in {destination.parent}. Check the network, or download "
            f"the file by hand into {destination.parent} or a directory named by "
            f"{DATA_DIR_ENV}."
        )


def verify_file(path: Path, source_file: SourceFile, dataset: str) -> SourceRecord:
    """Check that ``path`` is the canonical ``source_file``.

    Returns
    -------
    SourceRecord
        The verified file, with its checksum and size.

    Raises
    ------
    ChecksumMismatchError
        With the expected and actual MD5 and, when the size is known and differs, the
        byte counts (a truncated download shows up here).
    """
    size = path.stat().st_size
    actual = file_md5(path)
    if actual != source_file.md5:
        size_note = ""
        if source_file.size is not None and size != source_file.size:
            kind = "truncated" if size < source_file.size else "too long"
            size_note = f"The file is {kind}: {size} bytes instead of {source_file.size}. "
        raise ChecksumMismatchError(
            path,
            algorithm="md5",
            expected=source_file.md5,
            actual=actual,
            remedy=(
                f"{size_note}It is not the canonical {dataset} file {source_file.filename}: "
                f"delete it (the next load downloads a fresh copy into the cache) or replace "
                f"it with the file from {source_file.urls[0]}."
            ),
        )
    return SourceRecord(source_file.filename, path, actual, size)
