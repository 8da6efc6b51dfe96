"""The report's opening: which engine is faster where, by how much, and whether accuracy
differs beyond the seed spread, in plain sentences built from the comparison table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports.statistics import BEYOND_SPREAD, NO_SPREAD, STOPPED_EARLY, WITHIN_SPREAD


@dataclass
class Summary:
    """Sentences for the top of the report.

    Attributes
    ----------
    headline : list of str
        A few sentences over all cells.
    per_cell : list of str
        One sentence per cell that runs both engines.
    warnings : list of str
        Gaps and unreadable lines, counted, so nobody misses them.
    """

    headline: list[str] = field(default_factory=list)
    per_cell: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def faster_engine_text(ratio: float) -> str:
    """``"Keras is 2.25x faster"`` or ``"scratch is 1.17x faster"`` for a scratch/Keras ratio.

    Parameters
    ----------
    ratio : float
        Scratch time / Keras time (above 1: Keras is faster).

    Returns
    -------
    str
        The sentence fragment; ``"no time ratio"`` for NaN.
    """
    if math.isnan(ratio):
        return "no time ratio"
    if ratio >= 1:
        return f"Keras is {ratio:.3g}x faster"
    return f"scratch is {1 / ratio:.3g}x faster"


def _cell_sentence(row: pd.Series) -> str:
    name = f"{row['dataset']} / {row['model']}"
    if row["paired_seeds"] == 0:
        return f"{name}: no comparison ({row['note']})."
    low, high = row["train_time_ratio_min"], row["train_time_ratio_max"]
    seeds = int(row["paired_seeds"])
    spread_text = f"{low:.3g}x to {high:.3g}x over {seeds} seeds" if seeds > 1 else "1 seed"
    parts = [
        f"{name}: {faster_engine_text(row['train_time_ratio_median'])} to train "
        f"(scratch/Keras {row['train_time_ratio_median']:.3g}x, {spread_text}"
    ]
    if not math.isnan(row["epoch_time_ratio_median"]):
        parts.append(f"; {row['epoch_time_ratio_median']:.3g}x per steady-state epoch")
    parts.append(")")
    difference = row["accuracy_difference_mean"]
    if math.isnan(difference):
        parts.append("; no accuracy difference.")
        return "".join(parts)
    spread_text = ""
    if not math.isnan(row["accuracy_difference_std"]):
        spread_text = f" ± {row['accuracy_difference_std']:.4f}"
    parts.append(f"; accuracy scratch - Keras {difference:+.4f}{spread_text}")
    if row["verdict"] == NO_SPREAD:
        parts.append(" (one seed: the seed spread is unknown).")
    else:
        parts.append(f", {row['verdict']} ({row['seed_spread']:.4f}).")
    return "".join(parts)


def build_summary(
    comparison: pd.DataFrame, gaps: pd.DataFrame, problems: list[str], run_count: int
) -> Summary:
    """Summarise the engine comparison, the gaps and the reading problems.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`reports.tables.engine_comparison`.
    gaps : pandas.DataFrame
        :func:`reports.tables.find_gaps`.
    problems : list of str
        Lines skipped and records set aside while reading.
    run_count : int
        Records read.

    Returns
    -------
    Summary
        The sentences.
    """
    summary = Summary()
    compared = comparison[comparison["paired_seeds"] > 0]
    if compared.empty:
        summary.headline.append(
            f"{run_count} runs read; no cell has successful runs of both engines on the same "
            "seed, so there is no speed or accuracy comparison."
        )
    else:
        ratios = compared["train_time_ratio_median"].dropna()
        keras_faster = compared[compared["train_time_ratio_median"] > 1]
        scratch_faster = compared[compared["train_time_ratio_median"] < 1]
        overall = float(ratios.median()) if len(ratios) else math.nan
        summary.headline.append(
            f"Training time: Keras is faster in {len(keras_faster)} and scratch in "
            f"{len(scratch_faster)} of {len(compared)} compared cells; median ratio "
            f"scratch/Keras over cells {overall:.3g}x ({faster_engine_text(overall)})."
        )
        if len(ratios):
            slowest = compared.loc[compared["train_time_ratio_median"].idxmax()]
            fastest = compared.loc[compared["train_time_ratio_median"].idxmin()]
            summary.headline.append(
                f"Largest ratio {slowest['train_time_ratio_median']:.3g}x "
                f"({slowest['dataset']} / {slowest['model']}), smallest "
                f"{fastest['train_time_ratio_median']:.3g}x "
                f"({fastest['dataset']} / {fastest['model']})."
            )
        beyond = compared[compared["verdict"] == BEYOND_SPREAD]
        within = compared[compared["verdict"] == WITHIN_SPREAD]
        unknown = compared[compared["verdict"] == NO_SPREAD]
        text = (
            f"Accuracy: the engines differ beyond the seed spread in {len(beyond)} of "
            f"{len(compared)} cells"
        )
        if len(beyond):
            text += " (" + ", ".join(f"{r.dataset} / {r.model}" for r in beyond.itertuples()) + ")"
        if len(within):
            text += f"; within it in {len(within)}"
        if len(unknown):
            text += f"; {len(unknown)} with one seed per engine, where the spread is unknown"
        summary.headline.append(text + ".")
    summary.per_cell = [_cell_sentence(row) for _, row in comparison.iterrows()]
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
    if problems:
        summary.warnings.append(
            f"{len(problems)} line(s) or record(s) of the results could not be used; see "
            "Reading problems."
        )
    return summary
