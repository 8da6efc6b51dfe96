"""Performance profiles: in what share of the cells is each engine within a factor of the best?

A performance profile (Dolan and Moré, 2002; the summary AlgoPerf reports for training
algorithms) turns a cells x engines table of times into one curve per engine. With
``t[c, e]`` the time of engine ``e`` in cell ``c``::

    r[c, e]  = t[c, e] / min over engines e' of t[c, e']       (performance ratio, >= 1)
    rho_e(tau) = |{c : r[c, e] <= tau}| / |cells|             (tau from 1 to 4)

``rho_e(1)`` is the share of cells in which ``e`` is the fastest; ``rho_e(2)`` the share in
which it takes at most twice the best engine's time; a curve that is higher everywhere
belongs to a better engine. An engine without a time in a cell (not run, failed, or every
run contended) has ratio ``inf`` there: it never counts as within any factor, so an engine
is not rewarded for skipping the hard cells. Cells where no engine has a time are left out.

The report's times are steady-state seconds per epoch (``timings.seconds_per_epoch``, the
median of each run's later epochs), the median over seeds of the successful runs not
flagged as contended; engines are keyed on the canonical engine spec
(:func:`reports.time_to_accuracy.engine_spec`).

A ratio is only formed between times of one host class
(:func:`reports.loading.host_class_of`): when the records come from several classes, each
row of the profile is a cell *on one host class* (``"cell @ class"``), so a cell measured
on two kinds of machine counts once per class, and an engine not timed on a class has no
time in that row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reports.formatting import GAP, Table
from reports.loading import as_number, cell_name, host_class_of, nested_get
from reports.time_to_accuracy import engine_sort_key, engine_spec, is_contended

if TYPE_CHECKING:  # plotting libraries load only when a figure is drawn
    from matplotlib.figure import Figure

    from reports.plots import PlotSettings

#: the largest factor the profile shows (AlgoPerf's range)
MAX_TAU = 4.0

#: factors the profile table lists
TABLE_TAUS = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0)

#: what the report's profile measures, for titles and captions
STEADY_EPOCH_LABEL = "steady-state seconds per epoch"


def steady_epoch_times(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Median steady-state seconds per epoch over seeds, per cell and engine.

    Parameters
    ----------
    records : iterable of mapping
        Results records (``LoadedResults.records``: the latest per run key). Successful
        runs not flagged ``timing_quality == "contended"`` count.

    Returns
    -------
    pandas.DataFrame
        Index: cell names, or ``"cell @ host class"`` when the runs come from several host
        classes (sorted by class: no row holds times of two classes); columns: engine
        specs (default baseline first); NaN where an engine has no usable run in a row.
    """
    values: dict[tuple[str, str, str], list[float]] = {}
    for record in records:
        if record.get("status") != "success" or is_contended(record):
            continue
        seconds = as_number(nested_get(record, ("timings", "seconds_per_epoch")))
        if not math.isfinite(seconds) or seconds <= 0:
            continue
        cell = record.get("_cell") or cell_name(record)
        host = record.get("_host_class") or host_class_of(record)
        values.setdefault((host, cell, engine_spec(record)), []).append(seconds)
    if not values:
        return pd.DataFrame()
    several = len({host for host, _, _ in values}) > 1
    medians = {
        (f"{cell} @ {host}" if several else cell, engine): float(np.median(times))
        for (host, cell, engine), times in sorted(values.items(), key=lambda item: item[0])
    }
    table = pd.Series(medians).unstack()
    rows = list(dict.fromkeys(row for row, _ in medians))  # by host class, then cell
    return table.loc[rows, sorted(table.columns, key=engine_sort_key)]


def performance_ratios(times: pd.DataFrame) -> pd.DataFrame:
    """Each engine's time over the fastest engine's in the same cell.

    Parameters
    ----------
    times : pandas.DataFrame
        Cells (rows) x engines (columns) of positive times; NaN or ``inf`` where an engine
        has none (``inf``: e.g. never reached a time-to-accuracy target).

    Returns
    -------
    pandas.DataFrame
        The same shape, ``>= 1``; ``inf`` where an engine has no time; cells where no
        engine has a finite time are dropped.
    """
    if times.empty:
        return times.copy()
    finite = times.astype(float).where(np.isfinite(times.astype(float)))
    best = finite.min(axis=1)
    usable = best.notna()
    ratios = finite[usable].div(best[usable], axis=0)
    return ratios.fillna(math.inf)


def performance_profile(times: pd.DataFrame, taus: Sequence[float] | None = None) -> pd.DataFrame:
    """The performance profile ``rho_e(tau)`` of every engine.

    Parameters
    ----------
    times : pandas.DataFrame
        Cells x engines of times (see :func:`performance_ratios`).
    taus : sequence of float, optional
        Factors to evaluate at; by default a fine grid from 1 to :data:`MAX_TAU` plus every
        ratio that occurs in that range, so the steps of the curve are exact.

    Returns
    -------
    pandas.DataFrame
        Index ``tau`` (ascending), one column per engine: the share of cells in which the
        engine's ratio is at most ``tau``. Empty when no cell has a time.
    """
    ratios = performance_ratios(times)
    if ratios.empty:
        return pd.DataFrame()
    if taus is None:
        occurring = ratios.to_numpy().ravel()
        occurring = occurring[(occurring >= 1) & (occurring <= MAX_TAU)]
        taus = np.union1d(np.linspace(1.0, MAX_TAU, 301), occurring)
    grid = np.asarray(sorted(taus), dtype=float)
    # a relative slack of 1e-12 so that 0.6 / 0.4 (1.4999999999999998 or 1.5000000000000002
    # in floating point) counts as within 1.5
    profile = {
        engine: [(ratios[engine] <= tau * (1 + 1e-12)).mean() for tau in grid]
        for engine in ratios.columns
    }
    return pd.DataFrame(profile, index=pd.Index(grid, name="tau"))


#: caption sentence when the profile's rows are cells on several host classes
PER_HOST_CLASS_CAPTION = (
    " The times come from several host classes: each row of the profile is a cell on one "
    "host class (a cell measured on two classes counts twice), and every ratio is formed "
    "within a host class only."
)


def performance_profile_table(
    times: pd.DataFrame, measure: str = STEADY_EPOCH_LABEL, per_host_class: bool = False
) -> Table:
    """The profile at a few factors, one row per engine.

    Parameters
    ----------
    times : pandas.DataFrame
        Cells x engines of times.
    measure : str, optional
        What the times are, for the caption.
    per_host_class : bool, default False
        The rows of ``times`` are cells on several host classes (the caption says so).

    Returns
    -------
    Table
        Columns: engine, cells with a time, then the share of cells within each factor of
        :data:`TABLE_TAUS`.
    """
    ratios = performance_ratios(times)
    profile = performance_profile(times, TABLE_TAUS)
    labels = [f"≤ {tau:g}x" for tau in TABLE_TAUS]
    data_rows, display_rows = [], []
    for engine in profile.columns:
        measured = int(np.isfinite(ratios[engine]).sum())
        shares = [float(profile.at[tau, engine]) for tau in TABLE_TAUS]
        within = {f"within_{tau:g}x": share for tau, share in zip(TABLE_TAUS, shares, strict=True)}
        data_rows.append(
            {"engine": engine, "cells": len(ratios), "cells_measured": measured, **within}
        )
        display_rows.append(
            {
                "Engine": engine,
                "Cells timed": f"{measured}/{len(ratios)}",
                **{
                    label: f"{share:.0%}" if len(ratios) else GAP
                    for label, share in zip(labels, shares, strict=True)
                },
            }
        )
    return Table(
        name="performance_profile",
        title=f"Performance profile ({measure})",
        caption=(
            f"Share of the cells in which each engine's {measure} (median over seeds; "
            "runs flagged as contended left out) is within the factor of the fastest "
            "engine's in that cell; '≤ 1x': the cells where it is the fastest. A cell the "
            "engine has no time for counts as not within any factor."
            + (PER_HOST_CLASS_CAPTION if per_host_class else "")
        ),
        data=pd.DataFrame(data_rows),
        display=pd.DataFrame(display_rows, columns=["Engine", "Cells timed", *labels]),
    )


def plot_performance_profile(
    times: pd.DataFrame, settings: PlotSettings, measure: str = STEADY_EPOCH_LABEL
) -> Figure | None:
    """Step curves of the performance profile, one per engine.

    Parameters
    ----------
    times : pandas.DataFrame
        Cells x engines of times.
    settings : reports.plots.PlotSettings
        Size and resolution.
    measure : str, optional
        What the times are; the title names it.

    Returns
    -------
    Figure or None
        None when no cell has a time.
    """
    from reports.plots.style import engine_dashes, palette_for

    profile = performance_profile(times)
    if profile.empty:
        return None
    engines = list(profile.columns)
    colours, dashes = palette_for(engines), engine_dashes(engines)
    cells = len(performance_ratios(times))
    figure = settings.new_figure(6.5, 4.0)
    axis = figure.subplots()
    for index, engine in enumerate(engines):
        line = axis.step(
            profile.index,
            profile[engine],
            where="post",
            color=colours[engine],
            lw=2.6 if index == 0 else 1.6,
            label=engine,
        )[0]
        if dashes[engine]:
            line.set_dashes(dashes[engine])
    axis.set_xlim(1.0, MAX_TAU)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("τ: factor of the fastest engine's time in the cell")
    axis.set_ylabel(f"share of cells within τ (of {cells})")
    axis.grid(True, alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title(f"Performance profile: {measure}", fontsize=10)
    return figure


def _plot_entry(name: str, title: str, caption: str, draw: Any, empty: str, settings: Any) -> Any:
    from reports.html_page import PlotEntry
    from reports.plots import figure_png

    entry = PlotEntry(name=name, title=title, caption=caption)
    try:
        figure = draw()
    except Exception as error:  # one broken figure must not cost the whole report
        entry.missing_reason = f"drawing failed: {error.__class__.__name__}: {error}"
        return entry
    if figure is None:
        entry.missing_reason = empty
    else:
        entry.png = figure_png(figure, settings)
    return entry


def time_and_profile_section(
    records: Sequence[Mapping[str, Any]], settings: PlotSettings
) -> tuple[Any, list[Table]]:
    """The report's section on time to accuracy and the performance profile.

    Parameters
    ----------
    records : sequence of mapping
        ``LoadedResults.records``.
    settings : reports.plots.PlotSettings
        Size and resolution of the figures.

    Returns
    -------
    section : reports.html_page.PageSection
        Anchor ``time-and-profile``: two tables and two figures.
    tables : list of Table
        The time-to-accuracy and performance-profile tables (for Markdown and CSV).
    """
    from reports.html_page import PageSection
    from reports.time_to_accuracy import (
        DEFAULT_TARGET_FRACTION,
        plot_time_to_accuracy,
        time_to_accuracy_frame,
        time_to_accuracy_summary,
        time_to_accuracy_table,
    )

    summary = time_to_accuracy_summary(time_to_accuracy_frame(records))
    times = steady_epoch_times(records)
    # the classes of the runs whose times the two measures use
    timed_hosts = {
        record.get("_host_class") or host_class_of(record)
        for record in records
        if record.get("status") == "success" and not is_contended(record)
    }
    several = len(timed_hosts) > 1
    tables = [
        time_to_accuracy_table(summary),
        performance_profile_table(times, per_host_class=several),
    ]
    plots = [
        _plot_entry(
            "time-to-accuracy",
            "Time to accuracy: validation accuracy vs training time",
            "Every successful run's validation accuracy after each epoch against its "
            "cumulative training time; dashed: the cell's target (the matrix's "
            f"target_accuracy, else {DEFAULT_TARGET_FRACTION:.0%} of the best validation "
            "accuracy in the cell); dot: where the run first reached it."
            + (" One panel per cell and host class." if several else ""),
            lambda: plot_time_to_accuracy(records, summary, settings),
            "no successful run stored a validation curve",
            settings,
        ),
        _plot_entry(
            "performance-profile",
            f"Performance profile: {STEADY_EPOCH_LABEL}",
            "For each engine, the share of cells in which its steady-state seconds per "
            "epoch (median over seeds) is within a factor τ of the fastest engine's; "
            "higher is better, the value at τ = 1 is the share of cells it is fastest in."
            + (PER_HOST_CLASS_CAPTION if several else ""),
            lambda: plot_performance_profile(times, settings),
            "no successful run stored a steady-state time",
            settings,
        ),
    ]
    section = PageSection(
        "time-and-profile",
        "Time to accuracy and performance profile",
        intro="MLPerf/DAWNBench's time to a validation-accuracy target per cell, and "
        "AlgoPerf's performance profile of the engines over all cells.",
        tables=tables,
        plots=plots,
    )
    return section, tables


__all__ = [
    "MAX_TAU",
    "STEADY_EPOCH_LABEL",
    "TABLE_TAUS",
    "performance_profile",
    "performance_profile_table",
    "performance_ratios",
    "plot_performance_profile",
    "steady_epoch_times",
    "time_and_profile_section",
]
