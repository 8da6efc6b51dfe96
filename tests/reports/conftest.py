"""Fixtures for the report tests: the results files under ``fixtures/`` and their records.

``quick_subset.jsonl`` is real runner output (see ``fixtures/README.md``); the other files
are hand-edited variants of it. Expected values in the tests are computed here, from the
raw JSON lines with NumPy, independently of ``reports``.
"""

from __future__ import annotations

import json
from pathlib import Path

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
