"""Time to accuracy on hand-made curves, the default target, the summary over seeds, and the
matrix setting ``target_accuracy`` (stored with the record, never part of the run key)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.time_to_accuracy import (
    DEFAULT_TARGET_FRACTION,
    cell_target,
    time_to_accuracy,
    time_to_accuracy_frame,
    time_to_accuracy_summary,
    time_to_accuracy_table,
)

REPOSITORY = Path(__file__).resolve().parents[2]

CURVES = {
    "epoch": [1, 2, 3, 4],
    "val_accuracy": [0.50, 0.80, 0.90, 0.95],
    "elapsed_seconds": [1.0, 2.5, 3.0, 4.25],
}


def run(cell, engine, seed, val_accuracy, elapsed, status="success", **extra):
    """A record with the fields time to accuracy reads (results-schema names)."""
    dataset, architecture = cell.split("/")[1:]
    return {
        "matrix_cell": cell,
        "experiment": cell.split("/")[0],
        "dataset": dataset,
        "architecture": architecture,
        "engine": engine,
        "device": "cpu",
        "seed": seed,
        "status": status,
        "hyperparameters": extra.pop("hyperparameters", {}),
        "curves": {
            "epoch": list(range(1, len(val_accuracy) + 1)),
            "val_accuracy": val_accuracy,
            "elapsed_seconds": elapsed,
        },
        **extra,
    }


@pytest.mark.parametrize(
    ("target", "seconds", "epoch"),
    [
        (0.50, 1.0, 1),  # reached in the first epoch
        (0.85, 3.0, 3),  # first reached in epoch 3 -> elapsed_seconds[2]
        (0.90, 3.0, 3),  # reaching exactly counts
        (0.95, 4.25, 4),
        (0.96, math.inf, None),  # never reached
    ],
)
def test_time_to_accuracy_is_the_elapsed_time_of_the_first_epoch_reaching_the_target(
    target, seconds, epoch
):
    assert time_to_accuracy(CURVES, target) == (seconds, epoch)


def test_time_to_accuracy_takes_the_first_epoch_not_the_best():
    curves = {"val_accuracy": [0.7, 0.92, 0.88, 0.95], "elapsed_seconds": [2.0, 4.0, 6.0, 8.0]}
    assert time_to_accuracy(curves, 0.9) == (4.0, 2)  # no "epoch" list: 1-based position


def test_float32_accuracy_reaches_the_same_target_as_float64():
    # Keras stores 124/144 as float32, scratch_cnn as float64: both must count as reached
    curves = {"val_accuracy": [0.8611111044883728], "elapsed_seconds": [3.5]}
    assert time_to_accuracy(curves, 124 / 144) == (3.5, 1)


def test_no_validation_curve_is_undefined_not_never():
    seconds, epoch = time_to_accuracy({"val_accuracy": [], "elapsed_seconds": []}, 0.5)
    assert math.isnan(seconds) and epoch is None
    assert math.isnan(time_to_accuracy(None, 0.5)[0])
    assert math.isnan(time_to_accuracy(CURVES, math.nan)[0])


def test_null_epochs_never_reach_and_unequal_lengths_are_cut():
    curves = {"val_accuracy": [None, 0.99, 0.99], "elapsed_seconds": [1.0, 2.0]}
    assert time_to_accuracy(curves, 0.9) == (2.0, 2)
    curves = {"val_accuracy": [0.5, 0.99], "elapsed_seconds": [1.0]}
    assert time_to_accuracy(curves, 0.9)[0] == math.inf


def test_default_target_is_the_fraction_of_the_best_validation_accuracy_in_the_cell():
    cell = "quick/digits8x8/cnn1_3"
    records = [
        run(cell, "scratch", 0, [0.5, 0.9, 0.95], [1.0, 2.0, 3.0]),
        run(cell, "keras", 0, [0.6, 0.97, 0.96], [4.0, 5.0, 6.0]),
        # a failed run's curve does not set the target
        run(cell, "keras", 1, [0.99, 0.99, 0.99], [4.0, 5.0, 6.0], status="failed"),
    ]
    target, source = cell_target(records)
    assert target == pytest.approx(DEFAULT_TARGET_FRACTION * 0.97)
    assert source == "98% of best 0.9700"
    assert cell_target(records, fraction=0.9)[0] == pytest.approx(0.9 * 0.97)

    frame = time_to_accuracy_frame(records)
    assert len(frame) == 2  # the failed run has no time to accuracy
    by_engine = frame.set_index("engine")
    # target 0.9506: scratch reaches it in epoch 3 (0.95 is below), keras in epoch 2
    assert by_engine.loc["scratch", "time_to_accuracy"] == math.inf
    assert by_engine.loc["keras:tensorflow", "time_to_accuracy"] == 5.0
    assert by_engine.loc["keras:tensorflow", "epoch_reached"] == 2


def test_the_matrix_target_wins_over_the_default():
    cell = "quick/digits8x8/cnn1_3"
    hyperparameters = {"target_accuracy": 0.9}
    records = [
        run(cell, "scratch", 0, [0.5, 0.9, 0.95], [1.0, 2.0, 3.0], hyperparameters=hyperparameters),
        run(cell, "keras", 0, [0.6, 0.97, 0.96], [4.0, 5.0, 6.0], hyperparameters=hyperparameters),
    ]
    assert cell_target(records) == (0.9, "matrix")
    frame = time_to_accuracy_frame(records).set_index("engine")
    assert frame.loc["scratch", "time_to_accuracy"] == 2.0
    assert frame.loc["keras:tensorflow", "time_to_accuracy"] == 5.0


def test_summary_takes_the_median_over_seeds_counting_never_as_infinite():
    cell = "quick/digits8x8/cnn1_3"
    records = [
        # target: 0.98 * 1.0 = 0.98
        run(cell, "scratch", 0, [0.5, 1.0], [1.0, 2.0]),  # 2.0
        run(cell, "scratch", 1, [0.99, 1.0], [3.0, 6.0]),  # 3.0
        run(cell, "scratch", 2, [0.5, 0.6], [1.0, 2.0]),  # never
        run(cell, "keras", 0, [0.5, 0.99], [1.0, 5.0]),  # 5.0
        run(cell, "keras", 1, [0.5, 0.6], [1.0, 2.0]),  # never
        run(cell, "keras", 2, [0.5, 0.6], [1.0, 2.0]),  # never
        # two Keras backends in one store stay apart (old records: backend in keras_backend)
        run(cell, "keras", 3, [0.99], [7.0], keras_backend="jax"),
        run(cell, "keras:jax", 4, [0.5, 0.99], [1.0, 9.0]),
        # a contended run's clock measured the machine: left out
        run(cell, "scratch", 5, [0.99], [0.1], timing_quality="contended"),
    ]
    summary = time_to_accuracy_summary(time_to_accuracy_frame(records)).set_index("engine")
    assert list(summary.index) == ["scratch", "keras:jax", "keras:tensorflow"]
    assert summary.loc["scratch", "seeds"] == 3 and summary.loc["scratch", "reached"] == 2
    assert summary.loc["scratch", "median_seconds"] == 3.0  # median of 2, 3, inf
    assert summary.loc["scratch", "median_epoch"] == 1.5  # epochs 2 and 1
    assert summary.loc["keras:tensorflow", "reached"] == 1
    assert summary.loc["keras:tensorflow", "median_seconds"] == math.inf  # 5, inf, inf
    assert summary.loc["keras:jax", "median_seconds"] == 8.0  # median of 7 and 9
    assert summary["target"].tolist() == pytest.approx([0.98] * 3)

    table = time_to_accuracy_table(summary.reset_index())
    shown = table.display.set_index("Engine")
    assert shown.loc["keras:tensorflow", "Median time to target (s)"] == "never"
    assert shown.loc["scratch", "Reached (seeds)"] == "2/3"
    assert shown.loc["scratch", "Median time to target (s)"] == "3"
    assert np.isinf(table.data.set_index("engine").loc["keras:tensorflow", "median_seconds"])


def test_fixture_time_to_accuracy_matches_the_raw_curves(quick_subset_records):
    frame = time_to_accuracy_frame(quick_subset_records)
    assert len(frame) == len(quick_subset_records)
    for record in quick_subset_records:
        cell = [r for r in quick_subset_records if r["matrix_cell"] == record["matrix_cell"]]
        best = max(max(r["curves"]["val_accuracy"]) for r in cell)
        target = DEFAULT_TARGET_FRACTION * best
        accuracy = np.asarray(record["curves"]["val_accuracy"])
        first = int(np.argmax(accuracy >= target - 1e-6))
        expected = record["curves"]["elapsed_seconds"][first]
        row = frame[(frame["cell"] == record["matrix_cell"]) & (frame["seed"] == record["seed"])]
        row = row[row["engine"].str.startswith(record["engine"])]
        assert row["time_to_accuracy"].item() == pytest.approx(expected)


def test_time_to_accuracy_plot_draws_a_panel_per_cell(quick_subset_records, small_plots):
    from reports.time_to_accuracy import plot_time_to_accuracy

    summary = time_to_accuracy_summary(time_to_accuracy_frame(quick_subset_records))
    figure = plot_time_to_accuracy(quick_subset_records, summary, small_plots)
    visible = [axis for axis in figure.axes if axis.get_visible()]
    assert len(visible) == 2
    assert plot_time_to_accuracy([], summary.iloc[0:0], small_plots) is None


def test_report_shows_the_time_to_accuracy_table_and_performance_profile(quick_report):
    page = quick_report.html.read_text(encoding="utf-8")
    assert 'id="time_to_accuracy"' in page and 'id="performance_profile"' in page
    assert 'id="time-to-accuracy"' in page and 'id="performance-profile"' in page
    names = {path.name for path in quick_report.tables}
    assert {"time_to_accuracy.csv", "performance_profile.csv"} <= names
    markdown = quick_report.markdown.read_text(encoding="utf-8")
    assert "## Time to accuracy" in markdown


# --- target_accuracy in the matrix: a reporting setting, outside the run key --------------

#: configuration hash of quick.toml's cnn1_3 cell before target_accuracy existed; the same
#: hash is stored in tests/reports/fixtures/quick_subset.jsonl by the real runner
QUICK_CNN1_3_CONFIGURATION_HASH = "69f7eff3bbfb483d0e9f2694b775dcf708d828f1d66a5181247be145a708de19"


def test_target_accuracy_leaves_quick_toml_run_keys_unchanged(tmp_path, quick_subset_records):
    from suite import matrix
    from suite.results import run_key

    quick = REPOSITORY / "matrices" / "quick.toml"
    cells = {cell.name: cell for cell in matrix.load_matrix(quick).cells}
    cnn = cells["quick/digits8x8/cnn1_3"]
    assert cnn.configuration_hash() == QUICK_CNN1_3_CONFIGURATION_HASH
    configuration = cnn.configuration()
    assert "target_accuracy" not in configuration["harness"]
    stored = [r for r in quick_subset_records if r["matrix_cell"] == cnn.name]
    assert len(stored) == 6
    for record in stored:
        # the keys the runner wrote before the setting existed are the keys it writes now
        assert record["configuration_hash"] == QUICK_CNN1_3_CONFIGURATION_HASH
        label = "scratch/cpu" if record["engine"] == "scratch" else "keras/tensorflow/cpu"
        fingerprint = record["split"]["fingerprint"]
        assert run_key(configuration, fingerprint, label, record["seed"]) == record["key"]
    assert cnn.run_settings()["target_accuracy"] is None

    # setting a target changes what is stored with the record, never the key
    text = quick.read_text(encoding="utf-8").replace(
        "[defaults]\n", "[defaults]\ntarget_accuracy = 0.9\n", 1
    )
    targeted = tmp_path / "quick_targeted.toml"
    targeted.write_text(text, encoding="utf-8")
    with_target = {cell.name: cell for cell in matrix.load_matrix(targeted).cells}
    assert with_target.keys() == cells.keys()
    for name, cell in with_target.items():
        assert cell.configuration_hash() == cells[name].configuration_hash()
        assert cell.run_settings()["target_accuracy"] == 0.9


@pytest.mark.parametrize("value", ["0.9", 0, 1.5, -0.1, True])
def test_target_accuracy_must_be_an_accuracy(tmp_path, value):
    from suite import matrix

    text = textwrap.dedent(
        f"""
        [defaults]
        target_accuracy = {value!r}
        [[experiment]]
        datasets = ["digits8x8"]
        architectures = ["cnn1_3"]
        """
    ).replace("True", "true")
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(matrix.MatrixError, match="target_accuracy is"):
        matrix.load_matrix(path)


def test_frame_columns_are_stable_for_an_empty_store():
    frame = time_to_accuracy_frame([])
    assert frame.empty and "time_to_accuracy" in frame.columns
    assert time_to_accuracy_summary(frame).empty
    assert isinstance(time_to_accuracy_table(time_to_accuracy_summary(frame)).display, pd.DataFrame)


def test_engine_spec_of_old_records_reads_the_backend_wherever_it_is_stored():
    from reports.time_to_accuracy import engine_spec

    # an old record: "keras", the backend only in the environment's thread settings, and
    # "threads" a count (not a mapping)
    old = {
        "engine": "keras",
        "keras_backend": None,
        "environment": {"threads": 2, "thread_settings": {"keras_backend": "jax"}},
    }
    assert engine_spec(old) == "keras:jax"
    assert engine_spec({"engine": "keras", "environment": {"threads": 2}}) == "keras:tensorflow"
    assert engine_spec({"engine": "scratch", "device": "gpu"}) == "scratch:gpu"
    assert engine_spec({"engine": "keras:torch"}) == "keras:torch"
