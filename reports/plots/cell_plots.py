"""Figures of one cell: learning curves, confusion matrices and cumulative gains curves,
every engine of the cell in each figure. Each returns a Figure, or None when nothing is
stored to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.cells import CellInfo
from reports.loading import LoadedResults
from reports.plots.style import (
    MAX_ANNOTATED_CLASSES,
    PlotSettings,
    engine_dashes,
    engine_line_widths,
    engine_title,
    palette_for,
)
from reports.statistics import class_names_of, successful_records


def learning_curves_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Long table of the stored learning curves: one row per run x epoch x split x metric.

    Parameters
    ----------
    records : sequence of dict
        Records with ``curves``.

    Returns
    -------
    pandas.DataFrame
        Columns ``engine, seed, epoch, split, metric, value``; split is ``train`` or
        ``validation``; metric ``loss`` or ``accuracy``.
    """
    rows = []
    for record in records:
        curves = record.get("curves") or {}
        epochs = curves.get("epoch") or []
        for metric in ("loss", "accuracy"):
            for split, key in (("train", metric), ("validation", f"val_{metric}")):
                values = curves.get(key) or []
                for epoch, value in zip(epochs, values, strict=False):
                    if isinstance(value, int | float) and math.isfinite(value):
                        rows.append(
                            {
                                "engine": record["engine"],
                                "seed": record["seed"],
                                "epoch": int(epoch),
                                "split": split,
                                "metric": metric,
                                "value": float(value),
                            }
                        )
    return pd.DataFrame(rows, columns=["engine", "seed", "epoch", "split", "metric", "value"])


def plot_learning_curves(
    loaded: LoadedResults, info: CellInfo, settings: PlotSettings
) -> Figure | None:
    """Loss and accuracy per epoch, every engine overlaid; band: sd over seeds.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    info : CellInfo
        The cell.
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        Two panels (loss, accuracy); None when no successful run stored curves.
    """
    frame = learning_curves_frame(successful_records(loaded, info.cell))
    if frame.empty:
        return None
    figure = settings.new_figure(9, 3.2)
    axes = figure.subplots(1, 2)
    engines = [engine for engine in info.engines if engine in set(frame["engine"])]
    palette = palette_for(engines)
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        sns.lineplot(
            data=frame[frame["metric"] == metric],
            x="epoch",
            y="value",
            hue="engine",
            hue_order=engines,
            style="split",
            style_order=["train", "validation"],
            palette=palette,
            # identical curves (same start, parity) must not hide each other: the first
            # engine thick and pale underneath, the others thin on top
            size="engine",
            sizes=engine_line_widths(engines),
            errorbar="sd",
            ax=axis,
            legend=metric == "accuracy",
        )
        axis.set_ylabel(metric)
        axis.set_title(f"{info.label}: {metric}")
    legend = axes[1].get_legend()
    if legend is not None:
        legend.set_title(None)
    return figure


def plot_confusion_matrices(
    loaded: LoadedResults, info: CellInfo, settings: PlotSettings
) -> Figure | None:
    """Confusion matrices of the engines side by side, summed over seeds, rows normalised.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    info : CellInfo
        The cell.
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        One heatmap per engine (fraction of each true class predicted as each class);
        None when no successful run stored a matrix.
    """
    panels = []
    for engine in info.engines:
        records = successful_records(loaded, info.cell, engine)
        matrices = [
            np.asarray(r["metrics"]["confusion_matrix"], dtype=float)
            for r in records
            if isinstance(r["metrics"].get("confusion_matrix"), list)
            and r["metrics"]["confusion_matrix"]
        ]
        shapes = {matrix.shape for matrix in matrices}
        if len(shapes) == 1:
            panels.append((engine, records, np.sum(matrices, axis=0)))
    if not panels:
        return None
    names = class_names_of(successful_records(loaded, info.cell))
    classes = panels[0][2].shape[0]
    if len(names) != classes:
        names = [str(index) for index in range(classes)]
    figure = settings.new_figure(4.2 * len(panels), 3.8)
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, (engine, records, counts) in zip(axes, panels, strict=True):
        totals = counts.sum(axis=1, keepdims=True)
        fractions = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        # numbers only where images landed: a grid of 0.00 hides the confusions
        labels = np.where(counts > 0, np.char.mod("%.2f", fractions), "")
        sns.heatmap(
            fractions,
            vmin=0,
            vmax=1,
            cmap="Blues",
            annot=labels if classes <= MAX_ANNOTATED_CLASSES else False,
            fmt="",
            annot_kws={"fontsize": 6},
            xticklabels=names,
            yticklabels=names,
            cbar=axis is axes[-1],
            square=True,
            ax=axis,
        )
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(engine_title(engine, records))
    figure.suptitle(f"{info.label}: confusion matrix (row fractions)")
    return figure


def gains_frame(records: Sequence[dict[str, Any]], names: Sequence[str]) -> pd.DataFrame:
    """Long table of the stored cumulative-gains curves: run x class x point.

    Parameters
    ----------
    records : sequence of dict
        Successful records with ``metrics.gains_curves``.
    names : sequence of str
        Class names, in the curves' order.

    Returns
    -------
    pandas.DataFrame
        Columns ``engine, seed, class, targeted, found``.
    """
    frames = []
    for record in records:
        gains = record["metrics"].get("gains_curves") or {}
        targeted = gains.get("fraction_targeted")
        curves = gains.get("per_class")
        if not isinstance(targeted, list) or not isinstance(curves, list):
            continue
        for name, curve in zip(names, curves, strict=False):
            if not isinstance(curve, list) or len(curve) != len(targeted):
                continue
            found = np.array([np.nan if v is None else v for v in curve], dtype=float)
            if np.isnan(found).all():
                continue  # class absent from the test split
            frames.append(
                pd.DataFrame(
                    {
                        "engine": record["engine"],
                        "seed": record["seed"],
                        "class": name,
                        "targeted": np.asarray(targeted, dtype=float),
                        "found": found,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["engine", "seed", "class", "targeted", "found"])
    return pd.concat(frames, ignore_index=True)


def class_shares(records: Sequence[dict[str, Any]], classes: int) -> np.ndarray:
    """Each class's share of the test split (support / total), from the first record."""
    for record in records:
        support = (record["metrics"].get("per_class") or {}).get("support")
        if isinstance(support, list) and len(support) == classes and sum(support) > 0:
            support_array = np.asarray(support, dtype=float)
            return support_array / support_array.sum()
    return np.full(classes, np.nan)


def gains_zoom(frame: pd.DataFrame, found: float = 0.99) -> float:
    """Where to cut the x axis of the gains panels: 1.5 x the largest fraction targeted at
    which a mean curve first finds ``found`` of its class (at most 1).

    Good models find nearly every image of a class within its share of the test set, so
    on the full axis all curves hug the perfect one; the cut keeps the part that differs.
    """
    means = frame.groupby(["engine", "class", "targeted"], sort=True)["found"].mean()
    reached = means[means >= found].reset_index().groupby(["engine", "class"])["targeted"].min()
    if (
        reached.empty
        or len(reached) < means.reset_index()[["engine", "class"]].drop_duplicates().shape[0]
    ):
        return 1.0
    return float(min(1.0, max(0.05, 1.5 * reached.max())))


def plot_gains_curves(
    loaded: LoadedResults, info: CellInfo, settings: PlotSettings
) -> Figure | None:
    """Cumulative gains per class: every engine (mean over seeds), baseline and perfect.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    info : CellInfo
        The cell.
    settings : PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        One panel per class: fraction of the class found vs fraction of the test set
        targeted (most probable first); the baseline ``y = x`` and the perfect curve
        ``min(x / p, 1)`` with ``p`` the class's share. None when no curves are stored.
    """
    records = successful_records(loaded, info.cell)
    names = class_names_of(records)
    frame = gains_frame(records, names)
    if frame.empty:
        return None
    # mean over seeds here, with NumPy: seaborn's own aggregation is a pandas groupby per
    # point and takes seconds for 101 points x classes x engines
    frame = frame.groupby(["engine", "class", "targeted"], as_index=False, sort=False)[
        "found"
    ].mean()
    shares = class_shares(records, len(names))
    shown = [name for name in names if name in set(frame["class"])]
    columns = min(5, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure = settings.new_figure(2.3 * columns, 2.2 * rows + 0.5)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, sharey=True)).ravel()
    engines = [engine for engine in info.engines if engine in set(frame["engine"])]
    palette = palette_for(engines)
    x = np.linspace(0.0, 1.0, 101)
    for index, (axis, name) in enumerate(zip(axes, shown, strict=False)):
        share = shares[names.index(name)]
        axis.plot(x, x, color="grey", linestyle=":", linewidth=1, label="baseline")
        if math.isfinite(share) and share > 0:
            axis.plot(x, np.minimum(x / share, 1.0), color="black", linewidth=1, label="perfect")
        sns.lineplot(
            data=frame[frame["class"] == name],
            x="targeted",
            y="found",
            hue="engine",
            hue_order=engines,
            palette=palette,
            style="engine",
            style_order=engines,
            dashes=engine_dashes(engines),
            estimator=None,
            errorbar=None,
            linewidth=1.2,
            ax=axis,
            legend=index == 0,
        )
        axis.set_title(f"class {name}", fontsize=9)
        axis.set_xlabel("fraction targeted" if index >= len(shown) - columns else "")
        axis.set_ylabel("fraction found" if index % columns == 0 else "")
    for axis in axes[len(shown) :]:
        axis.set_visible(False)
    axes[0].set_xlim(0.0, gains_zoom(frame))
    handles, labels = axes[0].get_legend_handles_labels()
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    figure.suptitle(f"{info.label}: cumulative gains per class (mean over seeds)")
    return figure
