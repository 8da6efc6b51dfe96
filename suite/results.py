"""The results store: one JSON object per line, one line per run, appended atomically.

Writing: each record becomes one line (NaN and infinities as ``null``, NumPy values as
plain JSON numbers and lists) and reaches the file in a single ``os.write`` on a
descriptor opened with ``O_APPEND``, under an exclusive ``flock``, followed by
``os.fsync``. Two processes appending at once therefore produce whole lines, and a
process killed mid-run leaves every line it finished intact.

Reading: blank lines are skipped; a line that is not a JSON object (a torn last line from a
process killed by something outside this writer, or a file truncated by a full disk) is
skipped and reported as a :class:`ReadProblem`; fields a reader does not know are kept in
the dictionaries and ignored by the harness. The record layout is in
``docs/results-schema.md``.

The run key (:func:`run_key`) identifies a run: sha256 over the configuration hash, the
split fingerprint, the engine and the seed. ``cnnbench run --resume`` skips every cell
whose key is already stored with a status in :data:`DONE_STATUSES`.
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere O_APPEND alone keeps lines whole in practice
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

import numpy as np

#: version of the record layout in docs/results-schema.md
SCHEMA_VERSION = 1

#: status values a record may carry
STATUSES = ("success", "diverged", "failed", "skipped")

#: statuses that ``--resume`` treats as finished; failed and skipped cells are tried again
DONE_STATUSES = frozenset({"success", "diverged"})

#: default file name inside the output directory
RESULTS_FILE_NAME = "results.jsonl"


def to_jsonable(value: Any) -> Any:
    """Convert a value to plain JSON types: NumPy to Python, NaN/inf to None.

    Parameters
    ----------
    value : Any
        Nested dicts, lists, tuples, NumPy arrays and scalars, str, numbers, None.

    Returns
    -------
    Any
        The same structure made of dict, list, str, int, float (finite), bool and None.
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, no spaces), for hashing.

    Parameters
    ----------
    value : Any
        A JSON-able structure (see :func:`to_jsonable`).

    Returns
    -------
    str
        The canonical JSON text.
    """
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def configuration_hash(configuration: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a cell's configuration (data set, model, settings).

    Parameters
    ----------
    configuration : mapping
        Everything that defines what a run computes except split, engine and seed.

    Returns
    -------
    str
        64 hex digits; independent of key order and of the process.
    """
    return hashlib.sha256(canonical_json(configuration).encode("utf-8")).hexdigest()


def run_key(
    configuration: Mapping[str, Any], split_fingerprint: str, engine: str, seed: int
) -> str:
    """The key of one run: sha256 of (configuration hash, split fingerprint, engine, seed).

    Parameters
    ----------
    configuration : mapping
        The cell's configuration (see :func:`configuration_hash`).
    split_fingerprint : str
        The data split's fingerprint from ``datasets``.
    engine : str
        ``"scratch"`` or ``"keras"``.
    seed : int
        The run's seed.

    Returns
    -------
    str
        64 hex digits.
    """
    parts = [configuration_hash(configuration), str(split_fingerprint), str(engine), str(seed)]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def new_record_fields() -> dict[str, Any]:
    """The bookkeeping fields every record starts with: schema, run_id, created (UTC).

    Returns
    -------
    dict
        ``{"schema": SCHEMA_VERSION, "run_id": uuid4 hex, "created": ISO 8601 time}``.
    """
    return {
        "schema": SCHEMA_VERSION,
        "run_id": uuid.uuid4().hex,
        "created": _datetime.datetime.now(_datetime.UTC).isoformat(timespec="seconds"),
    }


def record_to_line(record: Mapping[str, Any]) -> bytes:
    """Encode one record as a single UTF-8 JSON line ending in a newline.

    Parameters
    ----------
    record : mapping
        The record.

    Returns
    -------
    bytes
        The line; it contains no newline other than the final one.
    """
    if record.get("status") not in STATUSES:
        raise ValueError(
            f"record status is {record.get('status')!r}; expected one of {', '.join(STATUSES)}"
        )
    text = json.dumps(to_jsonable(record), separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


@dataclass(frozen=True)
class ReadProblem:
    """A line of a results file that could not be read as a record."""

    path: str
    line_number: int
    reason: str
    is_last_line: bool

    def __str__(self) -> str:
        where = "last line" if self.is_last_line else "line"
        return f"{self.path}: {where} {self.line_number} skipped: {self.reason}"


@dataclass
class ReadResult:
    """Records read from a results file, and the lines that were skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)


class ResultsStore:
    """A JSON-lines results file that many processes may append to.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file; its folder is created on the first append.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record as one whole line, then flush it to disk (fsync).

        Parameters
        ----------
        record : mapping
            The record; ``status`` must be one of :data:`STATUSES`.
        """
        line = record_to_line(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            # A torn line left by a killed process must not swallow this record: start on
            # a fresh line when the file does not end with a newline.
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line
            written = os.write(descriptor, line)
            while written < len(line):  # regular files write everything; this is a guard
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # closing also releases the flock

    def read(self) -> ReadResult:
        """Read every whole record; skip and report lines that are not JSON objects.

        Returns
        -------
        ReadResult
            Records in file order and the problems found; an absent file reads as empty.
        """
        result = ReadResult()
        if not self.path.exists():
            return result
        lines = self.path.read_bytes().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the text after the final newline
        for index, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            is_last = index == len(lines)
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                reason = f"not valid JSON ({error.__class__.__name__}: {error})"
                if is_last:
                    reason += "; probably torn by a process killed while writing"
                result.problems.append(ReadProblem(str(self.path), index, reason, is_last))
                continue
            if not isinstance(record, dict):
                result.problems.append(
                    ReadProblem(
                        str(self.path),
                        index,
                        f"a JSON {type(record).__name__}, expected an object",
                        is_last,
                    )
                )
                continue
            result.records.append(record)
        return result

    def stored_keys(self, statuses: Iterable[str] = DONE_STATUSES) -> set[str]:
        """Keys of the stored records whose status is in ``statuses``.

        Parameters
        ----------
        statuses : iterable of str, default DONE_STATUSES
            Which statuses count.

        Returns
        -------
        set of str
            The run keys (see :func:`run_key`).
        """
        wanted = set(statuses)
        return {
            record["key"]
            for record in self.read().records
            if record.get("status") in wanted and isinstance(record.get("key"), str)
        }
