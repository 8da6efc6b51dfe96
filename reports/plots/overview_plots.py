"""Figures across cells: accuracy vs training time, per-class F1 heatmap, time ratios to
the baseline, every engine's epoch times."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.cells import CellInfo, all_engines, engine_rank
from reports.hosts import short_host_label, show_host_column
from reports.loading import CONTENDED, LoadedResults
from reports.plots.style import MAX_ANNOTATED_CLASSES, PlotSettings, palette_for
from reports.statistics import class_names_of, successful_records, successful_runs


def plot_accuracy_vs_time(
    loaded: LoadedResults, cells: Sequence[CellInfo], settings: PlotSettings
) -> Figure | None:
    """Test accuracy vs training time, one point per run; engine as hue, architecture as marker.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells (for the engines' order).
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        One panel per data set, time on a log axis (per data set and host class, titled
        ``dataset @ class``, when the runs come from several host classes: times of
        different machines never share a panel); None when no run succeeded.
    """
    runs = loaded.runs
    runs = runs[(runs["status"] == "success")].dropna(subset=["accuracy", "train_seconds"])
    if runs.empty:
        return None
    if show_host_column(runs):
        panels = [
            (host, f"{dataset}\n@ {short_host_label(host)}")
            for dataset, host in zip(runs["dataset"], runs["host_class"], strict=True)
        ]
        runs = runs.assign(panel=[panel for _, panel in panels])
        datasets = [panel for _, panel in sorted(set(panels))]
    else:
        runs = runs.assign(panel=runs["dataset"])
        datasets = sorted(runs["dataset"].unique())
    engines = [engine for engine in all_engines(list(cells)) if engine in set(runs["engine"])]
    architectures = [info.architecture for info in cells]
    architectures = [a for a in dict.fromkeys(architectures) if a in set(runs["architecture"])]
    figure = settings.new_figure(4.5 * len(datasets) + 2.5, 4.0)
    axes = np.atleast_1d(figure.subplots(1, len(datasets), squeeze=False)).ravel()
    for index, (axis, dataset) in enumerate(zip(axes, datasets, strict=True)):
        sns.scatterplot(
            data=runs[runs["panel"] == dataset],
            x="train_seconds",
            y="accuracy",
            hue="engine",
            hue_order=engines,
            palette=palette_for(engines),
            style="architecture",
            style_order=architectures,
            s=50,
            ax=axis,
            legend=index == len(datasets) - 1,
        )
        axis.set_xscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
        axis.xaxis.set_major_formatter(plain)
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_xlabel("training time (s, log scale)")
        axis.set_title(dataset)
    legend = axes[-1].get_legend()
    if legend is not None:
        legend.set_loc("upper left")
        legend.set_bbox_to_anchor((1.02, 1.0))
        for text in legend.get_texts():
            text.set_fontsize(7)
    figure.suptitle("Test accuracy vs training time (one point per run)")
    return figure


def plot_per_class_f1(
    loaded: LoadedResults, cells: Sequence[CellInfo], dataset: str, settings: PlotSettings
) -> Figure | None:
    """Heatmap of per-class F1 (mean over seeds): rows architecture x engine, columns classes.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells; only those of ``dataset`` are drawn.
    dataset : str
        The data set.
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        The heatmap; None when no run of the data set succeeded.
    """
    rows: dict[str, np.ndarray] = {}
    names: list[str] = []
    for info in cells:
        if info.dataset != dataset:
            continue
        for engine in info.engines:
            records = successful_records(loaded, info.cell, engine)
            record_names = class_names_of(records)
            if not record_names:
                continue
            names = names or record_names
            if record_names != names:
                continue
            values = [
                [np.nan if v is None else v for v in r["metrics"]["per_class"]["f1"]]
                for r in records
                if len((r["metrics"].get("per_class") or {}).get("f1") or []) == len(names)
            ]
            if values:
                rows[f"{info.model} · {engine}"] = np.nanmean(np.asarray(values, float), axis=0)
    if not rows:
        return None
    frame = pd.DataFrame(rows, index=names).T
    height = 0.32 * len(frame) + 1.6
    figure = settings.new_figure(0.55 * len(names) + 3.5, height)
    axis = figure.subplots()
    sns.heatmap(
        frame,
        vmin=max(0.0, float(np.nanmin(frame.to_numpy())) - 0.02),
        vmax=1.0,
        cmap="viridis",
        annot=len(names) <= MAX_ANNOTATED_CLASSES,
        fmt=".2f",
        annot_kws={"fontsize": 6},
        ax=axis,
    )
    axis.set_xlabel("class")
    axis.set_ylabel("")
    axis.set_title(f"{dataset}: per-class F1 (mean over seeds)")
    return figure


def plot_speed_ratios(
    comparison: pd.DataFrame, pairs: pd.DataFrame, settings: PlotSettings
) -> Figure | None:
    """Per cell and engine: steady-state time ratio to the baseline with its interval.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`reports.statistics.engine_comparison` (the geometric mean ratio and its
        95% interval).
    pairs : pandas.DataFrame
        :func:`reports.statistics.paired_seeds` (each uncontended seed's ratio, drawn as a
        small dot).
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        One marker per cell x engine (colour: engine) with its interval as a bar, on a log
        axis with a line at 1x; None when no pair was timed. When the comparisons span
        several host classes, each cell has one category per class (``cell @ class``):
        each ratio is from one class's pairs.
    """
    frame = comparison[comparison["timed_pairs"] > 0].dropna(subset=["epoch_time_ratio"])
    if frame.empty:
        return None
    several = show_host_column(frame)

    def label_of(row: Any) -> str:
        label = f"{row.dataset} / {row.model}"
        return f"{label}\n@ {short_host_label(row.host_class)}" if several else label

    labels = list(dict.fromkeys(label_of(row) for row in frame.itertuples()))
    engines = sorted(dict.fromkeys(frame["engine"]), key=engine_rank)
    palette = palette_for(engines)
    width = 0.7 / len(engines)
    figure = settings.new_figure(*_category_figure_size(labels))
    axis = figure.subplots()
    timed_pairs = pairs[~pairs["contended"].astype(bool)] if len(pairs) else pairs
    for offset_index, engine in enumerate(engines):
        offset = (offset_index - (len(engines) - 1) / 2) * width
        rows = frame[frame["engine"] == engine]
        x = np.array([labels.index(label_of(r)) for r in rows.itertuples()])
        ratio = rows["epoch_time_ratio"].to_numpy(dtype=float)
        low = rows["epoch_time_ratio_low"].to_numpy(dtype=float)
        high = rows["epoch_time_ratio_high"].to_numpy(dtype=float)
        # no bar where there is no interval (too few seeds) or the side is unbounded
        below = np.where(np.isfinite(low) & (low > 0), ratio - low, 0.0)
        above = np.where(np.isfinite(high), high - ratio, 0.0)
        axis.errorbar(
            x + offset, ratio, yerr=[below, above], fmt="o", color=palette[engine],
            capsize=3, label=engine, markersize=6,
        )  # fmt: skip
        seeds = timed_pairs[timed_pairs["engine"] == engine] if len(timed_pairs) else timed_pairs
        for row in seeds.itertuples():
            label = label_of(row)
            if label in labels and np.isfinite(row.epoch_time_ratio):
                axis.plot(
                    labels.index(label) + offset, row.epoch_time_ratio, ".",
                    color=palette[engine], alpha=0.45, markersize=4,
                )  # fmt: skip
    axis.axhline(1.0, color="black", linewidth=1, linestyle="--")
    axis.set_yscale("log")
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_xticks(range(len(labels)), labels)
    _rotate_ticks(axis)
    baselines = ", ".join(dict.fromkeys(frame["baseline"]))
    axis.set_ylabel(f"s/epoch engine / {baselines}")
    axis.set_title("epoch time / baseline's (below 1: faster)", fontsize=9)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return figure


def plot_epoch_times(
    loaded: LoadedResults, cells: Sequence[CellInfo], settings: PlotSettings
) -> Figure | None:
    """Every engine's steady-state seconds per epoch per cell, one point per run.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells (their order and engines).
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        Points (colour: engine, side by side within a cell) on a log axis; contended runs
        are left out. When the runs come from several host classes, each cell has one
        category per class (``cell @ class``), grouped by class. None when no uncontended
        run stored seconds per epoch.
    """
    runs = successful_runs(loaded)
    runs = runs[runs["timing_quality"] != CONTENDED] if len(runs) else runs
    runs = runs.dropna(subset=["seconds_per_epoch"]) if len(runs) else runs
    if runs.empty:
        return None
    label_of = {info.cell: info.label for info in cells}
    if show_host_column(runs):
        frame = runs.assign(
            label=[
                f"{label_of.get(cell, cell)}\n@ {short_host_label(host)}"
                for cell, host in zip(runs["cell"], runs["host_class"], strict=True)
            ]
        )
        labels = [
            f"{info.label}\n@ {short_host_label(host)}"
            for host in sorted(set(frame["host_class"]))
            for info in cells
            if f"{info.label}\n@ {short_host_label(host)}" in set(frame["label"])
        ]
    else:
        frame = runs.assign(label=[label_of.get(cell, cell) for cell in runs["cell"]])
        labels = [info.label for info in cells if info.label in set(frame["label"])]
    engines = [engine for engine in all_engines(cells) if engine in set(frame["engine"])]
    figure = settings.new_figure(*_category_figure_size(labels))
    axis = figure.subplots()
    sns.stripplot(
        data=frame, x="label", y="seconds_per_epoch", hue="engine", order=labels,
        hue_order=engines, palette=palette_for(engines), dodge=True, jitter=0.15, size=5,
        log_scale=True, ax=axis,
    )  # fmt: skip
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_xlabel("")
    axis.set_ylabel("s per steady-state epoch")
    axis.set_title("steady-state epoch time (one point per run)", fontsize=9)
    _rotate_ticks(axis)
    legend = axis.get_legend()
    if legend is not None:
        legend.set_loc("upper left")
        legend.set_bbox_to_anchor((1.01, 1.0))
        legend.set_title(None)
        for text in legend.get_texts():
            text.set_fontsize(7)
    return figure


def _category_figure_size(labels: Sequence[str]) -> tuple[float, float]:
    """Width and height (inches) of a figure with one slanted category label per cell
    and a legend at the right: long labels need height, many labels width."""
    # a label may hold the host class on a second line: the longest line counts
    longest = max((len(line) for label in labels for line in label.split("\n")), default=10)
    return max(6.0, 0.8 * len(labels) + 4.0), 3.2 + 0.06 * longest


def _rotate_ticks(axis: Any) -> None:
    for label in axis.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
        label.set_fontsize(8)
