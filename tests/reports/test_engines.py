"""Reports for any number of engines: hand-made stores of scratch and three Keras backends,
old-format stores, the baseline option, contended runs and the engine palette."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from reports.build import build_report
from reports.cells import BaselineError, describe_cells, resolve_baseline
from reports.loading import load_results
from reports.statistics import (
    NO_CLEAR_DIFFERENCE,
    engine_comparison,
    engine_speeds,
    engine_statistics,
    find_gaps,
    paired_seeds,
)
from reports.tables import comparison_table, seed_table_per_class, speed_table
from suite.cli import main

from .conftest import FOUR_ENGINES, synthetic_record, write_records

#: steady-state seconds per epoch of each engine relative to scratch (keras:torch: per seed)
RELATIVE_SPEED = {"scratch": 1.0, "keras:tensorflow": 2.0, "keras:jax": 0.5}
TORCH_RATIOS = [0.9, 1.1, 0.95, 1.08, 0.92, 1.12]
#: machine drift per seed, shared by every engine of the seed
SEED_FACTOR = [1.0, 1.05, 0.97, 1.02, 0.99, 1.03]
#: accuracy of each engine minus scratch's
ACCURACY_OFFSET = {
    "scratch": [0.0] * 6,
    "keras:tensorflow": [-0.02, -0.018, -0.025, -0.02, -0.019, -0.023],
    "keras:jax": [0.003, -0.002, 0.001, -0.004, 0.002, -0.001],
    "keras:torch": [0.0] * 6,
}
#: seeds per architecture: 6 lets the seeds alone decide, 3 needs the per-epoch spread
SEEDS = {"cnn1_3": 6, "dnn_128_128_64": 3}


def epoch_times(engine: str, seed: int) -> list[float]:
    """Ten epochs: a slow first one (Keras traces), then the engine's steady speed with a
    small deterministic wobble."""
    relative = TORCH_RATIOS[seed] if engine == "keras:torch" else RELATIVE_SPEED[engine]
    first = 0.3 if engine == "scratch" else 3.0
    steady = [
        relative * SEED_FACTOR[seed] * (1 + 0.02 * (((epoch * 7 + seed) % 5) - 2) / 2)
        for epoch in range(1, 10)
    ]
    return [first, *steady]


def four_engine_records(templates, old_format=False, engines=FOUR_ENGINES, contended=()):
    records = []
    for architecture, seeds in SEEDS.items():
        for seed in range(seeds):
            for engine in engines:
                records.append(
                    synthetic_record(
                        templates[architecture],
                        engine,
                        seed,
                        epoch_times(engine, seed),
                        0.93 + 0.002 * seed + ACCURACY_OFFSET[engine][seed],
                        old_format=old_format,
                        engines=engines,
                        timing_quality="contended"
                        if (architecture, engine, seed) in contended
                        else "ok",
                    )
                )
    return records


def tables_of(path, baseline=None):
    loaded = load_results([path])
    if baseline is not None:
        baseline = resolve_baseline(baseline, sorted({r["engine"] for r in loaded.records}))
    cells = describe_cells(loaded, baseline)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    comparison = engine_comparison(statistics, pairs, cells)
    speeds = engine_speeds(loaded, statistics, comparison, cells)
    return loaded, cells, statistics, pairs, comparison, speeds


@pytest.fixture(scope="module")
def four_engine_store(tmp_path_factory, templates):
    folder = tmp_path_factory.mktemp("four_engines")
    return write_records(folder / "results.jsonl", four_engine_records(templates))


@pytest.fixture(scope="module")
def four_engine_report(tmp_path_factory, four_engine_store, small_plots):
    out = tmp_path_factory.mktemp("four_engine_report")
    return build_report([four_engine_store], out, small_plots)


def test_cells_hold_all_four_engines_in_the_reports_order_with_scratch_as_baseline(
    four_engine_store,
):
    _, cells, statistics, pairs, comparison, _ = tables_of(four_engine_store)
    assert [info.engines for info in cells] == [FOUR_ENGINES] * 2
    assert [info.baseline for info in cells] == ["scratch"] * 2
    assert len(statistics) == 8  # 2 cells x 4 engines
    assert len(pairs) == 3 * (6 + 3)  # 3 engines against scratch, every seed
    assert list(comparison["engine"]) == list(FOUR_ENGINES[1:]) * 2
    assert set(comparison["baseline"]) == {"scratch"}


def test_verdicts_per_engine_follow_the_made_up_speeds_and_accuracies(four_engine_store):
    *_, comparison, _ = tables_of(four_engine_store)
    verdicts = {
        (row.architecture, row.engine): (row.time_verdict, row.accuracy_verdict)
        for row in comparison.itertuples()
    }
    for architecture in SEEDS:
        assert verdicts[architecture, "keras:tensorflow"][0] == "scratch faster"
        assert verdicts[architecture, "keras:jax"][0] == "keras:jax faster"
        assert verdicts[architecture, "keras:torch"][0] == NO_CLEAR_DIFFERENCE
        assert verdicts[architecture, "keras:jax"][1] == NO_CLEAR_DIFFERENCE
        assert verdicts[architecture, "keras:torch"][1] == NO_CLEAR_DIFFERENCE
    # 6 seeds decide a 2% accuracy gap; 3 seeds that all agree give their range
    assert verdicts["cnn1_3", "keras:tensorflow"][1] == "scratch more accurate"
    assert verdicts["dnn_128_128_64", "keras:tensorflow"][1] == "scratch more accurate"
    methods = dict(zip(comparison["architecture"], comparison["time_method"], strict=False))
    assert methods["cnn1_3"] == "sign-flip test over 6 seeds"
    assert methods["dnn_128_128_64"].startswith("sign-flip test over 27 paired epochs of 3 seeds")
    # the ratios are engine / baseline, the geometric mean of the seeds' ratios
    for row in comparison.itertuples():
        seeds = range(SEEDS[row.architecture])
        ratios = [
            np.median(epoch_times(row.engine, s)[1:]) / np.median(epoch_times("scratch", s)[1:])
            for s in seeds
        ]
        np.testing.assert_allclose(row.epoch_time_ratio, np.exp(np.mean(np.log(ratios))), 1e-12)
        assert row.epoch_time_ratio_low <= row.epoch_time_ratio <= row.epoch_time_ratio_high


def test_engine_speeds_give_every_engine_its_ratio_and_the_fastest(four_engine_store):
    *_, comparison, speeds = tables_of(four_engine_store)
    for cell, rows in speeds.groupby("cell"):
        rows = rows.set_index("engine")
        assert list(rows.index) == list(FOUR_ENGINES)
        assert rows.loc["scratch", "ratio_to_baseline"] == 1.0
        assert rows["fastest"].sum() == 1 and rows.loc["keras:jax", "fastest"]
        assert rows["fastest_clear"].all()  # jax is clearly faster than each of the three
        compared = comparison[comparison["cell"] == cell].set_index("engine")
        for engine in FOUR_ENGINES[1:]:
            assert rows.loc[engine, "ratio_to_baseline"] == compared.loc[engine, "epoch_time_ratio"]
    table = speed_table(speeds)
    assert list(table.display.columns) == [
        "Data set", "Architecture", "Baseline",
        *(f"{engine} s/epoch (vs baseline)" for engine in FOUR_ENGINES), "Fastest",
    ]  # fmt: skip
    assert list(table.display["Fastest"]) == ["keras:jax (clear)"] * 2
    assert table.display[f"{FOUR_ENGINES[0]} s/epoch (vs baseline)"].str.endswith("(1x)").all()


def test_every_table_form_names_all_four_engines(four_engine_store):
    loaded, cells, _, _, comparison, _ = tables_of(four_engine_store)
    display = comparison_table(comparison).display
    assert list(display["Engine"]) == list(FOUR_ENGINES[1:]) * 2
    assert display["95% interval"].str.match(r"^[\d.]+x to [\d.]+x$").all()
    for info in cells:
        table = seed_table_per_class(loaded, info)
        assert list(table.display.columns) == [
            "Class label", "Amount",
            *(f"F1 {engine}" for engine in FOUR_ENGINES),
            *(f"AR {engine}" for engine in FOUR_ENGINES),
        ]  # fmt: skip
        for engine in FOUR_ENGINES:
            assert table.data[f"f1_{engine}"].notna().all()
    assert find_gaps(loaded, cells).empty


def test_the_page_renders_every_table_and_plot_for_four_engines(four_engine_report):
    html = four_engine_report.html.read_text(encoding="utf-8")
    stems = {path.stem for path in four_engine_report.plots}
    for prefix in ("learning-curves", "confusion", "gains", "filters"):
        assert f"{prefix}-quick-digits8x8-cnn1_3" in stems
    assert {"speed-ratio", "epoch-times", "accuracy-vs-time", "per-class-f1-digits8x8"} <= stems
    # the one figure not drawn: a dense net has no convolution kernel
    assert [entry.split(":")[0] for entry in four_engine_report.missing_plots] == [
        "filters-quick-digits8x8-dnn_128_128_64"
    ]
    assert html.count("data:image/png;base64,") == len(four_engine_report.plots)
    for name in ("comparison", "engine_speeds", "engines", "seed000_table1"):
        table = html.split(f'id="{name}-table"', 1)[1].split("</table>", 1)[0]
        for engine in FOUR_ENGINES:
            assert f">{engine}" in table, (name, engine)
    summary = html[html.index('<section id="summary">') : html.index("</section>")]
    assert (
        "Training speed, scratch vs keras:tensorflow (steady-state s/epoch, 95% interval of the "
        "paired ratio): scratch faster in 2 cells, keras:tensorflow faster in 0, no clear "
        "difference in 0 (of 2 compared cells)." in summary
    )
    assert "scratch faster in 0 cells, keras:jax faster in 2, no clear difference in 0" in summary
    assert "scratch faster in 0 cells, keras:torch faster in 0, no clear difference in 2" in summary
    assert (
        "Fastest engine per cell (lowest median s/epoch): keras:jax in 2 cells (clearly in 2)."
        in summary
    )
    assert "Engines: scratch, keras:tensorflow, keras:jax, keras:torch. Baseline: scratch" in html


def test_learning_curves_and_palette_cover_four_engines(four_engine_store, small_plots):
    from reports import plots

    loaded, cells, *_ = tables_of(four_engine_store)
    figure = plots.plot_learning_curves(loaded, cells[0], small_plots)
    legend = [text.get_text() for text in figure.axes[1].get_legend().get_texts()]
    assert set(FOUR_ENGINES) <= set(legend)
    palette = plots.palette_for(FOUR_ENGINES)
    assert len(set(palette.values())) == 4
    # a colour belongs to the engine, not to its place in a figure
    assert plots.palette_for(["keras:torch"]) == {"keras:torch": palette["keras:torch"]}
    unknown = [f"plugin:{index}" for index in range(30)]
    many = plots.palette_for([*FOUR_ENGINES, *unknown[:12]])
    assert len(set(many.values())) == 16  # distinct while colours last
    assert plots.engine_colour("plugin:3") == plots.engine_colour("plugin:3")
    assert len(plots.palette_for(unknown)) == 30  # more engines than colours: still drawn


def test_old_records_load_as_keras_with_their_backend(tmp_path, templates):
    records = four_engine_records(templates, old_format=True)
    # a record from before the field: the backend only in the environment block
    # (whose "threads" is a count, not a mapping)
    legacy = next(r for r in records if r["keras_backend"] == "torch")
    legacy["keras_backend"] = None
    legacy["environment"].update(threads=2, keras_backend="torch")
    assert {r["engine"] for r in records} == {"scratch", "keras"}
    loaded = load_results([write_records(tmp_path / "results.jsonl", records)])
    assert sorted({r["engine"] for r in loaded.records}) == sorted(FOUR_ENGINES)
    assert {r["_stored_engine"] for r in loaded.records} == {"scratch", "keras"}
    assert set(loaded.runs["stored_engine"]) == {"scratch", "keras"}
    legacy_loaded = next(r for r in loaded.records if r["run_id"] == legacy["run_id"])
    assert legacy_loaded["engine"] == "keras:torch"
    # a scratch record's engine_order "keras" is the backend its run used
    scratch = next(r for r in loaded.records if r["engine"] == "scratch" and r["seed"] == 0)
    assert scratch["engine_order"] == ["scratch", "keras:tensorflow"]


def test_two_backends_in_one_old_store_are_not_collapsed(tmp_path, templates):
    engines = ("scratch", "keras:tensorflow", "keras:jax")
    records = four_engine_records(templates, old_format=True, engines=engines)
    path = write_records(tmp_path / "results.jsonl", records)
    loaded, cells, statistics, pairs, comparison, _ = tables_of(path)
    assert len(loaded.records) == len(records) and loaded.superseded == 0
    assert [info.engines for info in cells] == [engines] * 2
    succeeded = statistics.set_index(["architecture", "engine"])["seeds_succeeded"]
    for architecture, seeds in SEEDS.items():
        for engine in engines:
            assert succeeded[architecture, engine] == seeds
    assert find_gaps(loaded, cells).empty
    # each backend paired with scratch on every seed, none dropped as a duplicate seed
    counts = pairs.groupby(["model", "engine"]).size()
    assert counts["cnn1_3", "keras:jax"] == counts["cnn1_3", "keras:tensorflow"] == 6
    jax = comparison[comparison["engine"] == "keras:jax"]
    assert list(jax["time_verdict"]) == ["keras:jax faster"] * 2


def test_the_baseline_option_compares_every_engine_with_the_one_chosen(
    four_engine_store, tmp_path, capsys
):
    *_, comparison, _ = tables_of(four_engine_store, baseline="keras:jax")
    assert set(comparison["baseline"]) == {"keras:jax"}
    assert list(comparison["engine"][:3]) == ["scratch", "keras:tensorflow", "keras:torch"]
    assert set(comparison["time_verdict"]) == {"keras:jax faster"}
    scratch = comparison[comparison["engine"] == "scratch"].iloc[0]
    assert scratch["epoch_time_ratio"] == pytest.approx(2.0, rel=0.02)  # scratch / jax
    # a bare family means the store's only engine of it; an absent engine is an error
    assert resolve_baseline("scratch", ["keras:jax", "scratch:gpu"]) == "scratch:gpu"
    assert resolve_baseline("keras", ["scratch", "keras:jax"]) == "keras:jax"
    assert resolve_baseline(None, ["keras:torch", "keras:jax"]) == "keras:jax"
    with pytest.raises(BaselineError, match=r"their engines are scratch, keras:jax"):
        resolve_baseline("keras:torch", ["keras:jax", "scratch"])
    out = tmp_path / "report"
    code = main(["report", str(four_engine_store), "--out", str(out), "--baseline", "keras:cntk"])
    assert code == 2
    assert "names no engine of these results" in capsys.readouterr().err
    assert not (out / "report.html").exists()


def test_contended_runs_are_left_out_of_times_and_counted(tmp_path, templates, small_plots):
    contended = {("cnn1_3", "keras:jax", 0), ("cnn1_3", "scratch", 3)}
    records = four_engine_records(templates, contended=contended)
    for record in records:
        if (record["architecture"], record["engine"], record["seed"]) in contended:
            # what a disturbed clock looks like: everything 30x slower
            record["timings"]["seconds_per_epoch"] *= 30
            record["timings"]["epoch_seconds"] = [
                t * 30 for t in record["timings"]["epoch_seconds"]
            ]
            record["timings"]["contention"] = {  # what the probe saw beside the run
                "other_cores": 0.9 + 0.1 * record["seed"],
                "top_other_processes": [{"pid": 7, "command": "python spin.py", "cpu_seconds": 3}],
            }
    path = write_records(tmp_path / "results.jsonl", records)
    _, _, statistics, pairs, comparison, _ = tables_of(path)
    row = statistics.set_index(["architecture", "engine"]).loc[("cnn1_3", "keras:jax")]
    assert row["contended_runs"] == 1
    expected = np.median([np.median(epoch_times("keras:jax", s)[1:]) for s in range(1, 6)])
    np.testing.assert_allclose(row["seconds_per_epoch_median"], expected, rtol=1e-12)
    jax = comparison.set_index(["architecture", "engine"]).loc[("cnn1_3", "keras:jax")]
    assert (jax["paired_seeds"], jax["timed_pairs"], jax["contended_pairs"]) == (6, 4, 2)
    ratios = [  # the seeds where neither run was contended
        np.median(epoch_times("keras:jax", s)[1:]) / np.median(epoch_times("scratch", s)[1:])
        for s in (1, 2, 4, 5)
    ]
    np.testing.assert_allclose(jax["epoch_time_ratio"], np.exp(np.mean(np.log(ratios))), 1e-12)
    assert jax["time_verdict"] == "keras:jax faster"
    assert "2 contended pair(s) left out of the times" in jax["note"]
    # accuracy still pairs every seed
    assert math.isfinite(jax["accuracy_difference_mean"])
    assert pairs[(pairs["model"] == "cnn1_3") & (pairs["engine"] == "keras:jax")].shape[0] == 6
    # the page of the contended cell alone (fewer figures to draw)
    alone = [record for record in records if record["architecture"] == "cnn1_3"]
    alone_path = write_records(tmp_path / "alone.jsonl", alone)
    report = build_report([alone_path], tmp_path / "report", small_plots)
    html = report.html.read_text(encoding="utf-8")
    assert "2 contended runs left out of the time figures and verdicts" in html
    assert "2 contended runs left out of every time figure and verdict." in html
    # the page names the load the runs ran beside
    assert (
        "The load: busiest other process: &#x27;python spin.py&#x27; in 2 of 2 runs; "
        "other processes used 0.90 to 1.20 of the cores on average." in html
    )
    assert re.search(r"<td[^>]*>6 \(2 contended\)</td>", html)


def test_records_without_timing_quality_are_timed(tmp_path, templates):
    records = four_engine_records(templates)
    for record in records:
        del record["timing_quality"], record["timing_quality_reason"]
    loaded = load_results([write_records(tmp_path / "results.jsonl", records)])
    assert set(loaded.runs["timing_quality"]) == {"unknown"}
    statistics = engine_statistics(loaded, describe_cells(loaded))
    assert (statistics["contended_runs"] == 0).all()
    assert statistics["seconds_per_epoch_median"].notna().all()
