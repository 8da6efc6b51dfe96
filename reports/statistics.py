"""Statistics over seeds, the paired engine comparison and the gaps, as DataFrames.

Over seeds: accuracy, weighted F1 and weighted area ratio are means with the sample
standard deviation (``ddof=1``; undefined for one seed); times and throughputs are medians
(timings here vary up to 2x between runs, so the median is the fair summary); peak memory
is the largest peak. Only runs with status ``success`` enter a number; every other cell x
engine x seed is a gap, with its reason.

Engine comparison (per cell): runs of the two engines with the same seed are paired (same
split, same initial weights, same batches). The speed ratio is scratch time / Keras time
of each pair over the epochs both completed (above 1: scratch is slower), summarised by
its median and range; the accuracy difference is scratch - Keras of each pair, summarised
by its mean and standard deviation. The difference is *beyond the seed spread* when its
absolute mean exceeds the larger of the two engines' seed standard deviations of accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports.cells import CellInfo
from reports.loading import LoadedResults

#: the engines a speed ratio compares: numerator / denominator
RATIO_ENGINES = ("scratch", "keras")

MEBIBYTE = 1024.0 * 1024.0

#: gap status of a successful run that a time budget cut short (it still counts)
STOPPED_EARLY = "stopped early"

#: verdicts of the accuracy comparison
BEYOND_SPREAD = "beyond seed spread"
WITHIN_SPREAD = "within seed spread"
NO_SPREAD = "one seed: no spread"


def _std(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _median(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.median()) if len(values) else math.nan


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def _max(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.max()) if len(values) else math.nan


#: columns of :func:`engine_statistics`
STATISTICS_COLUMNS = [
    "cell", "dataset", "architecture", "model", "device", "engine", "seeds_expected",
    "seeds_succeeded", "accuracy_mean", "accuracy_std", "accuracy_min", "accuracy_max",
    "weighted_f1_mean", "weighted_f1_std", "weighted_area_ratio_mean",
    "weighted_area_ratio_std", "train_seconds_median", "seconds_per_epoch_median",
    "first_epoch_seconds_median", "train_images_per_second_median",
    "inference_images_per_second_median", "peak_memory_mib_max",
]  # fmt: skip


def successful_runs(loaded: LoadedResults) -> pd.DataFrame:
    """The rows of the runs table whose status is ``success``."""
    runs = loaded.runs
    return runs[runs["status"] == "success"] if not runs.empty else runs


def engine_statistics(loaded: LoadedResults, cells: Sequence[CellInfo]) -> pd.DataFrame:
    """One row per cell x engine: seed counts and statistics of every figure.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells (see :func:`reports.cells.describe_cells`); every engine a cell expects
        gets a row, with NaN figures when none of its runs succeeded.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATISTICS_COLUMNS`.
    """
    success = successful_runs(loaded)
    rows = []
    for info in cells:
        for engine in info.engines:
            runs = success[(success["cell"] == info.cell) & (success["engine"] == engine)]
            rows.append(
                {
                    "cell": info.cell,
                    "dataset": info.dataset,
                    "architecture": info.architecture,
                    "model": info.model,
                    "device": info.device,
                    "engine": engine,
                    "seeds_expected": len(info.seeds),
                    "seeds_succeeded": int(runs["seed"].nunique()),
                    "accuracy_mean": _mean(runs["accuracy"]),
                    "accuracy_std": _std(runs["accuracy"]),
                    "accuracy_min": float(runs["accuracy"].min()) if len(runs) else math.nan,
                    "accuracy_max": _max(runs["accuracy"]),
                    "weighted_f1_mean": _mean(runs["weighted_f1"]),
                    "weighted_f1_std": _std(runs["weighted_f1"]),
                    "weighted_area_ratio_mean": _mean(runs["weighted_area_ratio"]),
                    "weighted_area_ratio_std": _std(runs["weighted_area_ratio"]),
                    "train_seconds_median": _median(runs["train_seconds"]),
                    "seconds_per_epoch_median": _median(runs["seconds_per_epoch"]),
                    "first_epoch_seconds_median": _median(runs["first_epoch_seconds"]),
                    "train_images_per_second_median": _median(runs["train_images_per_second"]),
                    "inference_images_per_second_median": _median(
                        runs["inference_images_per_second"]
                    ),
                    "peak_memory_mib_max": _max(runs["peak_rss_bytes"]) / MEBIBYTE,
                }
            )
    return pd.DataFrame(rows, columns=STATISTICS_COLUMNS)


def _common_epoch_time_ratio(paired: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the epochs both runs completed and the ratio of their training times over
    those epochs (from the cumulative ``elapsed_seconds``). A run a time budget stopped
    early is thus compared with the same number of the other engine's epochs; when the
    curves are absent, the ratio of the whole training times."""
    epochs = np.zeros(len(paired), dtype=int)
    ratios = (paired["train_seconds_a"] / paired["train_seconds_b"]).to_numpy(
        dtype=float, copy=True
    )
    for index, (first, second) in enumerate(
        zip(paired["elapsed_seconds_a"], paired["elapsed_seconds_b"], strict=True)
    ):
        if isinstance(first, list) and isinstance(second, list):
            epochs[index] = min(len(first), len(second))
            ratios[index] = first[epochs[index] - 1] / second[epochs[index] - 1]
    return epochs, ratios


def _same_start(paired: pd.DataFrame) -> np.ndarray:
    """Per pair: same split and initial weights, and (when both ran as many epochs) the same
    batch order; all digests stored and equal. A run stopped early saw fewer batches, so its
    batch-order digest differs by construction and is not compared."""
    same = np.ones(len(paired), dtype=bool)
    equal_epochs = (paired["epochs_completed_a"] == paired["epochs_completed_b"]).to_numpy(bool)
    for column in ("split_fingerprint", "initial_weights_sha256", "batch_order_sha256"):
        first, second = paired[f"{column}_a"], paired[f"{column}_b"]
        agree = (first.notna() & (first == second)).to_numpy(dtype=bool, copy=True)
        if column == "batch_order_sha256":
            agree |= ~equal_epochs
        same &= agree
    return same


def paired_seeds(loaded: LoadedResults, cells: Sequence[CellInfo]) -> pd.DataFrame:
    """One row per cell x seed where both compared engines succeeded: the paired figures.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells; those that do not run both engines of :data:`RATIO_ENGINES` are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell, dataset, model, seed, train_time_ratio, epoch_time_ratio,
        first_epoch_ratio, accuracy_difference, same_start, common_epochs, equal_epochs``
        (ratios scratch/Keras, the training-time ratio over the epochs both completed;
        difference scratch - Keras; ``same_start``: same split fingerprint, initial weights
        and batch order digests; ``equal_epochs``: both completed as many epochs).
    """
    numerator, denominator = RATIO_ENGINES
    success = successful_runs(loaded)
    frames = []
    for info in cells:
        if numerator not in info.engines or denominator not in info.engines:
            continue
        runs = success[success["cell"] == info.cell]
        # the last success per seed and engine (there is one unless files were merged)
        first, second = (
            runs[runs["engine"] == engine].drop_duplicates("seed", keep="last").set_index("seed")
            for engine in RATIO_ENGINES
        )
        paired = pd.merge(
            first, second, how="inner", left_index=True, right_index=True, suffixes=("_a", "_b")
        )
        common_epochs, time_ratio = _common_epoch_time_ratio(paired)
        frames.append(
            pd.DataFrame(
                {
                    "cell": info.cell,
                    "dataset": info.dataset,
                    "model": info.model,
                    "seed": paired.index.to_numpy(dtype=int),
                    "train_time_ratio": time_ratio,
                    "common_epochs": common_epochs,
                    "equal_epochs": (
                        paired["epochs_completed_a"] == paired["epochs_completed_b"]
                    ).to_numpy(dtype=bool),
                    "epoch_time_ratio": paired["seconds_per_epoch_a"]
                    / paired["seconds_per_epoch_b"],
                    "first_epoch_ratio": paired["first_epoch_seconds_a"]
                    / paired["first_epoch_seconds_b"],
                    "accuracy_difference": paired["accuracy_a"] - paired["accuracy_b"],
                    "same_start": _same_start(paired),
                }
            ).reset_index(drop=True)
        )
    columns = [
        "cell", "dataset", "model", "seed", "train_time_ratio", "epoch_time_ratio",
        "first_epoch_ratio", "accuracy_difference", "same_start", "common_epochs",
        "equal_epochs",
    ]  # fmt: skip
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def engine_comparison(
    statistics: pd.DataFrame, pairs: pd.DataFrame, cells: Sequence[CellInfo]
) -> pd.DataFrame:
    """One row per cell: the paired speed ratio and accuracy difference scratch vs Keras.

    Parameters
    ----------
    statistics : pandas.DataFrame
        :func:`engine_statistics` (for the engines' seed spreads).
    pairs : pandas.DataFrame
        :func:`paired_seeds`.
    cells : sequence of CellInfo
        The cells; those that do not run both engines are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell, dataset, architecture, model, device, paired_seeds,
        train_time_ratio_median, train_time_ratio_min, train_time_ratio_max,
        epoch_time_ratio_median, first_epoch_ratio_median, accuracy_difference_mean,
        accuracy_difference_std, seed_spread, verdict, note, same_start_pairs``.
        ``verdict`` is one of :data:`BEYOND_SPREAD`, :data:`WITHIN_SPREAD`,
        :data:`NO_SPREAD` or empty when no seed has both engines; ``note`` says why a
        comparison is missing; ``same_start_pairs`` counts the pairs with the same split,
        initial weights and batch order.
    """
    rows = []
    for info in cells:
        if not all(engine in info.engines for engine in RATIO_ENGINES):
            continue
        cell_pairs = pairs[pairs["cell"] == info.cell]
        cell_statistics = statistics[statistics["cell"] == info.cell].set_index("engine")
        spreads = [
            cell_statistics.loc[engine, "accuracy_std"]
            for engine in RATIO_ENGINES
            if engine in cell_statistics.index
        ]
        spreads = [float(value) for value in spreads if not math.isnan(value)]
        spread = max(spreads) if spreads else math.nan
        difference = cell_pairs["accuracy_difference"].astype(float)
        mean_difference = _mean(difference)
        if difference.dropna().empty:
            verdict = ""
        elif math.isnan(spread):
            verdict = NO_SPREAD
        else:
            verdict = BEYOND_SPREAD if abs(mean_difference) > spread else WITHIN_SPREAD
        note = ""
        unequal = cell_pairs[~cell_pairs["equal_epochs"].astype(bool)]
        if not unequal.empty:
            note = (
                f"{len(unequal)} of {len(cell_pairs)} pairs stopped early (time budget): "
                f"times compared over the first {int(unequal['common_epochs'].min())}+ "
                "epochs, accuracies after unequal training"
            )
        if cell_pairs.empty:
            missing = [
                engine
                for engine in RATIO_ENGINES
                if engine not in cell_statistics.index
                or cell_statistics.loc[engine, "seeds_succeeded"] == 0
            ]
            note = (
                f"no successful {' or '.join(missing)} run"
                if missing
                else "no seed with successful runs of both engines"
            )
        ratio = cell_pairs["train_time_ratio"].astype(float)
        rows.append(
            {
                "cell": info.cell,
                "dataset": info.dataset,
                "architecture": info.architecture,
                "model": info.model,
                "device": info.device,
                "paired_seeds": len(cell_pairs),
                "train_time_ratio_median": _median(ratio),
                "train_time_ratio_min": float(ratio.min()) if len(ratio) else math.nan,
                "train_time_ratio_max": _max(ratio),
                "epoch_time_ratio_median": _median(cell_pairs["epoch_time_ratio"].astype(float)),
                "first_epoch_ratio_median": _median(cell_pairs["first_epoch_ratio"].astype(float)),
                "accuracy_difference_mean": mean_difference,
                "accuracy_difference_std": _std(difference),
                "seed_spread": spread,
                "verdict": verdict,
                "note": note,
                "same_start_pairs": int(cell_pairs["same_start"].astype(bool).sum()),
            }
        )
    columns = [
        "cell", "dataset", "architecture", "model", "device", "paired_seeds",
        "train_time_ratio_median", "train_time_ratio_min", "train_time_ratio_max",
        "epoch_time_ratio_median", "first_epoch_ratio_median", "accuracy_difference_mean",
        "accuracy_difference_std", "seed_spread", "verdict", "note", "same_start_pairs",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def find_gaps(loaded: LoadedResults, cells: Sequence[CellInfo]) -> pd.DataFrame:
    """Every cell x engine x seed without a successful, complete run, with the reason.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells and what they expect.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell, label, engine, seed, status, reason``. ``status`` is the stored
        status (``failed``, ``diverged``, ``skipped``), ``absent`` when no record exists,
        or :data:`STOPPED_EARLY` for a successful run a time budget stopped before its last
        epoch (it still counts in the numbers).
    """
    rows = []
    runs = loaded.runs
    for info in cells:
        cell_runs = runs[runs["cell"] == info.cell]
        for engine in info.engines:
            engine_runs = cell_runs[cell_runs["engine"] == engine]
            for seed in info.seeds:
                seed_runs = engine_runs[engine_runs["seed"] == seed]
                base = {"cell": info.cell, "label": info.label, "engine": engine, "seed": seed}
                if seed_runs.empty:
                    reason = (
                        f"no {engine} record for any seed of this cell"
                        if engine_runs.empty
                        else f"no {engine} record for seed {seed}"
                    )
                    rows.append(
                        base
                        | {
                            "status": "absent",
                            "reason": reason + " (not run, interrupted, or still running)",
                        }
                    )
                    continue
                run = seed_runs.iloc[-1]
                if run["status"] != "success":
                    error = run["error"] if isinstance(run["error"], str) else "no error stored"
                    rows.append(base | {"status": run["status"], "reason": error})
                elif run["epochs_completed"] < run["epochs_planned"]:
                    rows.append(
                        base
                        | {
                            "status": STOPPED_EARLY,
                            "reason": "success, but stopped early after "
                            f"{run['epochs_completed']:.0f} of "
                            f"{run['epochs_planned']:.0f} epochs (time budget)",
                        }
                    )
    return pd.DataFrame(rows, columns=["cell", "label", "engine", "seed", "status", "reason"])


def successful_records(
    loaded: LoadedResults, cell: str, engine: str | None = None
) -> list[dict[str, Any]]:
    """The successful records of one cell (and engine), in file order."""
    return [
        record
        for record in loaded.records
        if record["_cell"] == cell
        and record.get("status") == "success"
        and (engine is None or record["engine"] == engine)
        and isinstance(record.get("metrics"), dict)
    ]


def class_names_of(records: Sequence[dict[str, Any]]) -> list[str]:
    """The class names of the first record that has them ([] when none has)."""
    for record in records:
        names = (record.get("metrics") or {}).get("class_names")
        if isinstance(names, list) and names:
            return [str(name) for name in names]
    return []
