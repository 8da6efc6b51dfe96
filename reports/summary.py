"""The report's opening: per pair of engines, in how many cells each is faster or more
accurate by its verdict, which engine is fastest where, and the warnings, in plain
sentences built from the comparison tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports.formatting import format_interval, format_ratio
from reports.hosts import show_host_column
from reports.statistics import NO_CLEAR_DIFFERENCE, STOPPED_EARLY, faster, more_accurate


@dataclass
class Summary:
    """Sentences for the top of the report.

    Attributes
    ----------
    headline : list of str
        A few sentences over all cells.
    per_cell : list of str
        One sentence per cell and engine compared with the baseline.
    warnings : list of str
        Gaps, contended runs and unreadable lines, counted, so nobody misses them.
    """

    headline: list[str] = field(default_factory=list)
    per_cell: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def verdict_counts(verdicts: pd.Series, first: str, second: str, kind: str = "time") -> str:
    """Count verdicts over cells: ``"scratch faster in 9 cells, keras:jax faster in 1, no
    clear difference in 2"``.

    Parameters
    ----------
    verdicts : pandas.Series
        One verdict per compared cell (empty strings, for cells without a comparison, are
        not counted).
    first, second : str
        The two engines (the baseline first).
    kind : {"time", "accuracy"}
        Which verdicts they are.

    Returns
    -------
    str
        Each engine's count (zero included, so a reader sees both sides), then the cells
        without a clear difference.
    """
    name = faster if kind == "time" else more_accurate
    counted = verdicts[verdicts.astype(bool)]
    parts = []
    for index, engine in enumerate((first, second)):
        count = int((counted == name(engine)).sum())
        parts.append(f"{name(engine)} in {_plural(count, 'cell') if index == 0 else count}")
    unclear = int((counted == NO_CLEAR_DIFFERENCE).sum())
    parts.append(f"no clear difference in {unclear}")
    return ", ".join(parts)


def _cell_sentence(row: pd.Series, several_hosts: bool = False) -> str:
    name = f"{row['dataset']} / {row['model']}, {row['engine']} vs {row['baseline']}"
    if several_hosts and row.get("host_class"):
        name = f"{name} on host class {row['host_class']}"
    if row["paired_seeds"] == 0:
        return f"{name}: no comparison ({row['note']})."
    parts = [f"{name}: "]
    if row["timed_pairs"] == 0:
        parts.append("no uncontended pair to time")
    else:
        interval = format_interval(row["epoch_time_ratio_low"], row["epoch_time_ratio_high"])
        bounds = f", 95% interval {interval}" if interval != "—" else ""
        parts.append(
            f"{row['time_verdict']} (s/epoch {row['engine']}/{row['baseline']} "
            f"{format_ratio(row['epoch_time_ratio'])}{bounds}; {row['time_method']})"
        )
    difference = row["accuracy_difference_mean"]
    if math.isnan(difference):
        parts.append("; no accuracy difference.")
    else:
        interval = format_interval(
            row["accuracy_difference_low"], row["accuracy_difference_high"], "difference"
        )
        bounds = f", 95% interval {interval}" if interval != "—" else ""
        parts.append(
            f"; accuracy {row['engine']} - {row['baseline']} {difference:+.4f}{bounds}: "
            f"{row['accuracy_verdict']}."
        )
    if row["note"]:
        parts.append(f" ({row['note']}.)")
    return "".join(parts)


def _fastest_sentence(speeds: pd.DataFrame) -> str | None:
    fastest = speeds[speeds["fastest"].astype(bool)]
    if fastest.empty:
        return None
    counts = fastest.groupby("engine", sort=False).agg(
        cells=("cell", "size"), clear=("fastest_clear", "sum")
    )
    counts = counts.sort_values("cells", ascending=False, kind="stable")
    # with several host classes a cell counts once per class it was timed on
    several = show_host_column(speeds)
    parts = [
        f"{engine} in {_plural(int(row.cells), 'cell')} (clearly in {int(row.clear)})"
        for engine, row in counts.iterrows()
    ]
    unit = "cell and host class" if several else "cell"
    counted = "; a cell counts once per host class it ran on" if several else ""
    return f"Fastest engine per {unit} (lowest median s/epoch): {', '.join(parts)}{counted}."


def build_summary(
    comparison: pd.DataFrame,
    gaps: pd.DataFrame,
    problems: list[str],
    run_count: int,
    speeds: pd.DataFrame | None = None,
    contended_runs: int = 0,
    host_note: str = "",
    competing_load: str = "",
) -> Summary:
    """Summarise the engine comparisons, the gaps and the reading problems.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`reports.statistics.engine_comparison`.
    gaps : pandas.DataFrame
        :func:`reports.statistics.find_gaps`.
    problems : list of str
        Lines skipped and records set aside while reading.
    run_count : int
        Records read.
    speeds : pandas.DataFrame, optional
        :func:`reports.statistics.engine_speeds`, for the fastest engine per cell.
    contended_runs : int, default 0
        Successful runs left out of the time figures as contended.
    host_note : str, optional
        :func:`reports.hosts.host_class_note`: the times come from several host classes
        (the first warning when given).
    competing_load : str, optional
        :func:`reports.statistics.competing_load`: what the contended runs ran beside.

    Returns
    -------
    Summary
        The sentences.
    """
    summary = Summary()
    if host_note:
        summary.warnings.append(host_note)
    several_hosts = show_host_column(comparison)
    compared = comparison[comparison["paired_seeds"] > 0]
    if compared.empty:
        summary.headline.append(
            f"{run_count} runs read; no cell has successful runs of two engines on the same "
            "seed, so there is no speed or accuracy comparison."
        )
    # with several host classes each verdict is one cell on one class: counted as such
    per_class = "; a cell counts once per host class it ran on" if several_hosts else ""
    for (baseline, engine), rows in compared.groupby(["baseline", "engine"], sort=False):
        timed = rows[rows["time_verdict"].astype(bool)]
        if len(timed):
            summary.headline.append(
                f"Training speed, {baseline} vs {engine} (steady-state s/epoch, 95% interval "
                f"of the paired ratio): {verdict_counts(timed['time_verdict'], baseline, engine)}"
                f" (of {_plural(len(timed), 'compared cell')}{per_class})."
            )
        summary.headline.append(
            f"Accuracy, {baseline} vs {engine} (paired difference, 95% interval): "
            f"{verdict_counts(rows['accuracy_verdict'], baseline, engine, 'accuracy')} "
            f"(of {_plural(len(rows), 'compared cell')}{per_class})."
        )
    if speeds is not None and (sentence := _fastest_sentence(speeds)):
        summary.headline.append(sentence)
    summary.per_cell = [_cell_sentence(row, several_hosts) for _, row in comparison.iterrows()]
    stopped = gaps[gaps["status"] == STOPPED_EARLY]
    missing = gaps[gaps["status"] != STOPPED_EARLY]
    if not missing.empty:
        counts = missing["status"].value_counts()
        listed = ", ".join(f"{count} {status}" for status, count in counts.items())
        summary.warnings.append(
            f"{len(missing)} expected runs are gaps ({listed}); they are left out of every "
            "number and listed under Gaps."
        )
    if not stopped.empty:
        summary.warnings.append(
            f"{len(stopped)} runs were stopped early by the time budget; they count with "
            "fewer epochs (speed ratios use the epochs both engines completed)."
        )
    if contended_runs:
        summary.warnings.append(
            f"{contended_runs} contended {'run' if contended_runs == 1 else 'runs'} left out "
            "of the time figures and verdicts (the runner saw other load disturb their "
            "clocks); their accuracy still counts."
            + (f" The load: {competing_load}." if competing_load else "")
        )
    if problems:
        summary.warnings.append(
            f"{len(problems)} line(s) or record(s) of the results could not be used; see "
            "Reading problems."
        )
    return summary
