"""Host classes: reports never form a time ratio across them, and group times by them.

A hand-made store holds the same cells measured on two host classes: seeds 0-2 of every
engine on host A, seeds 3-5 on host B (four times faster), and seed 6 split, scratch on A
and keras:tensorflow on B (a unit resumed on another machine). Within a class
keras:tensorflow takes twice scratch's time; a ratio mixing the classes would read 0.5x
(scratch on A against keras on B) or 8x, so any ratio other than 2x gives a mix away.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from reports.build import build_report
from reports.cells import describe_cells
from reports.hosts import describe_host_classes, host_class_note
from reports.loading import UNRECORDED_HOST, host_class_of, load_results
from reports.performance_profile import performance_ratios, steady_epoch_times
from reports.statistics import (
    engine_comparison,
    engine_speeds,
    engine_statistics,
    paired_seeds,
)
from reports.tables import comparison_table, engine_table, seed_table_accuracy_time, speed_table
from reports.time_to_accuracy import time_to_accuracy_frame, time_to_accuracy_summary
from suite.host import host_class

from .conftest import synthetic_record, write_records

ENGINES = ("scratch", "keras:tensorflow")
#: steady-state seconds per epoch on host A; host B is four times faster
SECONDS_ON_A = {"scratch": 1.0, "keras:tensorflow": 2.0}
SPEEDUP_OF_B = 4.0


def host(name: str, cpu: str, cores: int) -> dict:
    """A host block as the runner writes it (suite.host.host_block), for a made-up machine."""
    block = {
        "hostname": name,
        "cpu": cpu,
        "cores": cores,
        "usable_cores": cores,
        "memory_bytes": 64 * 2**30,
        "machine": "x86_64",
        "system": "Linux",
        "python": "3.11.7",
        "blas": [],
        "numpy_blas": [{"internal_api": "openblas", "version": "0.3.30"}],
        "thread_environment": {},
        "libraries": {"numpy": "2.4.6", "tensorflow": "2.21.0"},
    }
    block["host_class"] = host_class(block)
    return block


HOST_A = host("node-a", "Intel(R) Xeon(R) Platinum 8480", 64)
HOST_B = host("node-b", "AMD EPYC 9654", 96)
CLASS_A, CLASS_B = HOST_A["host_class"], HOST_B["host_class"]


def run_on(template: dict, engine: str, seed: int, block: dict) -> dict:
    factor = 1.0 if block is HOST_A else 1.0 / SPEEDUP_OF_B
    steady = SECONDS_ON_A[engine] * factor
    # a small wobble shared by both engines of a seed: within a class the ratio stays 2x
    epochs = [3.0 * steady, *(steady * (1 + 0.01 * ((seed + e) % 3 - 1)) for e in range(5))]
    record = synthetic_record(
        template, engine, seed, epochs, 0.9 + 0.01 * seed, engines=ENGINES, timing_quality="ok"
    )
    record["host"] = copy.deepcopy(block)
    record["environment"]["hostname"] = block["hostname"]
    return record


def two_host_records(templates: dict) -> list[dict]:
    records = []
    for architecture in ("cnn1_3", "dnn_128_128_64"):
        template = templates[architecture]
        for seed in range(6):
            block = HOST_A if seed < 3 else HOST_B
            records.extend(run_on(template, engine, seed, block) for engine in ENGINES)
        # seed 6: scratch ran on A, keras:tensorflow on B
        records.append(run_on(template, "scratch", 6, HOST_A))
        records.append(run_on(template, "keras:tensorflow", 6, HOST_B))
    return records


@pytest.fixture(scope="module")
def two_host_store(tmp_path_factory, templates):
    folder = tmp_path_factory.mktemp("two_hosts")
    return write_records(folder / "results.jsonl", two_host_records(templates))


@pytest.fixture(scope="module")
def two_host_frames(two_host_store):
    loaded = load_results([two_host_store])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    comparison = engine_comparison(statistics, pairs, cells, loaded)
    speeds = engine_speeds(loaded, statistics, comparison, cells)
    return loaded, cells, statistics, pairs, comparison, speeds


@pytest.fixture(scope="module")
def two_host_report(tmp_path_factory, two_host_store, small_plots):
    out = tmp_path_factory.mktemp("two_host_report")
    return build_report([two_host_store], out, small_plots)


def test_each_record_gets_the_host_class_it_stored(two_host_frames):
    loaded, *_ = two_host_frames
    assert CLASS_A != CLASS_B
    by_seed = {
        (row.engine, row.seed): row.host_class for row in loaded.runs.itertuples() if row.seed < 6
    }
    assert {by_seed[("scratch", seed)] for seed in range(3)} == {CLASS_A}
    assert {by_seed[("keras:tensorflow", seed)] for seed in range(3, 6)} == {CLASS_B}
    assert all(record["_host_class"] == record["host"]["host_class"] for record in loaded.records)


def test_no_pair_spans_two_host_classes(two_host_frames):
    *_, pairs, _, _ = two_host_frames
    assert len(pairs) == 2 * 6  # 2 cells x seeds 0-5; seed 6 (scratch on A, keras on B) none
    assert 6 not in set(pairs["seed"])
    assert set(pairs.loc[pairs["seed"] < 3, "host_class"]) == {CLASS_A}
    assert set(pairs.loc[pairs["seed"] >= 3, "host_class"]) == {CLASS_B}
    for column in ("epoch_time_ratio", "train_time_ratio", "first_epoch_ratio"):
        np.testing.assert_allclose(pairs[column].to_numpy(dtype=float), 2.0, rtol=1e-9)


def test_a_cell_on_two_host_classes_is_compared_once_per_class(two_host_frames):
    *_, comparison, _ = two_host_frames
    assert len(comparison) == 2 * 2  # 2 cells x (keras:tensorflow vs scratch) x 2 classes
    for _, rows in comparison.groupby("cell"):
        assert sorted(rows["host_class"]) == sorted([CLASS_A, CLASS_B])
        assert list(rows["paired_seeds"]) == [3, 3]
        np.testing.assert_allclose(rows["epoch_time_ratio"].to_numpy(float), 2.0, rtol=1e-9)
        np.testing.assert_allclose(rows["epoch_time_ratio_low"].to_numpy(float), 2.0, rtol=0.05)
        assert set(rows["time_verdict"]) == {"scratch faster"}
        # seed 6 ran scratch on A and keras:tensorflow on B: named, not paired
        assert all(
            "seed(s) 6: scratch and keras:tensorflow ran on different host classes" in note
            for note in rows["note"]
        )


def test_statistics_and_speeds_are_per_host_class_not_mixed_medians(two_host_frames):
    _, _, statistics, _, _, speeds = two_host_frames
    assert len(statistics) == 2 * 2 * 2  # cells x classes x engines
    for row in statistics.itertuples():
        expected = SECONDS_ON_A[row.engine] / (1.0 if row.host_class == CLASS_A else SPEEDUP_OF_B)
        assert row.seconds_per_epoch_median == pytest.approx(expected, rel=0.02)
        # 3 seeds, and the split seed 6 where its engine ran: scratch on A, keras on B
        split = (row.engine == "scratch") == (row.host_class == CLASS_A)
        assert row.seeds_succeeded == 3 + split
    assert len(speeds) == 2 * 2 * 2
    for (_, host), rows in speeds.groupby(["cell", "host_class"]):
        rows = rows.set_index("engine")
        assert rows.loc["keras:tensorflow", "ratio_to_baseline"] == pytest.approx(2.0)
        assert rows.loc["scratch", "fastest"] and rows.loc["scratch", "fastest_clear"]
        assert host in (CLASS_A, CLASS_B)


def test_tables_show_the_host_class_and_group_by_it(two_host_frames):
    _, _, statistics, _, comparison, speeds = two_host_frames
    for table in (
        comparison_table(comparison),
        speed_table(speeds),
        engine_table(statistics),
        seed_table_accuracy_time(statistics),
    ):
        assert "Host class" in table.display.columns, table.name
        assert "within a host class only" in table.caption, table.name
    engines = engine_table(statistics)
    shown = list(engines.display["Host class"])
    assert shown == sorted(shown)  # grouped: every class's rows together
    assert list(engines.data["host_class"]) == shown
    speed = speed_table(speeds)
    assert len(speed.display) == 4  # one row per cell and class
    ratios = [text for text in speed.display["keras:tensorflow s/epoch (vs baseline)"]]
    assert all(text.endswith("(2x)") for text in ratios), ratios


def test_performance_profile_and_time_to_accuracy_stay_within_a_host_class(two_host_frames):
    loaded, *_ = two_host_frames
    times = steady_epoch_times(loaded.records)
    assert len(times) == 4 and all(" @ " in row for row in times.index)
    assert [row.partition(" @ ")[2] for row in times.index] == sorted([CLASS_A, CLASS_B] * 2)
    ratios = performance_ratios(times)
    np.testing.assert_allclose(ratios["keras:tensorflow"].to_numpy(float), 2.0, rtol=0.02)
    summary = time_to_accuracy_summary(time_to_accuracy_frame(loaded.records))
    assert set(summary["host_class"]) == {CLASS_A, CLASS_B}
    assert len(summary) == 2 * 2 * 2
    assert list(summary["host_class"]) == sorted(summary["host_class"])


def test_the_page_says_times_come_from_two_host_classes_and_names_them(two_host_report):
    page = two_host_report.html.read_text(encoding="utf-8")
    markdown = two_host_report.markdown.read_text(encoding="utf-8")
    for text in (page, markdown):
        assert "Times from 2 host classes; ratios are formed within a host class only" in text
        for block in (HOST_A, HOST_B):
            assert block["host_class"] in text
            assert block["hostname"] in text
            assert block["cpu"].replace("(R)", "") in text.replace("(R)", "")
        assert "64 cores" in text and "96 cores" in text
    assert any(CLASS_A in line and "node-a" in line for line in two_host_report.summary.warnings)
    sentences = two_host_report.summary.per_cell
    assert len(sentences) == 4
    assert all("on host class" in sentence for sentence in sentences)
    # within a class keras:tensorflow takes 2x; a mix would read 0.5x or 8x
    assert all("keras:tensorflow/scratch 2x" in sentence for sentence in sentences)
    assert any(
        "a cell counts once per host class" in line for line in two_host_report.summary.headline
    )
    assert "plots/speed-ratio.png" not in two_host_report.missing_plots


def test_old_records_without_host_get_a_stable_unrecorded_class(quick_subset_records):
    classes = {host_class_of(record) for record in quick_subset_records}
    assert len(classes) == 1  # one machine, both engines: one class
    (name,) = classes
    assert name.startswith(f"{UNRECORDED_HOST} (AMD EPYC, 2 cores, ")
    assert host_class_of(copy.deepcopy(quick_subset_records[0])) == name  # stable
    # the host name, the BLAS pools a process loaded and thread settings stay out
    moved = copy.deepcopy(quick_subset_records[0])
    moved["environment"].update(hostname="elsewhere", blas=[], threads=1)
    assert host_class_of(moved) == name
    upgraded = copy.deepcopy(quick_subset_records[0])
    upgraded["environment"]["numpy"] = "3.0.0"
    assert host_class_of(upgraded) != name
    assert host_class_of({}).startswith(f"{UNRECORDED_HOST} (unknown CPU, ? cores, ")


def test_old_store_renders_as_before_with_one_class(quick_report, quick_subset_path):
    loaded = load_results([quick_subset_path])
    classes = describe_host_classes(loaded.records)
    assert len(classes) == 1 and classes[0].hostnames == ("vm",)
    assert host_class_note(classes) == ""
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    comparison = engine_comparison(statistics, paired_seeds(loaded, cells), cells)
    assert len(statistics) == sum(len(info.engines) for info in cells)
    assert len(comparison) == sum(len(info.others) for info in cells)
    assert "Host class" not in comparison_table(comparison).display.columns
    assert "Host class" not in engine_table(statistics).display.columns
    page = quick_report.html.read_text(encoding="utf-8")
    assert "host classes; ratios" not in page
    assert not any("host class" in warning for warning in quick_report.summary.warnings)


def test_an_old_and_a_new_record_of_one_seed_are_not_paired(tmp_path, templates):
    old = run_on(templates["cnn1_3"], "scratch", 0, HOST_A)
    del old["host"]
    new = run_on(templates["cnn1_3"], "keras:tensorflow", 0, HOST_A)
    path = write_records(tmp_path / "results.jsonl", [old, new])
    loaded = load_results([path])
    cells = describe_cells(loaded)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    comparison = engine_comparison(statistics, pairs, cells, loaded)
    assert pairs.empty
    assert list(comparison["paired_seeds"]) == [0, 0]
    assert all(
        "no successful" in note and "on this host class" in note for note in comparison["note"]
    )
    assert all(math.isnan(value) for value in comparison["epoch_time_ratio"])
    assert all("seed(s) 0: scratch and keras:tensorflow" in note for note in comparison["note"])
