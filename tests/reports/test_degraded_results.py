"""Reports from imperfect results: torn lines, unknown fields, failures, absent engines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reports.build import build_report
from reports.cells import describe_cells
from reports.loading import load_results
from reports.statistics import (
    NO_CLEAR_DIFFERENCE,
    engine_comparison,
    engine_statistics,
    find_gaps,
    paired_seeds,
)


def _tables(path):
    loaded = load_results([path])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    comparison = engine_comparison(statistics, paired_seeds(loaded, cells), cells)
    return loaded, cells, statistics, comparison, find_gaps(loaded, cells)


def test_torn_last_line_is_skipped_and_reported(fixtures_dir):
    # the page built from this file is checked through the CLI in test_command.py
    loaded, cells, statistics, _, gaps = _tables(fixtures_dir / "torn_last_line.jsonl")
    assert len(loaded.records) == 4
    assert len(loaded.problems) == 1
    assert "last line 5 skipped" in loaded.problems[0]
    assert "torn" in loaded.problems[0]
    # the torn seed-2 record is simply not there: the cell has seeds 0 and 1, no gaps
    assert cells[0].seeds == (0, 1)
    assert gaps.empty
    assert list(statistics["seeds_succeeded"]) == [2, 2]


def test_unknown_fields_are_ignored_and_numbers_unchanged(fixtures_dir, quick_subset_records):
    loaded, _, statistics, _, gaps = _tables(fixtures_dir / "unknown_fields.jsonl")
    assert loaded.problems == []
    assert "future_block" in loaded.records[0]  # kept, as the store's reader promises
    assert gaps.empty
    for stored, engine in (("scratch", "scratch"), ("keras", "keras:tensorflow")):
        original = next(
            r
            for r in quick_subset_records
            if r["architecture"] == "cnn1_3" and r["engine"] == stored and r["seed"] == 0
        )
        row = statistics[statistics["engine"] == engine].iloc[0]
        assert row["accuracy_mean"] == original["metrics"]["accuracy"]
        assert row["train_seconds_median"] == original["timings"]["train_seconds"]


def test_failed_and_diverged_runs_are_gaps_with_their_error(fixtures_dir):
    _, _, statistics, comparison, gaps = _tables(fixtures_dir / "failed_cell.jsonl")
    listed = {(g.label, g.engine, g.seed): (g.status, g.reason) for g in gaps.itertuples()}
    assert listed == {
        ("digits8x8 / cnn1_3", "keras:tensorflow", 1): (
            "failed",
            "MemoryError: Unable to allocate 2.00 GiB for an array with shape (360, 1500000) "
            "and data type float32",
        ),
        ("digits8x8 / dnn_128_128_64", "scratch", 0): (
            "diverged",
            "training loss became NaN in epoch 3",
        ),
        ("digits8x8 / dnn_128_128_64", "keras:tensorflow", 0): (
            "failed",
            "RuntimeError: the Keras model could not be built",
        ),
    }
    # the failed cell has rows with no numbers, and no comparison, with the reason
    dense = statistics[statistics["architecture"] == "dnn_128_128_64"]
    assert list(dense["seeds_succeeded"]) == [0, 0]
    assert dense["accuracy_mean"].isna().all()
    dense_comparison = comparison[comparison["architecture"] == "dnn_128_128_64"].iloc[0]
    assert dense_comparison["paired_seeds"] == 0
    assert dense_comparison["note"] == "no successful scratch or keras:tensorflow run"
    assert dense_comparison["time_verdict"] == dense_comparison["accuracy_verdict"] == ""
    # cnn1_3: seed 0 pairs; seed 1 has scratch only: one pair, too few for any verdict
    conv = comparison[comparison["architecture"] == "cnn1_3"].iloc[0]
    scratch = statistics[
        (statistics["architecture"] == "cnn1_3") & (statistics["engine"] == "scratch")
    ].iloc[0]
    assert conv["paired_seeds"] == 1
    assert scratch["seeds_succeeded"] == 2
    assert conv["time_verdict"] == conv["accuracy_verdict"] == NO_CLEAR_DIFFERENCE
    assert conv["time_method"] == "1 paired seed(s): 3 needed"


def test_failed_cell_report_shows_gaps_and_still_draws(fixtures_dir, tmp_path, small_plots):
    report = build_report([fixtures_dir / "failed_cell.jsonl"], tmp_path, small_plots)
    html = report.html.read_text(encoding="utf-8")
    assert "MemoryError: Unable to allocate 2.00 GiB" in html
    assert "training loss became NaN in epoch 3" in html
    assert "3 expected runs are gaps (2 failed, 1 diverged)" in html
    assert (
        "digits8x8 / dnn_128_128_64, keras:tensorflow vs scratch: no comparison (no "
        "successful scratch or keras:tensorflow run)." in html
    )
    assert any(path.stem == "learning-curves-quick-digits8x8-cnn1_3" for path in report.plots)
    assert any(
        entry.startswith("learning-curves-quick-digits8x8-dnn_128_128_64: no successful run")
        for entry in report.missing_plots
    )


def test_an_absent_engine_is_a_gap_for_every_seed(fixtures_dir):
    _, cells, statistics, comparison, gaps = _tables(fixtures_dir / "missing_engine.jsonl")
    assert cells[0].engines == ("scratch", "keras:tensorflow")  # from engine_order
    assert list(gaps["engine"]) == ["keras:tensorflow", "keras:tensorflow"]
    assert list(gaps["seed"]) == [0, 1]
    assert set(gaps["status"]) == {"absent"}
    assert (
        gaps["reason"].str.startswith("no keras:tensorflow record for any seed of this cell").all()
    )
    keras_row = statistics[statistics["engine"] == "keras:tensorflow"].iloc[0]
    assert keras_row["seeds_succeeded"] == 0 and np.isnan(keras_row["accuracy_mean"])
    assert comparison.iloc[0]["note"] == "no successful keras:tensorflow run"


def test_a_later_record_with_the_same_key_replaces_the_earlier(quick_subset_path, tmp_path):
    lines = quick_subset_path.read_text(encoding="utf-8").splitlines()
    retried = json.loads(lines[0])
    retried["metrics"]["accuracy"] = 0.5
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join([*lines, json.dumps(retried)]) + "\n", encoding="utf-8")
    loaded = load_results([tmp_path])  # a folder reads its results.jsonl
    assert loaded.superseded == 1
    assert len(loaded.records) == len(lines)
    replaced = [r for r in loaded.records if r["run_id"] == retried["run_id"]]
    assert [r["metrics"]["accuracy"] for r in replaced] == [0.5]


def test_records_without_identity_are_set_aside_with_the_reason(quick_subset_path, tmp_path):
    record = json.loads(quick_subset_path.read_text(encoding="utf-8").splitlines()[0])
    del record["engine"]
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    loaded = load_results([path])
    assert loaded.records == []
    assert loaded.problems == [
        f"{path}: record 1 (run_id {record['run_id']}) set aside: it lacks engine"
    ]


def test_a_missing_results_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"results file .*nothing\.jsonl does not exist"):
        load_results([tmp_path / "nothing.jsonl"])
