"""The report's tables: each a :class:`reports.formatting.Table` with raw numbers (CSV)
and their display strings (Markdown, HTML), built from :mod:`reports.statistics`; and
the seed documents' table forms (seed 000 table I, seed 001 tables V/VII/IX).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports.cells import CellInfo, engine_rank
from reports.formatting import (
    GAP,
    Table,
    format_count,
    format_interval,
    format_mean_spread,
    format_minutes_seconds,
    format_number,
    format_ratio,
    format_seconds,
    is_missing,
)
from reports.hosts import WITHIN_CLASS_RULE, host_sorted, show_host_column
from reports.loading import LoadedResults
from reports.statistics import class_names_of, successful_records

# ---------------------------------------------------------------------------------------
# Tables for the report: raw frame (CSV) and display frame (Markdown, HTML).


def _seeds_text(succeeded: int, expected: int) -> str:
    return f"{succeeded}/{expected}"


#: caption sentence of a table whose rows span several host classes
HOST_GROUPS_CAPTION = (
    " Rows are grouped by host class (Host class column; see Host classes under "
    f"Environment): times come from different kinds of machine, and {WITHIN_CLASS_RULE}."
)


#: caption sentence of a table of ratios whose cells were measured on several host classes
HOST_PAIRS_CAPTION = (
    " A cell measured on several host classes is compared once per class (Host class "
    "column): runs are paired on the same seed and host class, and "
    f"{WITHIN_CLASS_RULE}."
)


def _with_host_column(
    display: pd.DataFrame,
    frame: pd.DataFrame,
    position: int,
    caption: str,
    sentence: str = HOST_GROUPS_CAPTION,
) -> tuple[pd.DataFrame, str]:
    """Insert the Host class column at ``position`` and add ``sentence`` to the caption,
    when ``frame``'s rows (one per display row) span several host classes; else leave
    both as they are, so a report from one machine reads as it always did."""
    if not show_host_column(frame):
        return display, caption
    display = display.copy()
    display.insert(position, "Host class", list(frame["host_class"]))
    return display, caption + sentence


def engine_table(statistics: pd.DataFrame) -> Table:
    """Per data set x architecture x engine (x host class, grouped by class when there are
    several): every figure of :func:`engine_statistics`."""
    statistics = host_sorted(statistics).reset_index(drop=True)
    display = pd.DataFrame(
        {
            "Data set": statistics["dataset"],
            "Architecture": statistics["model"],
            "Engine": statistics["engine"],
            "Seeds": [
                _seeds_text(a, b)
                for a, b in zip(
                    statistics["seeds_succeeded"], statistics["seeds_expected"], strict=True
                )
            ],
            "Contended": [str(count) for count in statistics["contended_runs"]],
            "Accuracy (mean ± sd)": [
                format_mean_spread(m, s)
                for m, s in zip(
                    statistics["accuracy_mean"], statistics["accuracy_std"], strict=True
                )
            ],
            "Weighted F1": [format_number(v) for v in statistics["weighted_f1_mean"]],
            "Weighted AR": [format_number(v) for v in statistics["weighted_area_ratio_mean"]],
            "Train (s)": [format_seconds(v) for v in statistics["train_seconds_median"]],
            "s/epoch": [format_seconds(v) for v in statistics["seconds_per_epoch_median"]],
            "First epoch (s)": [
                format_seconds(v) for v in statistics["first_epoch_seconds_median"]
            ],
            "Inference (img/s)": [
                format_count(v) for v in statistics["inference_images_per_second_median"]
            ],
            "Peak memory (MiB)": [format_count(v) for v in statistics["peak_memory_mib_max"]],
        }
    )
    data = statistics.drop(columns=["cell"]) if not statistics.empty else statistics
    display, caption = _with_host_column(
        display,
        statistics,
        0,
        "Accuracy: mean ± sample standard deviation over the seeds that succeeded "
        "(Seeds: succeeded/expected). Weighted F1 and area ratio (AR): means over seeds. "
        "Times and throughput: medians over the seeds whose timing was not contended "
        "(Contended: runs the runner saw disturbed by other load, left out of every time); "
        "first epoch includes Keras's graph tracing. Peak memory: the largest peak resident "
        "memory of a run. — : no successful run (see the gaps).",
    )
    return Table(
        name="engines",
        title="Accuracy, time and memory per data set, architecture and engine",
        caption=caption,
        data=data,
        display=display,
    )


def comparison_table(comparison: pd.DataFrame) -> Table:
    """Per cell and engine: time ratio and accuracy difference against the baseline, with
    the intervals and verdicts of :func:`reports.statistics.engine_comparison`."""
    ranges = []
    for low, high, pairs in zip(
        comparison["train_time_ratio_min"],
        comparison["train_time_ratio_max"],
        comparison["timed_pairs"],
        strict=True,
    ):
        if is_missing(low):
            ranges.append(GAP)
        else:
            ranges.append(f"{low:.3g}x to {high:.3g}x" if pairs > 1 else "1 seed")
    display = pd.DataFrame(
        {
            "Data set": comparison["dataset"],
            "Architecture": comparison["model"],
            "Baseline": comparison["baseline"],
            "Engine": comparison["engine"],
            "Paired seeds": [
                f"{pairs}" if contended == 0 else f"{pairs} ({contended} contended)"
                for pairs, contended in zip(
                    comparison["paired_seeds"], comparison["contended_pairs"], strict=True
                )
            ],
            "s/epoch engine/baseline": [format_ratio(v) for v in comparison["epoch_time_ratio"]],
            "95% interval": [
                format_interval(low, high)
                for low, high in zip(
                    comparison["epoch_time_ratio_low"],
                    comparison["epoch_time_ratio_high"],
                    strict=True,
                )
            ],
            "Time verdict": [v or GAP for v in comparison["time_verdict"]],
            "Train time engine/baseline (median)": [
                format_ratio(v) for v in comparison["train_time_ratio_median"]
            ],
            "Range over seeds": ranges,
            "First epoch engine/baseline": [
                format_ratio(v) for v in comparison["first_epoch_ratio_median"]
            ],
            "Accuracy engine - baseline (mean)": [
                GAP if is_missing(v) else f"{v:+.4f}"
                for v in comparison["accuracy_difference_mean"]
            ],
            "Accuracy 95% interval": [
                format_interval(low, high, "difference")
                for low, high in zip(
                    comparison["accuracy_difference_low"],
                    comparison["accuracy_difference_high"],
                    strict=True,
                )
            ],
            "Accuracy verdict": [v or GAP for v in comparison["accuracy_verdict"]],
            "Same start": [
                f"{same}/{pairs}" if pairs else GAP
                for same, pairs in zip(
                    comparison["same_start_pairs"], comparison["paired_seeds"], strict=True
                )
            ],
            "Method (time; accuracy)": [
                f"{time}; {accuracy}" if pairs else GAP
                for time, accuracy, pairs in zip(
                    comparison["time_method"],
                    comparison["accuracy_method"],
                    comparison["paired_seeds"],
                    strict=True,
                )
            ],
            "Note": [note or "" for note in comparison["note"]],
        }
    )
    data = comparison.drop(columns=["cell"]) if not comparison.empty else comparison
    display, caption = _with_host_column(
        display,
        comparison,
        4,
        "Per cell, each engine against the baseline on the same seeds (same split, "
        "initial weights and batches). s/epoch engine/baseline: geometric mean over seeds "
        "of the paired steady-state seconds-per-epoch ratio (above 1x: the baseline is "
        "faster), with its 95% interval; the time verdict names a winner only when the "
        "interval lies wholly on one side of 1x, else it reads 'no clear difference at "
        "this number of seeds'. The interval comes from an exact sign-flip permutation "
        "test over the seeds' log-ratios (6 or more seeds), else from the same test over "
        "the paired steady-state epochs widened to hold every seed's ratio (3 to 5 seeds); "
        "no interval under 3 seeds (see docs/reports.md). Contended runs are left out of "
        "every time figure. Accuracy engine - baseline: mean paired difference with its "
        "interval (the same test over seeds, or the seeds' range under 6 seeds) and "
        "verdict. Same start: pairs with the same split, initial weights and (when both "
        "ran as many epochs) batch order.",
        HOST_PAIRS_CAPTION,
    )
    return Table(
        name="comparison",
        title="Each engine against the baseline: time ratio, accuracy difference, verdicts",
        caption=caption,
        data=data,
        display=display,
    )


def speed_table(speeds: pd.DataFrame) -> Table:
    """Per cell (and host class): every engine's steady-state seconds per epoch, its ratio
    to the baseline, and the fastest engine (:func:`reports.statistics.engine_speeds`),
    engines as columns; grouped by host class when the rows span several."""
    engines = sorted(dict.fromkeys(speeds["engine"]), key=engine_rank) if len(speeds) else []
    several = show_host_column(speeds)
    display_rows, data_rows = [], []
    for _, rows in host_sorted(speeds).groupby(["host_class", "cell"], sort=False):
        rows = rows.set_index("engine")
        first = rows.iloc[0]
        display_row: dict[str, Any] = {
            "Data set": first["dataset"],
            "Architecture": first["model"],
            "Baseline": first["baseline"],
        }
        if several:
            display_row = {"Host class": first["host_class"], **display_row}
        data_row: dict[str, Any] = {
            "dataset": first["dataset"],
            "model": first["model"],
            "host_class": first["host_class"],
            "baseline": first["baseline"],
        }
        for engine in engines:
            if engine not in rows.index:
                display_row[f"{engine} s/epoch (vs baseline)"] = GAP
                data_row[f"seconds_per_epoch {engine}"] = math.nan
                data_row[f"ratio_to_baseline {engine}"] = math.nan
                continue
            row = rows.loc[engine]
            seconds, ratio = row["seconds_per_epoch_median"], row["ratio_to_baseline"]
            text = format_seconds(seconds)
            if not is_missing(seconds) and not is_missing(ratio):
                text = f"{text} ({format_ratio(ratio)})"
            display_row[f"{engine} s/epoch (vs baseline)"] = text
            data_row[f"seconds_per_epoch {engine}"] = seconds
            data_row[f"ratio_to_baseline {engine}"] = ratio
        fastest = [engine for engine in rows.index if bool(rows.loc[engine, "fastest"])]
        name = fastest[0] if fastest else ""
        if not name:
            fastest_text = GAP
        elif bool(first["fastest_clear"]):
            fastest_text = f"{name} (clear)"
        elif first["fastest_note"]:
            fastest_text = f"{name} ({first['fastest_note']})"
        else:
            fastest_text = f"{name} (only engine timed)"
        display_row["Fastest"] = fastest_text
        data_row |= {
            "fastest": name,
            "fastest_clear": bool(first["fastest_clear"]),
            "fastest_note": first["fastest_note"],
        }
        display_rows.append(display_row)
        data_rows.append(data_row)
    engine_columns = [f"{engine} s/epoch (vs baseline)" for engine in engines]
    display_columns = ["Data set", "Architecture", "Baseline", *engine_columns, "Fastest"]
    caption = (
        "Per cell, each engine's median seconds per steady-state epoch (epochs "
        "after the first) over its uncontended runs, and in brackets its paired ratio to "
        "the baseline (geometric mean over seeds; 1x for the baseline). Fastest: the "
        "lowest median; 'clear' when the time verdict against every other engine names "
        "it, else the engines it is not clearly faster than."
    )
    if several:
        display_columns.insert(0, "Host class")
        caption += HOST_GROUPS_CAPTION + " The fastest engine is chosen per class."
    return Table(
        name="engine_speeds",
        title="Steady-state seconds per epoch of every engine",
        caption=caption,
        data=pd.DataFrame(data_rows),
        display=pd.DataFrame(display_rows, columns=display_columns),
    )


def gaps_table(gaps: pd.DataFrame) -> Table:
    """Every missing, failed, diverged, skipped or cut-short run and why."""
    display = pd.DataFrame(
        {
            "Cell": gaps["label"],
            "Engine": gaps["engine"],
            "Seed": gaps["seed"].astype(str),
            "Status": gaps["status"],
            "Reason": gaps["reason"],
        }
    )
    return Table(
        name="gaps",
        title="Gaps: runs missing, failed, diverged, skipped or cut short",
        caption="Runs a cell expects (its engines x the seeds any of its runs used) that "
        "did not succeed, with the stored error; these are left out of every number. Runs "
        "stopped early by the time budget succeeded and count, with fewer epochs.",
        data=gaps.drop(columns=["cell"]) if not gaps.empty else gaps,
        display=display,
    )


def seed_table_accuracy_time(statistics: pd.DataFrame) -> Table:
    """Seed 000, table I: test accuracy and training time per model and data set (grouped
    by host class when the rows span several)."""
    statistics = host_sorted(statistics).reset_index(drop=True)
    several = show_host_column(statistics)
    display_rows = []
    previous: tuple[Any, Any] = (None, None)
    for row in statistics.itertuples(index=False):
        group = (row.host_class, row.dataset)
        display_rows.append(
            {
                **(
                    {"Host class": row.host_class if group[0] != previous[0] else ""}
                    if several
                    else {}
                ),
                # the seed prints the data set once per group
                "Data set": row.dataset if group != previous else "",
                "Model": row.model,
                "Engine": row.engine,
                "acc_test": format_number(row.accuracy_mean, 3),
                "t_train (s)": GAP
                if math.isnan(row.train_seconds_median)
                else f"{row.train_seconds_median:.1f}s",
                "t_train (m, s)": format_minutes_seconds(row.train_seconds_median),
            }
        )
        previous = group
    columns = ["Data set", "Model", "Engine", "acc_test", "t_train (s)", "t_train (m, s)"]
    caption = (
        "The seed's table I with one row per engine: acc_test is the mean over seeds, "
        "t_train the median training time."
    )
    if several:
        columns.insert(0, "Host class")
        caption += HOST_GROUPS_CAPTION
    data = pd.DataFrame(
        {
            "host_class": statistics.get("host_class", pd.Series(dtype=str)),
            "dataset": statistics.get("dataset", pd.Series(dtype=str)),
            "model": statistics.get("model", pd.Series(dtype=str)),
            "engine": statistics.get("engine", pd.Series(dtype=str)),
            "accuracy_mean": statistics.get("accuracy_mean", pd.Series(dtype=float)),
            "train_seconds_median": statistics.get("train_seconds_median", pd.Series(dtype=float)),
        }
    )
    return Table(
        name="seed000_table1",
        title="Test accuracy and training time for the selected models (seed 000, table I)",
        caption=caption,
        data=data,
        display=pd.DataFrame(display_rows, columns=columns),
    )


def _mean_per_class(records: Sequence[dict[str, Any]], key: str, classes: int) -> np.ndarray:
    values = []
    for record in records:
        row = ((record.get("metrics") or {}).get("per_class") or {}).get(key)
        if isinstance(row, list) and len(row) == classes:
            values.append([math.nan if v is None else float(v) for v in row])
    if not values:
        return np.full(classes, np.nan)
    stacked = np.asarray(values, dtype=float)
    counts = np.sum(~np.isnan(stacked), axis=0)
    sums = np.nansum(stacked, axis=0)
    return np.divide(sums, counts, out=np.full(classes, np.nan), where=counts > 0)


def _support_text(records: Sequence[dict[str, Any]], classes: int) -> list[str]:
    supports = [
        ((record.get("metrics") or {}).get("per_class") or {}).get("support") for record in records
    ]
    supports = [s for s in supports if isinstance(s, list) and len(s) == classes]
    if not supports:
        return [GAP] * classes
    stacked = np.asarray(supports, dtype=float)
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    return [f"{a:.0f}" if a == b else f"{a:.0f}-{b:.0f}" for a, b in zip(low, high, strict=True)]


def seed_table_per_class(loaded: LoadedResults, info: CellInfo) -> Table | None:
    """Seed 001, tables V/VII/IX: per-class F1 and area ratio, the engines side by side.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    info : CellInfo
        The cell.

    Returns
    -------
    Table or None
        Rows: classes then the weighted average; columns: class, amount (test images),
        F1 per engine, area ratio per engine (means over seeds). None when no run of the
        cell succeeded.
    """
    records = successful_records(loaded, info.cell)
    names = class_names_of(records)
    if not names:
        return None
    classes = len(names)
    engines = [engine for engine in info.engines if engine in {r["engine"] for r in records}]
    data = pd.DataFrame({"class": [*names, "weighted average"]})
    amounts = _support_text(records, classes)
    supports = [((r.get("metrics") or {}).get("per_class") or {}).get("support") for r in records]
    total = next((sum(s) for s in supports if isinstance(s, list) and len(s) == classes), None)
    display = pd.DataFrame(
        {"Class label": [*names, "Weighted average"], "Amount": [*amounts, format_count(total)]}
    )
    for metric, stored_average, label in (
        ("f1", "weighted_f1", "F1"),
        ("area_ratio", "weighted_area_ratio", "AR"),
    ):
        for engine in engines:
            engine_records = [r for r in records if r["engine"] == engine]
            per_class = _mean_per_class(engine_records, metric, classes)
            averages = [
                r["metrics"].get(stored_average)
                for r in engine_records
                if isinstance(r["metrics"].get(stored_average), int | float)
            ]
            average = float(np.mean(averages)) if averages else math.nan
            values = [*per_class.tolist(), average]
            data[f"{metric}_{engine}"] = values
            display[f"{label} {engine}"] = [format_number(v) for v in values]
    slug = info.cell.replace("/", "_").replace(" ", "_").replace("(", "").replace(")", "")
    return Table(
        name=f"per_class_{slug}",
        title=f"Per-class F1 and area ratio, {info.label} (seed 001, tables V/VII/IX)",
        caption="F1 and area ratio (AR) per class, each engine side by side, means over the "
        "seeds that succeeded; the last row holds the support-weighted averages. Amount: "
        "test images of the class (a range when the seeds' splits differ).",
        data=data,
        display=display,
    )
