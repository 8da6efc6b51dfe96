"""Read results files into run records and one flat table of scalar figures per run.

Reading goes through :class:`suite.results.ResultsStore` (torn lines are skipped and
reported there). On top of it this module

- keeps the latest record per run key (``--resume`` retries append a new record with the
  same key; the last one is the run's outcome),
- sets aside records that lack what a report needs to place them (data set, architecture,
  engine, seed), each with a reason,
- names every engine by its canonical *engine spec* (``scratch``, ``keras:tensorflow``,
  ``keras:jax``...; :func:`suite.engines.spec.record_engine_spec`), in ``engine`` and in
  ``engine_order``, so a store written before specs existed (``"keras"`` with the backend
  in ``keras_backend``) reads the same as a new one, and runs of two Keras backends in one
  store stay two engines,
- gives every record its *host class* (:func:`host_class_of`): the runner's
  ``host.host_class`` digest, or for a record written before hosts were stored a stable
  ``unrecorded (...)`` class derived from its environment block; reports pair and compare
  times only within one host class,
- flattens the scalar figures the tables use into a :class:`pandas.DataFrame`, one row
  per run, with NaN where a figure is absent or ``null``.

Unknown fields are ignored; every field is read with a default, so a hand-edited or newer
record still reports.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from suite.engines.spec import record_engine_spec
from suite.host import TIMING_LIBRARIES
from suite.results import RESULTS_FILE_NAME, ResultsStore

#: identity fields a record must carry to be placed in a table
REQUIRED_FIELDS = ("dataset", "architecture", "engine", "seed")

#: flat column -> path of keys inside a record
SCALAR_FIELDS: dict[str, tuple[str, ...]] = {
    "accuracy": ("metrics", "accuracy"),
    "loss": ("metrics", "loss"),
    "weighted_f1": ("metrics", "weighted_f1"),
    "weighted_area_ratio": ("metrics", "weighted_area_ratio"),
    "train_seconds": ("timings", "train_seconds"),
    "seconds_per_epoch": ("timings", "seconds_per_epoch"),
    "first_epoch_seconds": ("timings", "first_epoch_seconds"),
    "train_images_per_second": ("timings", "train_images_per_second"),
    "inference_images_per_second": ("timings", "inference_images_per_second"),
    "peak_rss_bytes": ("timings", "peak_rss_bytes"),
    "peak_gpu_bytes": ("timings", "peak_gpu_bytes"),
    "epochs_completed": ("training", "epochs_completed"),
    "epochs_planned": ("training", "epochs_planned"),
    "parameters": ("training", "parameters"),
}

#: the flat table's identity columns, in order
IDENTITY_COLUMNS = (
    "cell",
    "experiment",
    "dataset",
    "architecture",
    "family",
    "device",
    "engine",
    "seed",
    "status",
    "error",
    "run_id",
    "source",
    "split_fingerprint",
    "initial_weights_sha256",
    "batch_order_sha256",
    "elapsed_seconds",
    "epoch_seconds",
    "timing_quality",
    "stored_engine",
    "host_class",
)

#: ``timing_quality`` of a run whose clocks the runner saw disturbed by other load
CONTENDED = "contended"


def nested_get(record: Mapping[str, Any], path: Sequence[str], default: Any = None) -> Any:
    """Follow ``path`` through nested mappings; ``default`` where any step is missing.

    Parameters
    ----------
    record : mapping
        A results record.
    path : sequence of str
        Keys from the outside in, e.g. ``("metrics", "accuracy")``.
    default : Any, optional
        What to return when a key is absent or a step is not a mapping.

    Returns
    -------
    Any
        The value found, or ``default``.
    """
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def as_number(value: Any) -> float:
    """A finite float, or NaN for ``None``, booleans, text and non-finite numbers.

    Parameters
    ----------
    value : Any
        A JSON value.

    Returns
    -------
    float
        The number, or NaN.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _number_list(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not value:
        return None
    return [as_number(item) for item in value]


def _keras_backend_of(record: Mapping[str, Any]) -> str | None:
    """The Keras backend a record names anywhere (None when it names none)."""
    environment = record.get("environment")
    environment = environment if isinstance(environment, Mapping) else {}
    settings = environment.get("thread_settings")
    settings = settings if isinstance(settings, Mapping) else {}
    for candidate in (
        record.get("keras_backend"),
        environment.get("keras_backend"),
        settings.get("keras_backend"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def engine_spec_of(record: Mapping[str, Any], engine: Any = None) -> str:
    """The canonical engine spec of a record, or of another engine its ``engine_order`` names.

    Parameters
    ----------
    record : mapping
        A results record, old (``"keras"`` plus ``keras_backend``) or new
        (``"keras:jax"``).
    engine : Any, optional
        An engine name from the record's ``engine_order``; the record's own ``engine``
        when omitted. A bare ``keras`` there means the Keras backend the record's run used
        (from ``keras_backend`` or its environment block).

    Returns
    -------
    str
        E.g. ``"scratch"``, ``"scratch:gpu"``, ``"keras:tensorflow"``.
    """
    name = record.get("engine") if engine is None else engine
    # only the fields the mapping needs, checked here: an environment block of an old
    # or hand-edited record may hold anything
    return record_engine_spec(
        {
            "engine": str(name),
            "keras_backend": _keras_backend_of(record) or "tensorflow",
            "device": record.get("device") or "cpu",
        }
    )


def timing_quality_of(record: Mapping[str, Any]) -> str:
    """``"ok"``, ``"contended"``, or ``"unknown"`` for a record written before the field."""
    quality = record.get("timing_quality")
    return quality if isinstance(quality, str) and quality else "unknown"


#: start of the host class of a record that stored no host block (see :func:`host_class_of`)
UNRECORDED_HOST = "unrecorded"


def host_class_of(record: Mapping[str, Any]) -> str:
    """The host class of a record: which runs' times may be compared with its times.

    Parameters
    ----------
    record : mapping
        A results record, with or without the ``host`` block (:mod:`suite.host`).

    Returns
    -------
    str
        ``record["host"]["host_class"]`` when stored (a 12-digit digest); else, for a
        record written before host blocks, ``"unrecorded (CPU, N cores, DIGEST)"``: the
        CPU model and cores of ``record["environment"]`` and 8 hex digits of sha256 over
        them, the Python minor version and the versions of
        :data:`suite.host.TIMING_LIBRARIES` stored there. The same old machine and
        software always give the same class; a record with neither block gets
        ``"unrecorded (unknown CPU, ? cores, DIGEST)"``.
    """
    host = record.get("host")
    if isinstance(host, Mapping):
        stored = host.get("host_class")
        if isinstance(stored, str) and stored:
            return stored
    environment = record.get("environment")
    environment = environment if isinstance(environment, Mapping) else {}
    cpu, cores = environment.get("cpu") or "unknown CPU", environment.get("cores")
    # the BLAS pools and thread settings stay out: which pools a process had loaded
    # differs between engines on one machine, and one machine must stay one class
    inputs = {
        "cpu": cpu,
        "cores": cores,
        "python": ".".join(str(environment.get("python", "")).split(".")[:2]),
        "libraries": {name: environment.get(name) for name in TIMING_LIBRARIES},
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{UNRECORDED_HOST} ({cpu}, {cores if cores is not None else '?'} cores, {digest})"


def cell_name(record: Mapping[str, Any]) -> str:
    """The matrix cell a record belongs to: ``experiment/dataset/architecture``.

    Parameters
    ----------
    record : mapping
        A results record.

    Returns
    -------
    str
        ``matrix_cell`` when stored, else built from the identity fields; a run on a GPU
        gets ``" (gpu)"`` appended so CPU and GPU runs are never paired.
    """
    name = record.get("matrix_cell")
    if not isinstance(name, str) or not name:
        experiment = record.get("experiment") or "-"
        name = f"{experiment}/{record.get('dataset')}/{record.get('architecture')}"
    device = record.get("device") or "cpu"
    return name if device == "cpu" else f"{name} ({device})"


@dataclass
class LoadedResults:
    """Everything a report derives its content from.

    Attributes
    ----------
    records : list of dict
        The latest record per run key, in file order, each with ``_source`` (the file),
        ``_cell`` (see :func:`cell_name`), ``_host_class`` (see :func:`host_class_of`)
        and ``_stored_engine`` (the ``engine`` as stored) added; ``engine`` and
        ``engine_order`` hold canonical engine specs.
    runs : pandas.DataFrame
        One row per record: :data:`IDENTITY_COLUMNS` then :data:`SCALAR_FIELDS`.
    problems : list of str
        Lines skipped while reading and records set aside, one sentence each.
    sources : list of str
        The files read.
    superseded : int
        Records replaced by a later record with the same key.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    superseded: int = 0


def resolve_results_path(path: str | os.PathLike[str]) -> Path:
    """A results file, or the ``results.jsonl`` inside a folder given instead.

    Parameters
    ----------
    path : str or Path
        A ``.jsonl`` file or a ``cnnbench run --out`` folder.

    Returns
    -------
    Path
        The file to read.

    Raises
    ------
    FileNotFoundError
        Neither the file nor ``DIR/results.jsonl`` exists.
    """
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / RESULTS_FILE_NAME
    if not candidate.is_file():
        raise FileNotFoundError(
            f"results file {candidate} does not exist; pass a results.jsonl file or the "
            "folder given to 'cnnbench run --out'"
        )
    return candidate


def _missing_identity(record: Mapping[str, Any]) -> list[str]:
    missing = [name for name in REQUIRED_FIELDS if record.get(name) in (None, "")]
    seed = record.get("seed")
    if "seed" not in missing and (isinstance(seed, bool) or not isinstance(seed, int)):
        missing.append("seed (not an integer)")
    return missing


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the runs table: identity fields and scalar figures (NaN when absent).

    Parameters
    ----------
    record : mapping
        A results record carrying :data:`REQUIRED_FIELDS`.

    Returns
    -------
    dict
        Keys :data:`IDENTITY_COLUMNS` and :data:`SCALAR_FIELDS`.
    """
    row: dict[str, Any] = {
        "cell": record.get("_cell") or cell_name(record),
        "experiment": record.get("experiment") or "-",
        "dataset": str(record["dataset"]),
        "architecture": str(record["architecture"]),
        "family": record.get("family") or "",
        "device": record.get("device") or "cpu",
        "engine": str(record["engine"]),
        "seed": int(record["seed"]),
        "status": record.get("status") or "unknown",
        "error": record.get("error"),
        "run_id": record.get("run_id") or "",
        "source": record.get("_source") or "",
        # digests that show whether two engines' runs started alike (None when absent)
        "split_fingerprint": nested_get(record, ("split", "fingerprint")),
        "initial_weights_sha256": nested_get(record, ("training", "initial_weights_sha256")),
        "batch_order_sha256": nested_get(record, ("training", "batch_order_sha256")),
        # cumulative training time per epoch: lets runs of unequal length be compared
        "elapsed_seconds": _number_list(nested_get(record, ("curves", "elapsed_seconds"))),
        # each epoch's time: the spread of the steady-state epochs enters the time verdicts
        "epoch_seconds": _number_list(nested_get(record, ("timings", "epoch_seconds"))),
        "timing_quality": timing_quality_of(record),
        "stored_engine": str(record.get("_stored_engine", record["engine"])),
        "host_class": record.get("_host_class") or host_class_of(record),
    }
    for column, path in SCALAR_FIELDS.items():
        row[column] = as_number(nested_get(record, path))
    return row


def load_results(paths: Iterable[str | os.PathLike[str]]) -> LoadedResults:
    """Read results files into the latest record per run and a flat runs table.

    Parameters
    ----------
    paths : iterable of str or Path
        Results files or ``cnnbench run --out`` folders, read in order; when the same run
        key appears more than once (across files too), the last record wins.

    Returns
    -------
    LoadedResults
        Records, the runs table, the problems met and the files read.

    Raises
    ------
    FileNotFoundError
        A path is neither a results file nor a folder holding one.
    """
    loaded = LoadedResults()
    latest_by_key: dict[str, int] = {}
    kept: list[dict[str, Any] | None] = []
    for path in paths:
        resolved = resolve_results_path(path)
        loaded.sources.append(str(resolved))
        read = ResultsStore(resolved).read()
        loaded.problems.extend(str(problem) for problem in read.problems)
        for number, record in enumerate(read.records, start=1):
            missing = _missing_identity(record)
            if missing:
                loaded.problems.append(
                    f"{resolved}: record {number} (run_id {record.get('run_id', '?')}) set "
                    f"aside: it lacks {', '.join(missing)}"
                )
                continue
            record = dict(record, _source=str(resolved), _stored_engine=record["engine"])
            record["engine"] = engine_spec_of(record)
            order = record.get("engine_order")
            if isinstance(order, list):
                record["engine_order"] = [
                    engine_spec_of(record, name) for name in order if isinstance(name, str)
                ]
            record["_cell"] = cell_name(record)
            record["_host_class"] = host_class_of(record)
            key = record.get("key")
            if isinstance(key, str) and key in latest_by_key:
                kept[latest_by_key[key]] = None
                loaded.superseded += 1
            if isinstance(key, str):
                latest_by_key[key] = len(kept)
            kept.append(record)
    loaded.records = [record for record in kept if record is not None]
    rows = [flatten_record(record) for record in loaded.records]
    columns = [*IDENTITY_COLUMNS, *SCALAR_FIELDS]
    loaded.runs = pd.DataFrame(rows, columns=columns)
    if not loaded.runs.empty:
        loaded.runs["seed"] = loaded.runs["seed"].astype(int)
    return loaded
