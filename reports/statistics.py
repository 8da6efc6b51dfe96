"""Statistics over seeds, the paired engine comparisons, their verdicts and the gaps.

Over seeds: accuracy, weighted F1 and weighted area ratio are means with the sample
standard deviation (``ddof=1``; undefined for one seed); times and throughputs are medians
(timings here vary up to 2x between runs, so the median is the fair summary); peak memory
is the largest peak. Only runs with status ``success`` enter a number; every other cell x
engine x seed is a gap, with its reason. Runs the runner marked ``timing_quality ==
"contended"`` (other load disturbed their clocks) are left out of every time figure and
time verdict, and counted.

Engine comparison (per cell, the baseline engine against each other engine): runs of two
engines with the same seed *and the same host class* are paired (same split, same initial
weights, same batches, same kind of machine). A time is only comparable with times from
the same host class (:func:`reports.loading.host_class_of`), so no ratio is ever formed
across classes: a cell whose runs span several host classes gets one comparison, one speed
row and one statistics row per class (the ``host_class`` column of every frame here).
Time ratios are *engine time / baseline time* (above 1: the baseline is faster);
accuracy differences are *engine - baseline*.

Verdicts (:func:`time_verdict`, :func:`accuracy_verdict`) are pure functions of paired
arrays. Each gives a 95% interval and names a winner only when the interval lies wholly on
one side of "no difference" (ratio 1, difference 0); otherwise the verdict is
:data:`NO_CLEAR_DIFFERENCE`. The interval comes from a **sign-flip permutation test**
(:func:`sign_flip_test`: :func:`scipy.stats.permutation_test` with
``permutation_type="samples"``), inverted: the interval holds every shift of the paired
values that the test does not reject at 5%.

Why a sign-flip test and not the bootstrap: with the few seeds a benchmark affords, a
bootstrap interval is too narrow (with 3 seeds its percentile interval is about the range
of the 3 values, whatever their spread), while the sign-flip test is exact for any number
of pairs and assumes only that, were the engines alike, each pair's log-ratio (or
difference) were as likely positive as negative. Its honesty has a price: over ``n``
seeds the smallest two-sided p-value is ``2 / 2**n``, so the seeds alone can name a winner
only from :func:`seed_level_minimum` (6) paired seeds. With fewer seeds:

- time: the test runs over the paired steady-state epochs (``timings.epoch_seconds[1:]``,
  epoch ``i`` of one engine with epoch ``i`` of the other, same seed, each seed weighted
  equally), so the per-epoch spread decides; and since epochs of one run share whatever
  slowed or sped that run, the interval is widened to hold every seed's own ratio: a
  winner needs every seed to agree as well as the epochs;
- accuracy: the interval is the range of the per-seed differences (what a bootstrap
  over 3 seeds would give), so a winner needs every seed to agree;
- below :data:`MIN_SEEDS_FOR_VERDICT` (3) paired seeds there is no interval and no
  winner.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from reports.cells import CellInfo
from reports.loading import CONTENDED, LoadedResults, nested_get

MEBIBYTE = 1024.0 * 1024.0

#: gap status of a successful run that a time budget cut short (it still counts)
STOPPED_EARLY = "stopped early"

#: the confidence of every interval
CONFIDENCE = 0.95
#: paired seeds below which no verdict names a winner
MIN_SEEDS_FOR_VERDICT = 3
#: random sign patterns when the 2**n exact ones are more than this
SIGN_FLIP_RESAMPLES = 9999
#: seed of the random sign patterns: the same results always give the same report
SIGN_FLIP_SEED = 20261122

#: the verdict of a pair whose interval holds "no difference"
NO_CLEAR_DIFFERENCE = "no clear difference at this number of seeds"

#: how an interval was obtained (``method`` of :class:`PairedVerdict`)
METHOD_SEEDS = "sign-flip test over {n} seeds"
METHOD_EPOCHS = (
    "sign-flip test over {epochs} paired epochs of {n} seeds, widened to the seeds' range"
)
METHOD_RANGE = "range of {n} seeds"
METHOD_TOO_FEW = "{n} paired seed(s): {minimum} needed"


def faster(engine: str) -> str:
    """The time verdict naming ``engine``: ``"keras:jax faster"``."""
    return f"{engine} faster"


def more_accurate(engine: str) -> str:
    """The accuracy verdict naming ``engine``: ``"scratch more accurate"``."""
    return f"{engine} more accurate"


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


def _min(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.min()) if len(values) else math.nan


# ---------------------------------------------------------------------------------------
# Verdicts: pure functions of paired arrays.


def seed_level_minimum(confidence: float = CONFIDENCE) -> int:
    """The fewest pairs from which an exact sign-flip test can reject "no difference".

    Over ``n`` pairs the smallest two-sided p-value is ``2 / 2**n`` (all pairs on one
    side); the test can reject at level ``1 - confidence`` only when that is at most it.

    Parameters
    ----------
    confidence : float, default 0.95

    Returns
    -------
    int
        6 for 95%.
    """
    return max(1, math.ceil(math.log2(2.0 / (1.0 - confidence)) - 1e-12))


@dataclass(frozen=True)
class SignFlipResult:
    """A sign-flip permutation test of "centre 0" and the interval it inverts to.

    Attributes
    ----------
    estimate : float
        The (weighted) mean of the values.
    low, high : float
        Every shift ``delta`` for which the test of ``values - delta`` gives a p-value
        above ``1 - confidence`` lies in ``[low, high]``; ``-inf``/``inf`` when the test
        cannot reject on that side with this many values.
    pvalue : float
        Two-sided p-value of ``values`` themselves (scipy's).
    exact : bool
        Whether all ``2**n`` sign patterns were used (else :data:`SIGN_FLIP_RESAMPLES`
        random ones).
    units : int
        Values tested.
    """

    estimate: float
    low: float
    high: float
    pvalue: float
    exact: bool
    units: int


def sign_flip_test(
    values: Sequence[float] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = SIGN_FLIP_RESAMPLES,
    seed: int = SIGN_FLIP_SEED,
) -> SignFlipResult:
    """Sign-flip permutation test of the weighted mean and its inverted interval.

    :func:`scipy.stats.permutation_test` with ``permutation_type="samples"`` on one
    sample flips the sign of each value; the statistic is ``sum(w * x)`` with the weights
    normalised to sum 1. To invert the test without re-running it for every candidate
    shift, scipy is run twice with the same sign patterns (same random seed): on ``x``,
    giving each pattern ``k``'s statistic ``T_k``, and on ones, giving ``c_k = sum(w *
    s_k)``. For ``x - delta`` pattern ``k`` gives ``T_k - delta * c_k`` while the observed
    statistic is ``T - delta``, so pattern ``k`` counts as at least as extreme above from
    ``delta >= (T - T_k) / (1 - c_k)`` on, and the interval's ends are order statistics of
    these thresholds, with scipy's p-value rule (``2 * min`` of the one-sided p-values,
    ``+1`` in numerator and denominator for random patterns).

    Parameters
    ----------
    values : array_like
        Paired values (log-ratios, differences); NaN values are dropped with their weights.
    weights : array_like, optional
        Positive weights (equal when omitted).
    confidence : float, default 0.95
    n_resamples : int, default :data:`SIGN_FLIP_RESAMPLES`
        Random sign patterns when ``2**n`` exceeds it; exact enumeration otherwise.
    seed : int, default :data:`SIGN_FLIP_SEED`

    Returns
    -------
    SignFlipResult
        NaN fields when no value is left.
    """
    x = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape or np.any(w <= 0):
        raise ValueError(
            f"sign_flip_test: weights must be {x.size} positive numbers, one per value; "
            f"got {w.size} with minimum {w.min() if w.size else 'none'}"
        )
    keep = np.isfinite(x)
    if not keep.any():
        return SignFlipResult(math.nan, math.nan, math.nan, math.nan, False, 0)
    x, w = x[keep], w[keep] / w[keep].sum()

    def weighted_mean(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(np.moveaxis(sample, axis, -1) * w, axis=-1)

    def run(sample: np.ndarray) -> Any:
        return scipy.stats.permutation_test(
            (sample,),
            weighted_mean,
            permutation_type="samples",
            vectorized=True,
            n_resamples=n_resamples,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )

    observed = run(x)
    slopes = run(np.ones_like(x)).null_distribution
    null = np.asarray(observed.null_distribution, dtype=float)
    estimate = float(observed.statistic)
    exact = 2**x.size <= n_resamples
    adjustment = 0 if exact else 1
    alpha = 1.0 - confidence
    # the all-plus pattern (c_k == 1) is the observed statistic itself: a tie at any shift
    always = np.isclose(slopes, 1.0, rtol=0.0, atol=1e-12)
    thresholds = np.sort((estimate - null[~always]) / (1.0 - slopes[~always]))
    # not rejected on a side while 2 * (adjustment + ties + thresholds passed) / (K + adj)
    # exceeds alpha: ``needed`` thresholds must be passed
    short = alpha * (null.size + adjustment) / 2.0 - adjustment - int(always.sum())
    needed = math.floor(short) + 1 if short >= 0 else 0
    if needed == 0 or needed > thresholds.size:
        low, high = -math.inf, math.inf
    else:
        low, high = float(thresholds[needed - 1]), float(thresholds[-needed])
    return SignFlipResult(estimate, low, high, float(observed.pvalue), exact, int(x.size))


@dataclass(frozen=True)
class PairedVerdict:
    """How two engines compare on paired seeds: an estimate, its interval and the verdict.

    Attributes
    ----------
    estimate : float
        Time: the geometric mean over seeds of ``second / first`` seconds per epoch.
        Accuracy: the mean of ``second - first``.
    low, high : float
        The interval (same scale as ``estimate``); NaN when there is none.
    pvalue : float
        The seed-level sign-flip test's p-value; NaN when another method gave the interval.
    seeds : int
        Paired seeds used.
    method : str
        How the interval was obtained (see the module docstring).
    verdict : str
        ``"<first> faster"``/``"<second> faster"`` (time), ``"<first> more
        accurate"``/``"<second> more accurate"`` (accuracy), or
        :data:`NO_CLEAR_DIFFERENCE`.
    winner : str or None
        The engine the verdict names.
    """

    estimate: float
    low: float
    high: float
    pvalue: float
    seeds: int
    method: str
    verdict: str
    winner: str | None


def _paired(first: Any, second: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"paired values must be as many for both engines; got {a.size} and {b.size}"
        )
    return a, b, np.isfinite(a) & np.isfinite(b)


def steady_epoch_log_ratios(
    first_epochs: Sequence[Sequence[float] | None],
    second_epochs: Sequence[Sequence[float] | None],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-epoch log-ratios ``log(second / first)`` of paired runs' steady-state epochs.

    Parameters
    ----------
    first_epochs, second_epochs : sequence of (sequence of float or None)
        Per seed, each run's ``timings.epoch_seconds``; the first epoch (tracing,
        warm-up) is left out, and epoch ``i`` of one run is paired with epoch ``i`` of the
        other over the epochs both completed.

    Returns
    -------
    values : numpy.ndarray
        The log-ratios, seed after seed.
    weights : numpy.ndarray
        ``1 / (seeds * epochs of that seed)``: each seed weighs the same.
    seeds : int
        Seeds that contributed at least one epoch pair.
    """
    per_seed = []
    for first, second in zip(first_epochs, second_epochs, strict=True):
        if not first or not second:
            continue
        a = np.asarray(first, dtype=float)[1:]
        b = np.asarray(second, dtype=float)[1:]
        common = min(a.size, b.size)
        ratios = np.log(b[:common] / a[:common]) if common else np.empty(0)
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            per_seed.append(ratios)
    if not per_seed:
        return np.empty(0), np.empty(0), 0
    weights = np.concatenate([np.full(r.size, 1.0 / (len(per_seed) * r.size)) for r in per_seed])
    return np.concatenate(per_seed), weights, len(per_seed)


def _too_few_seeds(estimate: float, seeds: int) -> PairedVerdict:
    """The verdict with fewer than :data:`MIN_SEEDS_FOR_VERDICT` paired seeds: none."""
    method = METHOD_TOO_FEW.format(n=seeds, minimum=MIN_SEEDS_FOR_VERDICT)
    return PairedVerdict(estimate, math.nan, math.nan, math.nan, seeds, method,
                         NO_CLEAR_DIFFERENCE, None)  # fmt: skip


def _seed_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float, str] | None:
    """``(low, high, p-value, method)`` of paired per-seed values; None with too few.

    With enough seeds for the confidence, the sign-flip test's interval; below that, the
    range of the values (p-value NaN), which a caller may widen with more evidence.
    """
    seeds = int(values.size)
    if seeds < MIN_SEEDS_FOR_VERDICT:
        return None
    if seeds >= seed_level_minimum(confidence):
        result = sign_flip_test(values, confidence=confidence)
        return result.low, result.high, result.pvalue, METHOD_SEEDS.format(n=seeds)
    return float(values.min()), float(values.max()), math.nan, METHOD_RANGE.format(n=seeds)


def time_verdict(
    first_seconds: Sequence[float] | np.ndarray,
    second_seconds: Sequence[float] | np.ndarray,
    first: str,
    second: str,
    *,
    first_epochs: Sequence[Sequence[float] | None] | None = None,
    second_epochs: Sequence[Sequence[float] | None] | None = None,
    confidence: float = CONFIDENCE,
) -> PairedVerdict:
    """Which of two engines trains faster per steady-state epoch, from paired seeds.

    Parameters
    ----------
    first_seconds, second_seconds : array_like
        Per paired seed, each engine's ``timings.seconds_per_epoch`` (median of the
        epochs after the first); pairs with a missing or non-positive value are dropped.
    first, second : str
        The engines' names, for the verdict.
    first_epochs, second_epochs : sequence, optional
        Per paired seed, each run's ``timings.epoch_seconds``: with fewer than
        :func:`seed_level_minimum` seeds the test runs over these epochs (see the module
        docstring); without them the interval is the range of the seeds' ratios.
    confidence : float, default 0.95

    Returns
    -------
    PairedVerdict
        ``estimate``, ``low``, ``high`` are ratios ``second / first`` (below 1:
        ``second`` is faster).
    """
    a, b, valid = _paired(first_seconds, second_seconds)
    valid &= (a > 0) & (b > 0)
    log_ratios = np.log(b[valid] / a[valid])
    seeds = int(log_ratios.size)
    estimate = float(np.exp(log_ratios.mean())) if seeds else math.nan
    interval = _seed_interval(log_ratios, confidence)
    if interval is None:
        return _too_few_seeds(estimate, seeds)
    low, high, pvalue, method = interval
    few_seeds = seeds < seed_level_minimum(confidence)
    if few_seeds and first_epochs is not None and second_epochs is not None:
        # too few seeds for a seed-level interval: widen their range by the epochs' test
        kept = np.flatnonzero(valid)
        values, weights, epoch_seeds = steady_epoch_log_ratios(
            [first_epochs[i] for i in kept], [second_epochs[i] for i in kept]
        )
        if epoch_seeds == seeds:
            result = sign_flip_test(values, weights, confidence=confidence)
            low, high = min(low, result.low), max(high, result.high)
            method = METHOD_EPOCHS.format(epochs=values.size, n=seeds)
    verdict, winner = NO_CLEAR_DIFFERENCE, None
    if high < 0:
        verdict, winner = faster(second), second
    elif low > 0:
        verdict, winner = faster(first), first
    return PairedVerdict(estimate, math.exp(low), math.exp(high), pvalue, seeds, method,
                         verdict, winner)  # fmt: skip


def accuracy_verdict(
    first_accuracy: Sequence[float] | np.ndarray,
    second_accuracy: Sequence[float] | np.ndarray,
    first: str,
    second: str,
    *,
    confidence: float = CONFIDENCE,
) -> PairedVerdict:
    """Whether two engines differ in test accuracy, from paired seeds.

    Parameters
    ----------
    first_accuracy, second_accuracy : array_like
        Per paired seed, each engine's test accuracy; pairs with a missing value are
        dropped.
    first, second : str
        The engines' names, for the verdict.
    confidence : float, default 0.95

    Returns
    -------
    PairedVerdict
        ``estimate``, ``low``, ``high`` are differences ``second - first``.
    """
    a, b, valid = _paired(first_accuracy, second_accuracy)
    differences = b[valid] - a[valid]
    seeds = int(differences.size)
    estimate = float(differences.mean()) if seeds else math.nan
    interval = _seed_interval(differences, confidence)
    if interval is None:
        return _too_few_seeds(estimate, seeds)
    low, high, pvalue, method = interval
    verdict, winner = NO_CLEAR_DIFFERENCE, None
    if high < 0:
        verdict, winner = more_accurate(first), first
    elif low > 0:
        verdict, winner = more_accurate(second), second
    return PairedVerdict(estimate, low, high, pvalue, seeds, method, verdict, winner)


# ---------------------------------------------------------------------------------------
# Frames: statistics per cell x engine, paired seeds, comparisons.

#: columns of :func:`engine_statistics`
STATISTICS_COLUMNS = [
    "cell", "dataset", "architecture", "model", "device", "engine", "host_class",
    "seeds_expected",
    "seeds_succeeded", "contended_runs", "accuracy_mean", "accuracy_std", "accuracy_min",
    "accuracy_max", "weighted_f1_mean", "weighted_f1_std", "weighted_area_ratio_mean",
    "weighted_area_ratio_std", "train_seconds_median", "seconds_per_epoch_median",
    "first_epoch_seconds_median", "train_images_per_second_median",
    "inference_images_per_second_median", "peak_memory_mib_max",
]  # fmt: skip


def successful_runs(loaded: LoadedResults) -> pd.DataFrame:
    """The rows of the runs table whose status is ``success``."""
    runs = loaded.runs
    return runs[runs["status"] == "success"] if not runs.empty else runs


def uncontended(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs whose ``timing_quality`` is not ``contended`` (unknown counts as fine)."""
    return runs[runs["timing_quality"] != CONTENDED] if not runs.empty else runs


def host_classes_of_runs(runs: pd.DataFrame) -> list[str]:
    """The host classes of some rows of the runs table, sorted; ``[""]`` when there are none.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of the runs table (typically one cell's successful runs).

    Returns
    -------
    list of str
        Every ``host_class`` present, sorted, so that a frame built per class lists the
        classes in one order everywhere; a single empty string when no row is left (a
        cell without a successful run still gets its one row of gaps).
    """
    if runs.empty or "host_class" not in runs.columns:
        return [""]
    return sorted(set(runs["host_class"].astype(str))) or [""]


def _on_host(runs: pd.DataFrame, host_class: str) -> pd.DataFrame:
    """The rows of one host class (all rows when the frame has no ``host_class``)."""
    if runs.empty or "host_class" not in runs.columns:
        return runs
    return runs[runs["host_class"] == host_class]


def contended_run_count(loaded: LoadedResults) -> int:
    """Successful runs marked ``contended``: left out of every time figure and verdict."""
    success = successful_runs(loaded)
    return int((success["timing_quality"] == CONTENDED).sum()) if not success.empty else 0


def competing_load(records: Sequence[Mapping[str, Any]]) -> str:
    """What the contended runs' probes saw beside them, in one phrase ("" when none).

    The busiest other process of each contended record
    (``timings.contention.top_other_processes``), the most frequent first, and the range
    of the cores other processes used on average.

    Parameters
    ----------
    records : sequence of mapping
        Results records; the successful contended ones are described.

    Returns
    -------
    str
        E.g. ``"busiest other process: 'python load_generator.py' in 70 of 72 runs;
        other processes used 0.94 to 1.05 of the cores on average"``.
    """
    contended = [  # the runs contended_run_count counts: successful ones
        r for r in records if r.get("timing_quality") == CONTENDED and r.get("status") == "success"
    ]
    if not contended:
        return ""
    commands: Counter[str] = Counter()
    other_cores = []
    for record in contended:
        block = nested_get(record, ("timings", "contention")) or {}
        top = block.get("top_other_processes") or []
        if top and top[0].get("command"):
            commands[str(top[0]["command"])] += 1
        if isinstance(block.get("other_cores"), int | float):
            other_cores.append(float(block["other_cores"]))
    parts = []
    if commands:
        ((command, count),) = commands.most_common(1)
        shown = command if len(command) <= 120 else command[:117] + "..."
        parts.append(f"busiest other process: {shown!r} in {count} of {len(contended)} runs")
    if other_cores:
        parts.append(
            f"other processes used {min(other_cores):.2f} to {max(other_cores):.2f} "
            "of the cores on average"
        )
    return "; ".join(parts)


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
        Columns :data:`STATISTICS_COLUMNS`. Times and throughputs leave out contended
        runs (``contended_runs`` counts them); accuracy and memory do not. A cell whose
        successful runs come from several host classes gets its rows once per class
        (every engine of the cell on each, host class by host class), each over that
        class's runs only: no median mixes two kinds of machine.
    """
    success = successful_runs(loaded)
    rows = []
    for info in cells:
        cell_success = success[success["cell"] == info.cell]
        for host in host_classes_of_runs(cell_success):
            host_success = _on_host(cell_success, host)
            for engine in info.engines:
                rows.append(_statistics_row(info, engine, host, host_success))
    return pd.DataFrame(rows, columns=STATISTICS_COLUMNS)


def _statistics_row(
    info: CellInfo, engine: str, host: str, success: pd.DataFrame
) -> dict[str, Any]:
    """One row of :func:`engine_statistics` from one cell's successful runs on one host."""
    runs = success[success["engine"] == engine]
    timed = uncontended(runs)
    return {
        "cell": info.cell,
        "dataset": info.dataset,
        "architecture": info.architecture,
        "model": info.model,
        "device": info.device,
        "engine": engine,
        "host_class": host,
        "seeds_expected": len(info.seeds),
        "seeds_succeeded": int(runs["seed"].nunique()),
        "contended_runs": len(runs) - len(timed),
        "accuracy_mean": _mean(runs["accuracy"]),
        "accuracy_std": _std(runs["accuracy"]),
        "accuracy_min": _min(runs["accuracy"]),
        "accuracy_max": _max(runs["accuracy"]),
        "weighted_f1_mean": _mean(runs["weighted_f1"]),
        "weighted_f1_std": _std(runs["weighted_f1"]),
        "weighted_area_ratio_mean": _mean(runs["weighted_area_ratio"]),
        "weighted_area_ratio_std": _std(runs["weighted_area_ratio"]),
        "train_seconds_median": _median(timed["train_seconds"]),
        "seconds_per_epoch_median": _median(timed["seconds_per_epoch"]),
        "first_epoch_seconds_median": _median(timed["first_epoch_seconds"]),
        "train_images_per_second_median": _median(timed["train_images_per_second"]),
        "inference_images_per_second_median": _median(timed["inference_images_per_second"]),
        "peak_memory_mib_max": _max(runs["peak_rss_bytes"]) / MEBIBYTE,
    }


def pair_runs(
    runs: pd.DataFrame, cell: str, first: str, second: str, host_class: str | None = None
) -> pd.DataFrame:
    """The runs of two engines of one cell joined on the host class and the seed.

    Parameters
    ----------
    runs : pandas.DataFrame
        Rows of the runs table (typically the successful ones).
    cell : str
        The cell.
    first, second : str
        The engines; their columns get the suffixes ``_a`` and ``_b``.
    host_class : str, optional
        Only this host class's runs; every class when omitted (still paired within a
        class: a run on one class never meets a run on another).

    Returns
    -------
    pandas.DataFrame
        Indexed by seed, one row per host class and seed both engines ran on (the last
        run per class, seed and engine, should files have been merged), with the shared
        ``host_class`` column.
    """
    cell_runs = runs[runs["cell"] == cell]
    if "host_class" not in cell_runs.columns:  # a hand-built frame: one (unnamed) class
        cell_runs = cell_runs.assign(host_class="")
    if host_class is not None:
        cell_runs = cell_runs[cell_runs["host_class"] == host_class]
    keys = ["host_class", "seed"]
    first_runs, second_runs = (
        cell_runs[cell_runs["engine"] == engine].drop_duplicates(keys, keep="last")
        for engine in (first, second)
    )
    paired = pd.merge(first_runs, second_runs, how="inner", on=keys, suffixes=("_a", "_b"))
    return paired.set_index("seed")


def _common_epoch_time_ratio(paired: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the epochs both runs completed and the ratio ``second / first`` of their
    training times over those epochs (from the cumulative ``elapsed_seconds``). A run a
    time budget stopped early is thus compared with the same number of the other engine's
    epochs; when the curves are absent, the ratio of the whole training times."""
    epochs = np.zeros(len(paired), dtype=int)
    ratios = (paired["train_seconds_b"] / paired["train_seconds_a"]).to_numpy(
        dtype=float, copy=True
    )
    for index, (first, second) in enumerate(
        zip(paired["elapsed_seconds_a"], paired["elapsed_seconds_b"], strict=True)
    ):
        if isinstance(first, list) and isinstance(second, list) and first and second:
            epochs[index] = min(len(first), len(second))
            ratios[index] = second[epochs[index] - 1] / first[epochs[index] - 1]
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


#: columns of :func:`paired_seeds`
PAIR_COLUMNS = [
    "cell", "dataset", "model", "baseline", "engine", "host_class", "seed", "train_time_ratio",
    "epoch_time_ratio", "first_epoch_ratio", "accuracy_difference", "same_start",
    "common_epochs", "equal_epochs", "contended", "baseline_seconds_per_epoch",
    "engine_seconds_per_epoch", "baseline_epoch_seconds", "engine_epoch_seconds",
    "baseline_accuracy", "engine_accuracy",
]  # fmt: skip


def paired_seeds(loaded: LoadedResults, cells: Sequence[CellInfo]) -> pd.DataFrame:
    """One row per cell x other engine x host class x seed where it and the baseline both
    succeeded (on that host class: a pair never spans two classes).

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cells : sequence of CellInfo
        The cells; each pairs its baseline with each of its other engines.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PAIR_COLUMNS`: ratios are ``engine / baseline`` (the training-time
        ratio over the epochs both completed, steady-state seconds per epoch, first
        epoch), the accuracy difference ``engine - baseline``; ``same_start``: same split
        fingerprint, initial weights and batch order digests; ``equal_epochs``: both
        completed as many epochs; ``contended``: either run's timing was contended;
        the per-engine seconds per epoch, epoch times and accuracies of the pair.
    """
    success = successful_runs(loaded)
    frames = []
    for info in cells:
        for engine in info.others:
            paired = pair_runs(success, info.cell, info.baseline, engine)
            if paired.empty:
                continue
            common_epochs, time_ratio = _common_epoch_time_ratio(paired)
            frames.append(
                pd.DataFrame(
                    {
                        "cell": info.cell,
                        "dataset": info.dataset,
                        "model": info.model,
                        "baseline": info.baseline,
                        "engine": engine,
                        "host_class": paired["host_class"].to_numpy(dtype=object),
                        "seed": paired.index.to_numpy(dtype=int),
                        "train_time_ratio": time_ratio,
                        "epoch_time_ratio": (
                            paired["seconds_per_epoch_b"] / paired["seconds_per_epoch_a"]
                        ).to_numpy(dtype=float),
                        "first_epoch_ratio": (
                            paired["first_epoch_seconds_b"] / paired["first_epoch_seconds_a"]
                        ).to_numpy(dtype=float),
                        "accuracy_difference": (
                            paired["accuracy_b"] - paired["accuracy_a"]
                        ).to_numpy(dtype=float),
                        "same_start": _same_start(paired),
                        "common_epochs": common_epochs,
                        "equal_epochs": (
                            paired["epochs_completed_a"] == paired["epochs_completed_b"]
                        ).to_numpy(dtype=bool),
                        "contended": (
                            (paired["timing_quality_a"] == CONTENDED)
                            | (paired["timing_quality_b"] == CONTENDED)
                        ).to_numpy(dtype=bool),
                        "baseline_seconds_per_epoch": paired["seconds_per_epoch_a"].to_numpy(
                            dtype=float
                        ),
                        "engine_seconds_per_epoch": paired["seconds_per_epoch_b"].to_numpy(
                            dtype=float
                        ),
                        "baseline_epoch_seconds": list(paired["epoch_seconds_a"]),
                        "engine_epoch_seconds": list(paired["epoch_seconds_b"]),
                        "baseline_accuracy": paired["accuracy_a"].to_numpy(dtype=float),
                        "engine_accuracy": paired["accuracy_b"].to_numpy(dtype=float),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PAIR_COLUMNS]


def pair_time_verdict(pairs: pd.DataFrame, first: str, second: str) -> PairedVerdict:
    """:func:`time_verdict` over the uncontended rows of :func:`paired_seeds` (or of any
    frame with the same per-engine columns), ``first`` the baseline."""
    timed = pairs[~pairs["contended"].astype(bool)]
    return time_verdict(
        timed["baseline_seconds_per_epoch"].to_numpy(dtype=float),
        timed["engine_seconds_per_epoch"].to_numpy(dtype=float),
        first,
        second,
        first_epochs=list(timed["baseline_epoch_seconds"]),
        second_epochs=list(timed["engine_epoch_seconds"]),
    )


#: columns of :func:`engine_comparison`
COMPARISON_COLUMNS = [
    "cell", "dataset", "architecture", "model", "device", "baseline", "engine", "host_class",
    "paired_seeds", "timed_pairs", "contended_pairs", "train_time_ratio_median",
    "train_time_ratio_min", "train_time_ratio_max", "epoch_time_ratio",
    "epoch_time_ratio_low", "epoch_time_ratio_high", "time_pvalue", "time_method",
    "time_verdict", "time_winner", "first_epoch_ratio_median", "accuracy_difference_mean",
    "accuracy_difference_std", "accuracy_difference_low", "accuracy_difference_high",
    "accuracy_pvalue", "accuracy_method", "accuracy_verdict", "accuracy_winner", "note",
    "same_start_pairs",
]  # fmt: skip


def _missing_note(
    cell_statistics: pd.DataFrame, engines: Sequence[str], nothing_paired: str
) -> str:
    missing = [
        engine
        for engine in engines
        if engine not in cell_statistics.index
        or cell_statistics.loc[engine, "seeds_succeeded"] == 0
    ]
    return f"no successful {' or '.join(missing)} run" if missing else nothing_paired


def split_host_seeds(loaded: LoadedResults, cell: str, first: str, second: str) -> list[int]:
    """Seeds of a cell where both engines succeeded, but never on one host class.

    Such a seed (a unit resumed on another machine, say) yields no pair: its time ratio
    would mix two kinds of machine. The comparison's note names these seeds.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    cell : str
        The cell.
    first, second : str
        The engines.

    Returns
    -------
    list of int
        The seeds, ascending.
    """
    success = successful_runs(loaded)
    if success.empty:
        return []
    runs = success[success["cell"] == cell]
    hosts = {
        engine: runs[runs["engine"] == engine].groupby("seed")["host_class"].agg(set)
        for engine in (first, second)
    }
    common = hosts[first].index.intersection(hosts[second].index)
    return sorted(int(seed) for seed in common if not hosts[first][seed] & hosts[second][seed])


def engine_comparison(
    statistics: pd.DataFrame,
    pairs: pd.DataFrame,
    cells: Sequence[CellInfo],
    loaded: LoadedResults | None = None,
) -> pd.DataFrame:
    """One row per cell x other engine x host class: time ratios, accuracy difference and
    verdicts, each from the pairs of one host class.

    Parameters
    ----------
    statistics : pandas.DataFrame
        :func:`engine_statistics` (to say which engine has no successful run).
    pairs : pandas.DataFrame
        :func:`paired_seeds`.
    cells : sequence of CellInfo
        The cells; each compares its baseline with each of its other engines, on each
        host class its statistics have rows for (one in the usual case).
    loaded : LoadedResults, optional
        The records read: when given, the note names the seeds whose two runs ran on
        different host classes only (:func:`split_host_seeds`), left unpaired.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`. Time figures (ratios ``engine / baseline``)
        use the ``timed_pairs`` where neither run was contended; ``epoch_time_ratio`` is
        the geometric mean of the paired steady-state ratios with its interval and
        verdict (:func:`time_verdict`); the accuracy difference ``engine - baseline`` has
        its mean, sd, interval and verdict (:func:`accuracy_verdict`). ``note`` says why a
        comparison is missing or what limits it; ``same_start_pairs`` counts the pairs
        with the same split, initial weights and batch order.
    """
    rows = []
    for info in cells:
        all_statistics = statistics[statistics["cell"] == info.cell]
        hosts = list(dict.fromkeys(all_statistics["host_class"])) or [""]
        split = {
            engine: split_host_seeds(loaded, info.cell, info.baseline, engine)
            if loaded is not None
            else []
            for engine in info.others
        }
        for engine, host in ((engine, host) for engine in info.others for host in hosts):
            cell_statistics = _on_host(all_statistics, host).set_index("engine")
            cell_pairs = _on_host(
                pairs[(pairs["cell"] == info.cell) & (pairs["engine"] == engine)], host
            )
            timed = cell_pairs[~cell_pairs["contended"].astype(bool)]
            speed = pair_time_verdict(cell_pairs, info.baseline, engine)
            accuracy = accuracy_verdict(
                cell_pairs["baseline_accuracy"].to_numpy(dtype=float),
                cell_pairs["engine_accuracy"].to_numpy(dtype=float),
                info.baseline,
                engine,
            )
            notes = []
            unequal = cell_pairs[~cell_pairs["equal_epochs"].astype(bool)]
            if not unequal.empty:
                notes.append(
                    f"{len(unequal)} of {len(cell_pairs)} pairs stopped early (time budget): "
                    f"times compared over the first {int(unequal['common_epochs'].min())}+ "
                    "epochs, accuracies after unequal training"
                )
            if len(timed) < len(cell_pairs):
                notes.append(
                    f"{len(cell_pairs) - len(timed)} contended pair(s) left out of the times"
                )

            if cell_pairs.empty:
                notes = [
                    _missing_note(
                        cell_statistics,
                        (info.baseline, engine),
                        "no seed with successful runs of both engines",
                    )
                    + (" on this host class" if len(hosts) > 1 else "")
                ]
            if split[engine]:
                notes.append(
                    f"seed(s) {', '.join(map(str, split[engine]))}: {info.baseline} and "
                    f"{engine} ran on different host classes, so not paired"
                )
            ratio = timed["train_time_ratio"].astype(float)
            difference = cell_pairs["accuracy_difference"].astype(float)
            rows.append(
                {
                    "cell": info.cell,
                    "dataset": info.dataset,
                    "architecture": info.architecture,
                    "model": info.model,
                    "device": info.device,
                    "baseline": info.baseline,
                    "engine": engine,
                    "host_class": host,
                    "paired_seeds": len(cell_pairs),
                    "timed_pairs": len(timed),
                    "contended_pairs": len(cell_pairs) - len(timed),
                    "train_time_ratio_median": _median(ratio),
                    "train_time_ratio_min": _min(ratio),
                    "train_time_ratio_max": _max(ratio),
                    "epoch_time_ratio": speed.estimate,
                    "epoch_time_ratio_low": speed.low,
                    "epoch_time_ratio_high": speed.high,
                    "time_pvalue": speed.pvalue,
                    "time_method": speed.method,
                    "time_verdict": speed.verdict if len(timed) else "",
                    "time_winner": speed.winner,
                    "first_epoch_ratio_median": _median(timed["first_epoch_ratio"].astype(float)),
                    "accuracy_difference_mean": _mean(difference),
                    "accuracy_difference_std": _std(difference),
                    "accuracy_difference_low": accuracy.low,
                    "accuracy_difference_high": accuracy.high,
                    "accuracy_pvalue": accuracy.pvalue,
                    "accuracy_method": accuracy.method,
                    "accuracy_verdict": accuracy.verdict if len(cell_pairs) else "",
                    "accuracy_winner": accuracy.winner,
                    "note": "; ".join(notes),
                    "same_start_pairs": int(cell_pairs["same_start"].astype(bool).sum()),
                }
            )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


#: columns of :func:`engine_speeds`
SPEED_COLUMNS = [
    "cell", "dataset", "architecture", "model", "device", "baseline", "engine", "host_class",
    "seconds_per_epoch_median", "timed_runs", "ratio_to_baseline", "ratio_low",
    "ratio_high", "time_verdict", "fastest", "fastest_clear", "fastest_note",
]  # fmt: skip


def engine_speeds(
    loaded: LoadedResults,
    statistics: pd.DataFrame,
    comparison: pd.DataFrame,
    cells: Sequence[CellInfo],
) -> pd.DataFrame:
    """Every engine's steady-state speed per cell and host class, against the baseline and
    the fastest engine of that class.

    Parameters
    ----------
    loaded : LoadedResults
        The records read (to pair the fastest engine with each other one).
    statistics : pandas.DataFrame
        :func:`engine_statistics`.
    comparison : pandas.DataFrame
        :func:`engine_comparison` (ratios to the baseline and their verdicts).
    cells : sequence of CellInfo
        The cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell x host class x engine (the classes of the statistics' rows),
        columns :data:`SPEED_COLUMNS`: the median seconds per steady-state epoch over the
        class's uncontended runs; the paired ratio to the baseline (1 for
        the baseline itself) with its interval and verdict; ``fastest`` marks the engine
        with the lowest median on the class, ``fastest_clear`` (on every row of the cell
        and class) whether the
        time verdict against every other timed engine names it, ``fastest_note`` the
        engines it is not clearly faster than.
    """
    all_timed = uncontended(successful_runs(loaded))
    rows = []
    for info in cells:
        all_statistics = statistics[statistics["cell"] == info.cell]
        for host in list(dict.fromkeys(all_statistics["host_class"])) or [""]:
            rows.extend(
                _speed_rows(
                    info,
                    host,
                    _on_host(all_statistics, host).set_index("engine"),
                    _on_host(comparison[comparison["cell"] == info.cell], host).set_index("engine"),
                    _on_host(all_timed, host),
                )
            )
    return pd.DataFrame(rows, columns=SPEED_COLUMNS)


def _speed_rows(
    info: CellInfo,
    host: str,
    cell_statistics: pd.DataFrame,
    cell_comparison: pd.DataFrame,
    timed_success: pd.DataFrame,
) -> list[dict[str, Any]]:
    """The rows of :func:`engine_speeds` for one cell on one host class."""
    rows = []
    medians = {
        engine: float(cell_statistics.loc[engine, "seconds_per_epoch_median"])
        for engine in info.engines
        if engine in cell_statistics.index
    }
    timed = {engine: value for engine, value in medians.items() if not math.isnan(value)}
    fastest = min(timed, key=lambda engine: (timed[engine], engine)) if timed else ""
    unclear = []
    for other in timed:
        if other == fastest:
            continue
        paired = pair_runs(timed_success, info.cell, fastest, other)
        verdict = time_verdict(
            paired["seconds_per_epoch_a"].to_numpy(dtype=float),
            paired["seconds_per_epoch_b"].to_numpy(dtype=float),
            fastest,
            other,
            first_epochs=list(paired["epoch_seconds_a"]),
            second_epochs=list(paired["epoch_seconds_b"]),
        )
        if verdict.winner != fastest:
            unclear.append(other)
    clear = len(timed) > 1 and not unclear
    note = f"not clearly faster than {', '.join(unclear)}" if unclear else ""
    for engine in info.engines:
        row = {
            "cell": info.cell,
            "dataset": info.dataset,
            "architecture": info.architecture,
            "model": info.model,
            "device": info.device,
            "baseline": info.baseline,
            "engine": engine,
            "host_class": host,
            "seconds_per_epoch_median": medians.get(engine, math.nan),
            "timed_runs": int(
                ((timed_success["cell"] == info.cell) & (timed_success["engine"] == engine)).sum()
            ),
            "ratio_to_baseline": math.nan,
            "ratio_low": math.nan,
            "ratio_high": math.nan,
            "time_verdict": "",
            "fastest": engine == fastest,
            "fastest_clear": clear,
            "fastest_note": note,
        }
        if engine == info.baseline and engine in timed:
            row |= {"ratio_to_baseline": 1.0, "ratio_low": 1.0, "ratio_high": 1.0}
        elif engine in cell_comparison.index:
            compared = cell_comparison.loc[engine]
            row |= {
                "ratio_to_baseline": compared["epoch_time_ratio"],
                "ratio_low": compared["epoch_time_ratio_low"],
                "ratio_high": compared["epoch_time_ratio_high"],
                "time_verdict": compared["time_verdict"],
            }
        rows.append(row)
    return rows


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
