"""The performance profile on a hand-made 3-engine table, values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.performance_profile import (
    performance_profile,
    performance_profile_table,
    performance_ratios,
    plot_performance_profile,
    steady_epoch_times,
)

# seconds per epoch, cells x engines; NaN: the engine has no time in that cell
TIMES = pd.DataFrame(
    {
        "scratch": [1.0, 2.0, 3.0, math.nan],
        "keras:tensorflow": [2.0, 1.0, 9.0, 4.0],
        "keras:jax": [1.5, 5.0, 3.0, 2.0],
    },
    index=["w", "x", "y", "z"],
)

# ratios to the fastest engine of each cell, by hand:
#   w: best 1   -> scratch 1,   tensorflow 2, jax 1.5
#   x: best 1   -> scratch 2,   tensorflow 1, jax 5
#   y: best 3   -> scratch 1,   tensorflow 3, jax 1     (a tie: both are the fastest)
#   z: best 2   -> scratch inf, tensorflow 2, jax 1
RATIOS = {
    "scratch": [1.0, 2.0, 1.0, math.inf],
    "keras:tensorflow": [2.0, 1.0, 3.0, 2.0],
    "keras:jax": [1.5, 5.0, 1.0, 1.0],
}

# share of the 4 cells with ratio <= tau
EXPECTED = {
    1.0: {"scratch": 0.50, "keras:tensorflow": 0.25, "keras:jax": 0.50},
    1.25: {"scratch": 0.50, "keras:tensorflow": 0.25, "keras:jax": 0.50},
    1.5: {"scratch": 0.50, "keras:tensorflow": 0.25, "keras:jax": 0.75},
    2.0: {"scratch": 0.75, "keras:tensorflow": 0.75, "keras:jax": 0.75},
    3.0: {"scratch": 0.75, "keras:tensorflow": 1.00, "keras:jax": 0.75},
    4.0: {"scratch": 0.75, "keras:tensorflow": 1.00, "keras:jax": 0.75},
}


def test_ratios_are_times_over_the_fastest_engine_of_the_cell():
    ratios = performance_ratios(TIMES)
    for engine, expected in RATIOS.items():
        assert ratios[engine].tolist() == expected


def test_profile_at_hand_checked_factors():
    profile = performance_profile(TIMES, list(EXPECTED))
    for tau, shares in EXPECTED.items():
        for engine, share in shares.items():
            assert profile.at[tau, engine] == share, (tau, engine)


def test_default_grid_runs_from_1_to_4_and_holds_every_step():
    profile = performance_profile(TIMES)
    assert profile.index[0] == 1.0 and profile.index[-1] == 4.0
    assert profile.index.is_monotonic_increasing
    for engine in TIMES.columns:
        assert profile[engine].is_monotonic_increasing  # a profile never falls
    # just below and at the jax step at 1.5
    assert profile["keras:jax"][profile.index < 1.5].iloc[-1] == 0.5
    assert profile.at[1.5, "keras:jax"] == 0.75


def test_a_ratio_like_0_6_over_0_4_counts_within_1_5():
    times = pd.DataFrame({"a": [0.4], "b": [0.6]})
    assert performance_profile(times, [1.5]).at[1.5, "b"] == 1.0


def test_cells_without_any_time_are_left_out_and_inf_never_counts():
    times = TIMES.copy()
    times.loc["empty"] = math.nan
    times.loc["never"] = [math.inf, math.inf, math.inf]  # nobody reached a target
    assert list(performance_ratios(times).index) == ["w", "x", "y", "z"]
    assert performance_profile(times, [4.0]).at[4.0, "scratch"] == 0.75


def test_table_lists_shares_and_cells_timed():
    table = performance_profile_table(TIMES)
    shown = table.display.set_index("Engine")
    assert shown.loc["scratch", "Cells timed"] == "3/4"
    assert shown.loc["keras:jax", "≤ 1.5x"] == "75%"
    assert shown.loc["keras:tensorflow", "≤ 3x"] == "100%"
    data = table.data.set_index("engine")
    assert data.loc["scratch", "within_2x"] == 0.75
    assert "steady-state seconds per epoch" in table.title


def test_steady_epoch_times_are_medians_over_seeds_keyed_on_engine_spec():
    def record(engine, seed, seconds, **extra):
        return {
            "matrix_cell": "quick/digits8x8/cnn1_3",
            "dataset": "digits8x8",
            "architecture": "cnn1_3",
            "engine": engine,
            "seed": seed,
            "status": extra.pop("status", "success"),
            "timings": {"seconds_per_epoch": seconds},
            **extra,
        }

    records = [
        record("scratch", 0, 1.0),
        record("scratch", 1, 3.0),
        record("scratch", 2, 2.0),
        record("scratch", 3, 100.0, timing_quality="contended"),
        record("scratch", 4, 100.0, status="failed"),
        record("keras", 0, 4.0, keras_backend="jax"),
        record("keras", 1, 6.0, keras_backend="jax"),
        record("keras", 0, 0.5),  # tensorflow by default
    ]
    times = steady_epoch_times(records)
    assert list(times.columns) == ["scratch", "keras:jax", "keras:tensorflow"]
    row = times.loc["quick/digits8x8/cnn1_3"]
    assert row.tolist() == [2.0, 5.0, 0.5]
    assert steady_epoch_times([]).empty


def test_fixture_profile_matches_the_raw_json(quick_subset_records):
    times = steady_epoch_times(quick_subset_records)
    for cell in times.index:
        for engine in ("scratch", "keras"):
            values = [
                r["timings"]["seconds_per_epoch"]
                for r in quick_subset_records
                if r["matrix_cell"] == cell and r["engine"] == engine
            ]
            column = "scratch" if engine == "scratch" else "keras:tensorflow"
            assert times.at[cell, column] == pytest.approx(np.median(values))


def test_plot_has_one_step_curve_per_engine(small_plots):
    figure = plot_performance_profile(TIMES, small_plots)
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.get_lines()] == list(TIMES.columns)
    assert "steady-state seconds per epoch" in axis.get_title()
    assert plot_performance_profile(pd.DataFrame(), small_plots) is None
