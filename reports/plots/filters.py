"""The first convolution layer's trained filters as images (the thesis shows them), from
the ``first_layer_filters`` the runner stores with each run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from reports.cells import CellInfo
from reports.loading import LoadedResults
from reports.plots.style import FILTERS_PER_ROW, MAX_FILTERS_SHOWN, PlotSettings
from reports.statistics import successful_records


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
