"""The report's figures, drawn with seaborn on matplotlib's Agg backend (no display).

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``'s
global state (so nothing leaks between figures), or ``None`` when the results hold nothing
to draw; :func:`figure_png` turns a figure into PNG bytes. Engines keep one colour
everywhere (:data:`ENGINE_PALETTE`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # no display: the report is written to files

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.cells import CellInfo, all_engines
from reports.loading import LoadedResults
from reports.statistics import class_names_of, successful_records

#: engine -> colour, the same in every figure
ENGINE_PALETTE = {"scratch": "#1f77b4", "keras": "#ff7f0e"}
#: the first convolution layer's filters drawn per engine at most
MAX_FILTERS_SHOWN = 32
#: filters per row of the filter figure
FILTERS_PER_ROW = 16
#: class count above which heatmap cells carry no numbers (they would not fit)
MAX_ANNOTATED_CLASSES = 12


@dataclass(frozen=True)
class PlotSettings:
    """Size and resolution of the figures.

    Attributes
    ----------
    dpi : int
        Pixels per inch of the PNG files.
    scale : float
        Multiplies every figure's size in inches (tests use small figures).
    """

    dpi: int = 100
    scale: float = 1.0

    def new_figure(self, width: float, height: float) -> Figure:
        """A figure of ``width x height`` inches times :attr:`scale`, tight layout."""
        return Figure(figsize=(width * self.scale, height * self.scale), layout="constrained")


def palette_for(engines: Sequence[str]) -> dict[str, str]:
    """Colours for the engines: :data:`ENGINE_PALETTE`, then seaborn's for others."""
    extra = iter(sns.color_palette("deep", len(engines) + len(ENGINE_PALETTE)).as_hex()[2:])
    return {engine: ENGINE_PALETTE.get(engine) or next(extra) for engine in engines}


def engine_line_widths(engines: Sequence[str]) -> dict[str, float]:
    """Line width per engine: 3.5 for the first, 1.3 for the others (drawn on top)."""
    return {engine: 3.5 if index == 0 else 1.3 for index, engine in enumerate(engines)}


def engine_dashes(engines: Sequence[str]) -> dict[str, tuple[float, ...] | str]:
    """Solid for the first engine, dashes for the others, so overlapping curves stay visible."""
    patterns: list[tuple[float, ...] | str] = ["", (4.0, 2.0), (1.0, 1.5), (6.0, 2.0, 1.0, 2.0)]
    return {engine: patterns[index % len(patterns)] for index, engine in enumerate(engines)}


def figure_png(figure: Figure, settings: PlotSettings) -> bytes:
    """Render a figure to PNG bytes.

    Parameters
    ----------
    figure : Figure
        The figure.
    settings : PlotSettings
        Its resolution.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    buffer = io.BytesIO()
    # no Software/URL metadata: the page must not mention any address
    figure.savefig(buffer, format="png", dpi=settings.dpi, metadata={"Software": None})
    return buffer.getvalue()


def _engine_title(engine: str, records: Sequence[dict[str, Any]]) -> str:
    seeds = len(records)
    return f"{engine} ({seeds} seed{'s' if seeds != 1 else ''})"


# ---------------------------------------------------------------------------------------
# Per cell


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
    """Loss and accuracy per epoch, both engines overlaid; band: sd over seeds.

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
        axis.set_title(_engine_title(engine, records))
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
    """Cumulative gains per class: both engines (mean over seeds), baseline and perfect.

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


def filter_images(shape: Sequence[int], values: Sequence[float]) -> np.ndarray:
    """The first convolution layer's kernel as one image per output channel.

    Parameters
    ----------
    shape : sequence of int
        ``(kh, kw, c_in, c_out)``.
    values : sequence of float
        The kernel flattened in C order.

    Returns
    -------
    numpy.ndarray
        ``(c_out, kh, kw, 3)`` RGB in [0, 1] when ``c_in == 3``, else ``(c_out, kh, kw)``
        (the mean over input channels); each filter scaled to its own min..max.
    """
    kernel = np.asarray(values, dtype=float).reshape(tuple(int(v) for v in shape))
    images = np.moveaxis(kernel, 3, 0)  # (c_out, kh, kw, c_in)
    if images.shape[-1] != 3:
        images = images.mean(axis=-1)
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - low
    return np.divide(images - low, span, out=np.full_like(images, 0.5), where=span > 0)


def filter_mosaic(
    images: np.ndarray, columns: int, gap_colour: Sequence[float] = (0.85, 0.9, 0.95)
) -> np.ndarray:
    """Tile filter images into one RGB picture, one pixel of ``gap_colour`` between tiles.

    Parameters
    ----------
    images : numpy.ndarray
        ``(n, kh, kw)`` grey or ``(n, kh, kw, 3)`` RGB values in [0, 1] (see
        :func:`filter_images`).
    columns : int
        Tiles per row.
    gap_colour : sequence of float, optional
        RGB of the separating lines (not grey, so it never looks like a filter pixel).

    Returns
    -------
    numpy.ndarray
        ``(rows * (kh + 1) + 1, columns * (kw + 1) + 1, 3)``.
    """
    if images.ndim == 3:
        images = np.repeat(images[..., np.newaxis], 3, axis=-1)
    count, height, width, _ = images.shape
    rows = math.ceil(count / columns)
    padded = np.empty((rows * columns, height + 1, width + 1, 3))
    padded[...] = gap_colour
    padded[:count, 1:, 1:] = images
    # (rows, columns, h+1, w+1, 3) -> (rows, h+1, columns, w+1, 3) -> picture
    tiled = padded.reshape(rows, columns, height + 1, width + 1, 3).transpose(0, 2, 1, 3, 4)
    picture = tiled.reshape(rows * (height + 1), columns * (width + 1), 3)
    bottom = np.empty((1, picture.shape[1], 3))
    right = np.empty((picture.shape[0] + 1, 1, 3))
    bottom[...] = gap_colour
    right[...] = gap_colour
    return np.concatenate([np.concatenate([picture, bottom], axis=0), right], axis=1)


def plot_first_layer_filters(
    loaded: LoadedResults, info: CellInfo, settings: PlotSettings
) -> Figure | None:
    """The trained first-convolution filters of each engine, one seed, as small images.

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
        One row per engine (the lowest seed that succeeded for every engine shown), at
        most :data:`MAX_FILTERS_SHOWN` filters each; None for nets without a stored
        convolution kernel.
    """
    by_engine: dict[str, dict[int, dict[str, Any]]] = {}
    for engine in info.engines:
        for record in successful_records(loaded, info.cell, engine):
            stored = record.get("first_layer_filters")
            if isinstance(stored, dict) and isinstance(stored.get("values"), list):
                by_engine.setdefault(engine, {})[int(record["seed"])] = stored
    if not by_engine:
        return None
    common = set.intersection(*(set(seeds) for seeds in by_engine.values()))
    rows = []
    for engine, seeds in by_engine.items():
        seed = min(common) if common else min(seeds)
        stored = seeds[seed]
        rows.append((engine, seed, filter_images(stored["shape"], stored["values"])))
    shown = min(MAX_FILTERS_SHOWN, max(images.shape[0] for _, _, images in rows))
    columns = min(shown, FILTERS_PER_ROW)
    lines_per_engine = math.ceil(shown / columns)
    # one mosaic image per engine: one axes each draws far faster than one per filter
    figure = settings.new_figure(
        max(5.0, 0.45 * columns + 1.2), 0.5 * lines_per_engine * len(rows) + 0.8
    )
    axes = np.atleast_1d(figure.subplots(len(rows), 1, squeeze=False)).ravel()
    for axis, (engine, seed, images) in zip(axes, rows, strict=True):
        axis.imshow(filter_mosaic(images[:shown], columns), interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_ylabel(f"{engine}\nseed {seed}", fontsize=8, rotation=0, ha="right", va="center")
    total = max(images.shape[0] for _, _, images in rows)
    more = f" (first {shown} of {total})" if total > shown else ""
    figure.suptitle(f"{info.label}: first convolution layer's filters{more}", fontsize=10)
    return figure


# ---------------------------------------------------------------------------------------
# Across cells


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
