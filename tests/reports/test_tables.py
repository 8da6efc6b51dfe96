"""Table numbers against values computed from the fixture's raw JSON with NumPy."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import pytest

from reports.cells import describe_cells
from reports.loading import load_results
from reports.statistics import (
    NO_CLEAR_DIFFERENCE,
    engine_comparison,
    engine_statistics,
    find_gaps,
    paired_seeds,
)
from reports.tables import seed_table_accuracy_time, seed_table_per_class

#: the fixture is an old store: "keras" records ran on the TensorFlow backend
TENSORFLOW = "keras:tensorflow"


def _spec(record):
    return TENSORFLOW if record["engine"] == "keras" else record["engine"]


def _by_cell_engine(records):
    grouped = defaultdict(list)
    for record in records:
        grouped[(record["architecture"], _spec(record))].append(record)
    return grouped


@pytest.fixture(scope="module")
def quick(quick_subset_path):
    loaded = load_results([quick_subset_path])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    return loaded, cells, statistics, pairs, engine_comparison(statistics, pairs, cells)


def test_cells_follow_the_catalog_order_with_both_engines_and_their_seeds(quick):
    _, cells, *_ = quick
    # the catalog lists dnn_128_128_64 before cnn1_3
    assert [info.architecture for info in cells] == ["dnn_128_128_64", "cnn1_3"]
    assert [info.engines for info in cells] == [("scratch", TENSORFLOW)] * 2
    assert [info.baseline for info in cells] == ["scratch"] * 2
    assert [info.seeds for info in cells] == [(0, 1), (0, 1, 2)]


def test_engine_statistics_match_numpy_over_the_raw_records(quick, quick_subset_records):
    _, _, statistics, _, _ = quick
    grouped = _by_cell_engine(quick_subset_records)
    assert len(statistics) == len(grouped) == 4
    for row in statistics.itertuples():
        records = grouped[(row.architecture, row.engine)]
        accuracy = np.array([r["metrics"]["accuracy"] for r in records])
        train = np.array([r["timings"]["train_seconds"] for r in records])
        epoch = np.array([r["timings"]["seconds_per_epoch"] for r in records])
        first = np.array([r["timings"]["first_epoch_seconds"] for r in records])
        inference = np.array([r["timings"]["inference_images_per_second"] for r in records])
        f1 = np.array([r["metrics"]["weighted_f1"] for r in records])
        area = np.array([r["metrics"]["weighted_area_ratio"] for r in records])
        peak = max(r["timings"]["peak_rss_bytes"] for r in records) / 2**20
        assert row.seeds_succeeded == row.seeds_expected == len(records)
        np.testing.assert_allclose(row.accuracy_mean, accuracy.mean(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(row.accuracy_std, accuracy.std(ddof=1), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(row.weighted_f1_mean, f1.mean(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(row.weighted_area_ratio_mean, area.mean(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(row.train_seconds_median, np.median(train), rtol=1e-12, atol=0)
        np.testing.assert_allclose(
            row.seconds_per_epoch_median, np.median(epoch), rtol=1e-12, atol=0
        )
        np.testing.assert_allclose(
            row.first_epoch_seconds_median, np.median(first), rtol=1e-12, atol=0
        )
        np.testing.assert_allclose(
            row.inference_images_per_second_median, np.median(inference), rtol=1e-12, atol=0
        )
        np.testing.assert_allclose(row.peak_memory_mib_max, peak, rtol=1e-12, atol=0)


def test_time_ratio_and_accuracy_difference_pair_runs_by_seed(quick, quick_subset_records):
    _, _, _, pairs, comparison = quick
    grouped = _by_cell_engine(quick_subset_records)
    assert list(comparison["baseline"]) == ["scratch"] * 2
    assert list(comparison["engine"]) == [TENSORFLOW] * 2
    for row in comparison.itertuples():
        scratch = {r["seed"]: r for r in grouped[(row.architecture, "scratch")]}
        keras = {r["seed"]: r for r in grouped[(row.architecture, TENSORFLOW)]}
        seeds = sorted(scratch)

        def figure(runs, block, name, seeds=seeds):
            return np.array([runs[s][block][name] for s in seeds])

        # engine / baseline: above 1, the baseline (scratch) is faster
        train = figure(keras, "timings", "train_seconds") / figure(
            scratch, "timings", "train_seconds"
        )
        epoch = figure(keras, "timings", "seconds_per_epoch") / figure(
            scratch, "timings", "seconds_per_epoch"
        )
        differences = figure(keras, "metrics", "accuracy") - figure(scratch, "metrics", "accuracy")
        assert row.paired_seeds == row.timed_pairs == len(seeds)
        np.testing.assert_allclose(row.train_time_ratio_median, np.median(train), rtol=1e-12)
        np.testing.assert_allclose(row.train_time_ratio_min, train.min(), rtol=1e-12)
        np.testing.assert_allclose(row.train_time_ratio_max, train.max(), rtol=1e-12)
        geometric = np.exp(np.mean(np.log(epoch)))
        np.testing.assert_allclose(row.epoch_time_ratio, geometric, rtol=1e-12)
        np.testing.assert_allclose(
            row.accuracy_difference_mean, differences.mean(), rtol=1e-9, atol=1e-15
        )
        if len(seeds) < 3:  # dnn_128_128_64 has 2 seeds: no interval, no winner
            assert np.isnan(row.epoch_time_ratio_low) and np.isnan(row.accuracy_difference_low)
            assert row.time_verdict == row.accuracy_verdict == NO_CLEAR_DIFFERENCE
            continue
        # 3 seeds: the time interval holds every seed's ratio (and the epoch-level test's
        # interval); the accuracy interval is the seeds' range
        tolerance = 1 + 1e-12  # exp(log(x)) rounds
        assert row.epoch_time_ratio_low <= epoch.min() * tolerance
        assert row.epoch_time_ratio_high * tolerance >= epoch.max()
        assert (row.accuracy_difference_low, row.accuracy_difference_high) == (
            differences.min(),
            differences.max(),
        )
        straddles = row.epoch_time_ratio_low <= 1 <= row.epoch_time_ratio_high
        assert (row.time_verdict == NO_CLEAR_DIFFERENCE) == straddles
        if not straddles:
            winner = "scratch" if row.epoch_time_ratio_low > 1 else TENSORFLOW
            assert row.time_verdict == f"{winner} faster"
        if differences.min() <= 0 <= differences.max():
            assert row.accuracy_verdict == NO_CLEAR_DIFFERENCE
    assert len(pairs) == 5  # 3 cnn1_3 seeds + 2 dnn seeds


def test_seed_table_one_rounds_as_the_seed_prints_it(quick, quick_subset_records):
    _, _, statistics, _, _ = quick
    table = seed_table_accuracy_time(statistics)
    grouped = _by_cell_engine(quick_subset_records)
    assert list(table.display.columns) == [
        "Data set", "Model", "Engine", "acc_test", "t_train (s)", "t_train (m, s)",
    ]  # fmt: skip
    # the data set is printed once per group, as in the seed's table I
    assert list(table.display["Data set"]) == ["digits8x8", "", "", ""]
    for row in table.display.itertuples():
        records = grouped[(row.Model, row.Engine)]
        accuracy = np.mean([r["metrics"]["accuracy"] for r in records])
        train = np.median([r["timings"]["train_seconds"] for r in records])
        assert row.acc_test == f"{accuracy:.3f}"
        assert row._5 == f"{train:.1f}s"


def test_per_class_table_puts_engines_side_by_side(quick, quick_subset_records):
    loaded, cells, *_ = quick
    info = next(info for info in cells if info.architecture == "cnn1_3")
    table = seed_table_per_class(loaded, info)
    assert list(table.display.columns) == [
        "Class label", "Amount", "F1 scratch", f"F1 {TENSORFLOW}", "AR scratch",
        f"AR {TENSORFLOW}",
    ]  # fmt: skip
    grouped = _by_cell_engine(quick_subset_records)
    for engine in ("scratch", TENSORFLOW):
        records = grouped[("cnn1_3", engine)]
        f1 = np.mean([r["metrics"]["per_class"]["f1"] for r in records], axis=0)
        area = np.mean([r["metrics"]["per_class"]["area_ratio"] for r in records], axis=0)
        np.testing.assert_allclose(table.data[f"f1_{engine}"][:10], f1, rtol=1e-12, atol=0)
        np.testing.assert_allclose(
            table.data[f"area_ratio_{engine}"][:10], area, rtol=1e-12, atol=0
        )
        weighted = np.mean([r["metrics"]["weighted_f1"] for r in records])
        assert table.display[f"F1 {engine}"].iloc[-1] == f"{weighted:.4f}"
    support = quick_subset_records[0]["metrics"]["per_class"]["support"]
    assert table.display["Class label"].iloc[-1] == "Weighted average"
    assert table.display["Amount"].iloc[-1] == f"{sum(support):,}"


def test_written_csv_keeps_full_precision(quick_report, quick_subset_records):
    path = quick_report.html.parent / "tables" / "engines.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    scratch_cnn = next(
        r for r in rows if r["architecture"] == "cnn1_3" and r["engine"] == "scratch"
    )
    expected = np.mean(
        [
            r["metrics"]["accuracy"]
            for r in quick_subset_records
            if r["architecture"] == "cnn1_3" and r["engine"] == "scratch"
        ]
    )
    np.testing.assert_allclose(float(scratch_cnn["accuracy_mean"]), expected, rtol=1e-9, atol=0)


def test_same_start_counts_pairs_whose_digests_agree(quick, quick_subset_path, tmp_path):
    *_, comparison = quick
    assert list(comparison["same_start_pairs"]) == list(comparison["paired_seeds"]) == [2, 3]
    lines = quick_subset_path.read_text(encoding="utf-8").splitlines()
    edited = []
    for line in lines:
        record = json.loads(line)
        if (record["architecture"], record["engine"], record["seed"]) == ("cnn1_3", "keras", 1):
            record["training"]["initial_weights_sha256"] = "0" * 64
        edited.append(json.dumps(record))
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    loaded = load_results([path])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    changed = engine_comparison(statistics, paired_seeds(loaded, cells), cells)
    assert list(changed["same_start_pairs"]) == [2, 2]


def test_a_run_stopped_early_is_timed_over_the_epochs_both_completed(quick_subset_path, tmp_path):
    lines = quick_subset_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    scratch, keras = (
        next(
            r
            for r in records
            if (r["architecture"], r["engine"], r["seed"]) == ("cnn1_3", engine, 0)
        )
        for engine in ("scratch", "keras")
    )
    # what the runner stores when the time budget ends a run after 4 of 10 epochs
    for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "elapsed_seconds"):
        scratch["curves"][key] = scratch["curves"][key][:4]
    scratch["training"]["epochs_completed"] = 4
    scratch["training"]["stopped_early"] = "time_budget"
    scratch["training"]["batch_order_sha256"] = "f" * 64  # fewer batches seen
    scratch["timings"]["train_seconds"] = scratch["curves"]["elapsed_seconds"][-1]
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")

    loaded = load_results([path])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    pair = pairs[(pairs["model"] == "cnn1_3") & (pairs["seed"] == 0)].iloc[0]
    expected = keras["curves"]["elapsed_seconds"][3] / scratch["curves"]["elapsed_seconds"][3]
    np.testing.assert_allclose(pair["train_time_ratio"], expected, rtol=1e-12, atol=0)
    assert pair["common_epochs"] == 4 and not pair["equal_epochs"]
    assert pair["same_start"]  # batch order is not compared across unequal epochs
    comparison = engine_comparison(statistics, pairs, cells)
    note = comparison[comparison["model"] == "cnn1_3"].iloc[0]["note"]
    assert note.startswith("1 of 3 pairs stopped early (time budget)")
    gaps = find_gaps(loaded, cells)
    assert list(gaps["status"]) == ["stopped early"]
    assert gaps.iloc[0]["reason"] == "success, but stopped early after 4 of 10 epochs (time budget)"
