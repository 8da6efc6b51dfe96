"""Figures across cells: accuracy vs training time, per-class F1 heatmap, speed ratios."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.cells import CellInfo, all_engines
from reports.loading import LoadedResults
from reports.plots.style import MAX_ANNOTATED_CLASSES, PlotSettings, palette_for
from reports.statistics import class_names_of, successful_records


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
        One panel per data set, time on a log axis; None when no run succeeded.
    """
    runs = loaded.runs
    runs = runs[(runs["status"] == "success")].dropna(subset=["accuracy", "train_seconds"])
    if runs.empty:
        return None
    datasets = sorted(runs["dataset"].unique())
    engines = [engine for engine in all_engines(list(cells)) if engine in set(runs["engine"])]
    architectures = [info.architecture for info in cells]
    architectures = [a for a in dict.fromkeys(architectures) if a in set(runs["architecture"])]
    figure = settings.new_figure(4.5 * len(datasets) + 2.5, 4.0)
    axes = np.atleast_1d(figure.subplots(1, len(datasets), squeeze=False)).ravel()
    for index, (axis, dataset) in enumerate(zip(axes, datasets, strict=True)):
        sns.scatterplot(
            data=runs[runs["dataset"] == dataset],
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


def plot_speed_ratios(pairs: pd.DataFrame, settings: PlotSettings) -> Figure | None:
    """Bar per architecture: median training-time ratio scratch/Keras, range over seeds.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`reports.tables.paired_seeds`.
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        Bars (hue: data set) with a line at 1x; log axis when the ratios span more than
        a factor 20. None when no seed has both engines.
    """
    frame = pairs.dropna(subset=["train_time_ratio"])
    if frame.empty:
        return None
    models = list(dict.fromkeys(frame["model"]))
    legend_width = 1.5 if frame["dataset"].nunique() > 1 else 0.0
    figure = settings.new_figure(max(5.0, 0.7 * len(models) + 2.5) + legend_width, 3.8)
    axis = figure.subplots()
    sns.barplot(
        data=frame,
        x="model",
        y="train_time_ratio",
        hue="dataset",
        order=models,
        estimator="median",
        errorbar=("pi", 100),
        capsize=0.2,
        ax=axis,
    )
    legend = axis.get_legend()
    if legend is not None and frame["dataset"].nunique() == 1:
        legend.remove()  # one data set: its name is in the title
    elif legend is not None:
        legend.set_loc("upper left")
        legend.set_bbox_to_anchor((1.01, 1.0))
    axis.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ratios = frame["train_time_ratio"].to_numpy(dtype=float)
    if ratios.max() / max(ratios.min(), 1e-12) > 20:
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_xlabel("architecture")
    axis.set_ylabel("train time scratch / Keras")
    axis.set_title("scratch/Keras training time (above 1: Keras is faster)", fontsize=9)
    for label in axis.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    return figure
