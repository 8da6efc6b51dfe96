"""Fixtures for the report tests: the results files under ``fixtures/`` and their records.

``quick_subset.jsonl`` is real runner output (see ``fixtures/README.md``); the other files
are hand-edited variants of it. Expected values in the tests are computed here, from the
raw JSON lines with NumPy, independently of ``reports``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def read_records(path: Path) -> list[dict]:
    """Every line of a fixture that parses as JSON (the torn line of a variant does not)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of fixture results files."""
    return FIXTURES


@pytest.fixture(scope="session")
def quick_subset_path() -> Path:
    """Real runner output: cnn1_3 (seeds 0-2) and dnn_128_128_64 (seeds 0-1), both engines."""
    return FIXTURES / "quick_subset.jsonl"


@pytest.fixture(scope="session")
def quick_subset_records(quick_subset_path: Path) -> list[dict]:
    """The records of ``quick_subset.jsonl``, parsed with ``json`` alone."""
    return read_records(quick_subset_path)


@pytest.fixture(scope="session")
def small_plots():
    """Tiny, low-resolution figures: the tests check content, not looks."""
    from reports.plots import PlotSettings

    return PlotSettings(dpi=30, scale=0.5)


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory: pytest.TempPathFactory, quick_subset_path: Path, small_plots):
    """The report built once from ``quick_subset.jsonl`` (shared by the HTML tests)."""
    from reports.build import build_report

    out = tmp_path_factory.mktemp("quick_report")
    return build_report([quick_subset_path], out, small_plots)


#: the four engines of the hand-made multi-engine stores, in the reports' order
FOUR_ENGINES = ("scratch", "keras:tensorflow", "keras:jax", "keras:torch")


def synthetic_record(
    template: dict,
    engine: str,
    seed: int,
    epoch_seconds: list[float],
    accuracy: float,
    *,
    old_format: bool = False,
    engines: tuple[str, ...] = FOUR_ENGINES,
    timing_quality: str | None = None,
) -> dict:
    """A hand-made record: ``template`` (a real runner record) with another engine, seed,
    epoch times and accuracy, every derived time consistent with ``epoch_seconds``.

    ``old_format`` writes the engine as a store from before engine specs did: ``"keras"``
    with the backend in ``keras_backend`` (and in ``engine_order``, bare names).
    """
    record = copy.deepcopy(template)
    family, _, backend = engine.partition(":")
    stored_engine = family if old_format else engine
    record.update(
        engine=stored_engine,
        keras_backend=backend or None,
        seed=seed,
        run_id=f"{engine}-{seed}-{record['architecture']}".replace(":", "-"),
        key=f"key-{engine}-{seed}-{record['matrix_cell']}",
        engine_order=[e.partition(":")[0] if old_format else e for e in engines],
    )
    if old_format:
        record["engine_order"] = list(dict.fromkeys(record["engine_order"]))
    if timing_quality is not None:
        record["timing_quality"] = timing_quality
        record["timing_quality_reason"] = (
            "load 3.1 on 2 cores" if timing_quality == "contended" else None
        )
    record["environment"]["keras_backend"] = backend or "tensorflow"
    steady = epoch_seconds[1:] or epoch_seconds
    record["timings"].update(
        epoch_seconds=list(epoch_seconds),
        first_epoch_seconds=epoch_seconds[0],
        seconds_per_epoch=float(np.median(steady)),
        train_seconds=float(np.sum(epoch_seconds)),
    )
    record["curves"]["elapsed_seconds"] = np.cumsum(epoch_seconds).tolist()
    record["metrics"]["accuracy"] = accuracy
    # same start for every engine of a seed, different between seeds
    record["training"]["initial_weights_sha256"] = f"{seed:064x}"
    record["training"]["batch_order_sha256"] = f"{seed + 100:064x}"
    return record


def write_records(path: Path, records: list[dict]) -> Path:
    """Write records as a results file (one JSON object per line)."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def templates(quick_subset_records) -> dict[str, dict]:
    """Architecture -> a real scratch record of the fixture, seed 0 (the template)."""
    return {
        record["architecture"]: record
        for record in quick_subset_records
        if record["engine"] == "scratch" and record["seed"] == 0
    }
