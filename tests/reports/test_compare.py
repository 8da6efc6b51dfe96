"""``cnnbench compare BASE NEW`` on hand-made stores: exit status with and without a
significant slowdown, intervals checked by hand, and the different-machine warning."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest

from reports.compare import (
    MIN_SEEDS,
    compare_stores,
    difference_interval,
    machine_differences,
    ratio_interval,
    time_verdict,
)
from suite.cli import main
from suite.results import ResultsStore

BASE_TIMES = [1.00, 1.02, 0.98]


def record(
    engine: str,
    seed: int,
    seconds_per_epoch: float,
    accuracy: float = 0.95,
    *,
    architecture: str = "cnn1_3",
    cpu: str = "Test CPU @ 2.0GHz",
    hostname: str = "bench-1",
    host_class: str | None = None,
    keras_backend: str | None = None,
    status: str = "success",
    timing_quality: str | None = None,
) -> dict:
    """A results-schema record with what compare reads (times, accuracy, environment)."""
    cell = f"quick/digits8x8/{architecture}"
    key = hashlib.sha256(f"{cell}\n{engine}\n{keras_backend}\n{seed}".encode()).hexdigest()
    epochs = 3
    result = {
        "schema": 1,
        "run_id": key[:32],
        "created": "2026-11-22T05:30:00+00:00",
        "key": key,
        "configuration_hash": hashlib.sha256(cell.encode()).hexdigest(),
        "status": status,
        "error": None if status == "success" else "MemoryError",
        "matrix_cell": cell,
        "experiment": "quick",
        "dataset": "digits8x8",
        "architecture": architecture,
        "family": "convNet",
        "engine": engine,
        "keras_backend": keras_backend,
        "device": "cpu",
        "seed": seed,
        "engine_order": ["scratch", "keras"],
        "hyperparameters": {"epochs": epochs, "batch_size": 32},
        "split": {"fingerprint": "f" * 64, "train": 1150, "validation": 144, "test": 360},
        "metrics": {"accuracy": accuracy, "loss": 0.1, "weighted_f1": accuracy},
        "timings": {
            "train_seconds": 0.5 + seconds_per_epoch * (epochs - 1),
            "first_epoch_seconds": 0.5,
            "seconds_per_epoch": seconds_per_epoch,
            "epoch_seconds": [0.5] + [seconds_per_epoch] * (epochs - 1),
        },
        "curves": {
            "epoch": [1, 2, 3],
            "val_accuracy": [0.5, 0.8, accuracy],
            "elapsed_seconds": [0.5, 0.5 + seconds_per_epoch, 0.5 + 2 * seconds_per_epoch],
        },
        "training": {"epochs_planned": epochs, "epochs_completed": epochs},
        "environment": {"cpu": cpu, "hostname": hostname, "cores": 2, "threads": 2},
    }
    if host_class is not None:
        result["host"] = {"hostname": hostname, "host_class": host_class}
    if timing_quality is not None:
        result["timing_quality"] = timing_quality
    return result


def write_store(folder: Path, records: list[dict]) -> Path:
    """Append the records with the real writer; return the store's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(folder / "results.jsonl")
    for item in records:
        store.append(item)
    return folder


def stores(tmp_path, new_scratch_times, **new_options):
    """BASE: scratch and keras at BASE_TIMES; NEW: scratch at the given times, keras unchanged."""
    base = [record("scratch", seed, t) for seed, t in enumerate(BASE_TIMES)]
    base += [record("keras", seed, t) for seed, t in enumerate(BASE_TIMES)]
    new = [record("scratch", seed, t, **new_options) for seed, t in enumerate(new_scratch_times)]
    new += [record("keras", seed, t, **new_options) for seed, t in enumerate(BASE_TIMES)]
    return write_store(tmp_path / "base", base), write_store(tmp_path / "new", new)


def test_ratio_interval_of_three_seeds_by_hand():
    # A median of 3 resampled values is the smallest with probability 7/27 (> 2.5%), so the
    # 95% percentile interval runs from min(new)/max(base) to max(new)/min(base).
    ratio, low, high = ratio_interval(BASE_TIMES, [1.30, 1.32, 1.29])
    assert ratio == pytest.approx(1.30 / 1.00)
    assert low == pytest.approx(1.29 / 1.02)
    assert high == pytest.approx(1.32 / 0.98)
    # deterministic: the same stores always give the same interval
    assert ratio_interval(BASE_TIMES, [1.30, 1.32, 1.29]) == (ratio, low, high)


def test_intervals_need_two_seeds_per_store():
    ratio, low, high = ratio_interval([1.0], [2.0, 2.1])
    assert ratio == pytest.approx(2.05) and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(value) for value in ratio_interval([], [1.0]))
    assert MIN_SEEDS == 2
    difference, low, high = difference_interval([0.9, 0.9], [0.95, 0.95])
    assert difference == pytest.approx(0.05)
    assert (low, high) == pytest.approx((0.05, 0.05))  # identical seeds: a zero-width interval


@pytest.mark.parametrize(
    ("low", "high", "verdict", "fails"),
    [
        (1.2, 1.4, "SLOWER beyond 1.1x", True),
        (1.05, 1.4, "slower, not beyond 1.1x", False),
        (0.95, 1.4, "no clear change", False),
        (0.7, 0.9, "faster", False),
        (math.nan, math.nan, "no interval (fewer than 2 seeds in a store)", False),
    ],
)
def test_time_verdict(low, high, verdict, fails):
    assert time_verdict(low, high, 1.10) == (verdict, fails)


def test_significant_slowdown_exits_1(tmp_path, capsys):
    base, new = stores(tmp_path, [1.30, 1.32, 1.29])
    out = tmp_path / "page"
    assert main(["compare", str(base), str(new), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "FAIL: 1 of 2 cell(s) significantly slower than 1.1x BASE" in printed.out
    assert "digits8x8 / cnn1_3 · scratch (1.30x)" in printed.out
    row = next(line for line in printed.out.splitlines() if line.startswith("| digits8x8"))
    assert "| scratch | 3/3 |" in row and "1.300x" in row and "[1.265, 1.347]" in row
    assert "warning" not in printed.err  # same machine
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert "SLOWER beyond 1.1x" in page and "data:image/png;base64," in page
    assert not re.search(r"(src|href)=\"(?!data:)", page)  # nothing outside the page
    assert (out / "compare.md").is_file() and (out / "compare_cells.csv").is_file()


def test_no_significant_slowdown_exits_0(tmp_path, capsys):
    # 5% slower throughout: significant, but within the 10% threshold
    base, new = stores(tmp_path, [1.05, 1.07, 1.03])
    assert main(["compare", str(base), str(new), "--out", str(tmp_path / "page")]) == 0
    assert "slower, not beyond 1.1x" in capsys.readouterr().out


def test_a_large_but_noisy_slowdown_does_not_fail(tmp_path):
    # the median is 1.5x slower, but one seed of NEW is as fast as BASE: not significant
    base, new = stores(tmp_path, [1.5, 1.6, 0.99])
    comparison = compare_stores(base, new)
    cell = next(c for c in comparison.cells if c.engine == "scratch")
    assert cell.ratio == pytest.approx(1.5) and cell.ratio_low < 1.1
    assert comparison.exit_status == 0


def test_threshold_option_and_one_seed_stores(tmp_path, capsys):
    base, new = stores(tmp_path, [1.30, 1.32, 1.29])
    out = str(tmp_path / "page")
    assert main(["compare", str(base), str(new), "--fail-if-slower", "1.5", "--out", out]) == 0
    capsys.readouterr()
    # one seed per store: 2x slower, but no interval, so no failure
    one_base = write_store(tmp_path / "b1", [record("scratch", 0, 1.0)])
    one_new = write_store(tmp_path / "n1", [record("scratch", 0, 2.0)])
    assert main(["compare", str(one_base), str(one_new), "--out", out]) == 0
    assert "no interval" in capsys.readouterr().out


def test_different_machines_compare_with_a_warning(tmp_path, capsys):
    base, new = stores(tmp_path, BASE_TIMES, cpu="Other CPU @ 3.5GHz", hostname="bench-2")
    assert main(["compare", str(base), str(new), "--out", str(tmp_path / "page")]) == 0
    printed = capsys.readouterr()
    assert "warning: the stores ran on different machines (CPU: BASE Test CPU" in printed.err
    assert "host name: BASE bench-1; NEW bench-2" in printed.err
    assert "Warning: the stores ran on different machines" in printed.out  # in the Markdown
    assert "OK: no cell significantly slower" in printed.out


def test_host_class_is_compared_when_both_stores_record_it():
    same = [record("scratch", 0, 1.0, host_class="abc123")]
    other = [record("scratch", 0, 1.0, host_class="def456")]
    old = [record("scratch", 0, 1.0)]  # an old store without host: nothing to compare
    assert machine_differences(same, same) == []
    assert machine_differences(same, old) == []
    (warning,) = machine_differences(same, other)
    assert "host class: BASE abc123; NEW def456" in warning


def test_cells_pair_on_engine_spec_old_and_new_records_alike(tmp_path):
    base = write_store(
        tmp_path / "base",
        [record("keras", s, t, keras_backend="jax") for s, t in enumerate(BASE_TIMES)]
        + [record("scratch", s, t, architecture="lenet2") for s, t in enumerate(BASE_TIMES)],
    )
    new = write_store(
        tmp_path / "new",
        [record("keras:jax", s, t * 2) for s, t in enumerate(BASE_TIMES)]
        + [record("keras:tensorflow", s, t) for s, t in enumerate(BASE_TIMES)],
    )
    comparison = compare_stores(base, new)
    assert [(c.architecture, c.engine) for c in comparison.cells] == [("cnn1_3", "keras:jax")]
    assert comparison.cells[0].significant_slowdown
    assert comparison.only_base == ["digits8x8 / lenet2 · scratch"]
    assert comparison.only_new == ["digits8x8 / cnn1_3 · keras:tensorflow"]


def test_contended_and_failed_runs_are_left_out_of_the_times(tmp_path):
    base = write_store(
        tmp_path / "base", [record("scratch", s, t) for s, t in enumerate(BASE_TIMES)]
    )
    slow = [
        record("scratch", s, t * 3, timing_quality="contended") for s, t in enumerate(BASE_TIMES)
    ]
    new = write_store(tmp_path / "new", [*slow, record("scratch", 9, 50.0, status="failed")])
    default = compare_stores(base, new)
    (cell,) = default.cells
    assert cell.new_seconds == [] and cell.verdict == "no steady-state time in a store"
    assert "3 contended runs left out" in cell.notes
    assert default.exit_status == 0
    included = compare_stores(base, new, include_contended=True)
    assert included.cells[0].new_seconds == [3 * t for t in BASE_TIMES]  # not the failed run
    assert included.exit_status == 1


def test_default_output_folder_is_beside_new_and_a_missing_store_exits_2(tmp_path, capsys):
    base, new = stores(tmp_path, BASE_TIMES)
    assert main(["compare", str(base), str(new)]) == 0
    assert (tmp_path / "compare" / "compare.html").is_file()
    assert f"compare: {tmp_path / 'compare' / 'compare.html'}" in capsys.readouterr().out
    assert main(["compare", str(base), str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_accuracy_change_is_reported_with_its_interval(tmp_path):
    base = write_store(
        tmp_path / "base",
        [record("scratch", s, 1.0, accuracy=a) for s, a in enumerate([0.90, 0.92, 0.94])],
    )
    new = write_store(
        tmp_path / "new",
        [record("scratch", s, 1.0, accuracy=a) for s, a in enumerate([0.95, 0.96, 0.97])],
    )
    (cell,) = compare_stores(base, new).cells
    assert cell.accuracy_change == pytest.approx(0.96 - 0.92)
    # the largest possible mean of NEW minus the smallest of BASE bounds the interval
    assert 0 < cell.accuracy_low <= cell.accuracy_change <= cell.accuracy_high <= 0.97 - 0.90
