"""Compare two results stores: did an engine change (or a new Keras) make training slower?

``cnnbench compare BASE NEW`` reads two stores, typically the same matrix run before and
after a change, and pairs their cells on (data set, architecture, engine spec, device).
For each pair it reports

- the change in steady-state time: ``median(NEW s/epoch) / median(BASE s/epoch)`` over the
  seeds of each store (``timings.seconds_per_epoch``, the median of a run's later epochs),
  with a percentile bootstrap interval: both stores' per-seed values are resampled
  independently (:func:`scipy.stats.bootstrap`, ``paired=False``, 9,999 resamples, a fixed
  random seed so the verdict is reproducible) and the ratio of medians is recomputed;
- the change in test accuracy: ``mean(NEW) - mean(BASE)`` with the same kind of interval.

A slowdown is *significant* when the whole interval of NEW/BASE lies above the threshold
(``--fail-if-slower``, default 1.10): even the most favourable reading of the seeds leaves
NEW more than 10% slower. An interval needs at least :data:`MIN_SEEDS` seeds in each
store; with fewer the ratio is shown without one and never fails the comparison (one seed
says nothing about run-to-run spread, which reaches 2x on a shared machine).

Only successful runs count; runs flagged ``timing_quality == "contended"`` are left out of
the times unless asked for. Stores from different machines (CPU model, host name, or the
runner's ``host.host_class``) are compared with a warning: their ratio mixes the change with
the machine.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reports.formatting import GAP, Table, to_markdown, write_table
from reports.loading import as_number, load_results, nested_get
from reports.time_to_accuracy import cell_sort_key, engine_sort_key, engine_spec, is_contended

if TYPE_CHECKING:  # plotting libraries load only when a figure is drawn
    from matplotlib.figure import Figure

    from reports.plots import PlotSettings

#: NEW/BASE time ratio above which a significant slowdown fails the comparison
DEFAULT_THRESHOLD = 1.10
#: coverage of the bootstrap intervals
DEFAULT_CONFIDENCE = 0.95
#: bootstrap resamples per interval
BOOTSTRAP_RESAMPLES = 9999
#: seeds each store needs before an interval is computed
MIN_SEEDS = 2
#: the bootstrap's random seed: the same stores always give the same verdict
BOOTSTRAP_SEED = 0

HTML_FILE_NAME = "compare.html"
MARKDOWN_FILE_NAME = "compare.md"

#: what pairs a cell of BASE with a cell of NEW
CellKey = tuple[str, str, str, str]  # dataset, architecture, engine spec, device


@dataclass
class CellComparison:
    """One cell and engine present in both stores.

    Attributes
    ----------
    dataset, architecture, engine, device : str
        The pairing key (``engine`` is the canonical engine spec).
    base_seconds, new_seconds : list of float
        Steady-state seconds per epoch of each seed's run.
    base_accuracy, new_accuracy : list of float
        Test accuracy of each seed's run.
    ratio, ratio_low, ratio_high : float
        ``median(new) / median(base)`` and its interval (NaN without one).
    accuracy_change, accuracy_low, accuracy_high : float
        ``mean(new) - mean(base)`` of test accuracy and its interval.
    verdict : str
        One phrase about the time change.
    significant_slowdown : bool
        The whole ratio interval lies above the threshold.
    notes : list of str
        What a reader should know (configurations differ, contended runs left out...).
    """

    dataset: str
    architecture: str
    engine: str
    device: str
    base_seconds: list[float] = field(default_factory=list)
    new_seconds: list[float] = field(default_factory=list)
    base_accuracy: list[float] = field(default_factory=list)
    new_accuracy: list[float] = field(default_factory=list)
    ratio: float = math.nan
    ratio_low: float = math.nan
    ratio_high: float = math.nan
    accuracy_change: float = math.nan
    accuracy_low: float = math.nan
    accuracy_high: float = math.nan
    verdict: str = ""
    significant_slowdown: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``dataset / architecture`` (with the device when it is not the CPU)."""
        label = f"{self.dataset} / {self.architecture}"
        return label if self.device == "cpu" else f"{label} ({self.device})"


@dataclass
class Comparison:
    """Everything ``cnnbench compare`` found.

    Attributes
    ----------
    base, new : str
        The results files read.
    threshold, confidence : float
        The slowdown threshold and the intervals' coverage.
    cells : list of CellComparison
        Cells and engines in both stores.
    only_base, only_new : list of str
        Cells and engines with successful runs in one store only.
    machine_warnings : list of str
        How the two stores' machines differ (empty: same machine as far as recorded).
    notes : list of str
        Reading problems and runs left out.
    """

    base: str
    new: str
    threshold: float = DEFAULT_THRESHOLD
    confidence: float = DEFAULT_CONFIDENCE
    cells: list[CellComparison] = field(default_factory=list)
    only_base: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    machine_warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def slower(self) -> list[CellComparison]:
        """The cells with a significant slowdown beyond the threshold."""
        return [cell for cell in self.cells if cell.significant_slowdown]

    @property
    def exit_status(self) -> int:
        """1 when any cell is significantly slower than the threshold allows, else 0."""
        return 1 if self.slower else 0


def _median_ratio(new: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(new, axis=axis) / np.median(base, axis=axis)


def _mean_difference(new: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(new, axis=axis) - np.mean(base, axis=axis)


def _bootstrap(statistic: Any, new: Sequence[float], base: Sequence[float], confidence: float):
    from scipy import stats

    result = stats.bootstrap(
        (np.asarray(new, dtype=float), np.asarray(base, dtype=float)),
        statistic,
        paired=False,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",  # BCa needs more seeds than a benchmark matrix has
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def ratio_interval(
    base: Sequence[float], new: Sequence[float], confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float]:
    """Ratio of medians NEW/BASE with a percentile bootstrap interval.

    Parameters
    ----------
    base, new : sequence of float
        Per-seed times of each store.
    confidence : float, default 0.95
        The interval's coverage.

    Returns
    -------
    tuple of float
        ``(ratio, low, high)``; the interval is NaN when a store has fewer than
        :data:`MIN_SEEDS` values, all three when one has none.
    """
    if not base or not new:
        return math.nan, math.nan, math.nan
    ratio = float(np.median(new) / np.median(base))
    if min(len(base), len(new)) < MIN_SEEDS:
        return ratio, math.nan, math.nan
    return (ratio, *_bootstrap(_median_ratio, new, base, confidence))


def difference_interval(
    base: Sequence[float], new: Sequence[float], confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float]:
    """Difference of means NEW - BASE with a percentile bootstrap interval.

    Parameters
    ----------
    base, new : sequence of float
        Per-seed values of each store.
    confidence : float, default 0.95
        The interval's coverage.

    Returns
    -------
    tuple of float
        ``(difference, low, high)``, NaN as for :func:`ratio_interval`.
    """
    if not base or not new:
        return math.nan, math.nan, math.nan
    difference = float(np.mean(new) - np.mean(base))
    if min(len(base), len(new)) < MIN_SEEDS:
        return difference, math.nan, math.nan
    return (difference, *_bootstrap(_mean_difference, new, base, confidence))


def time_verdict(low: float, high: float, threshold: float) -> tuple[str, bool]:
    """A phrase for a NEW/BASE interval and whether it is a significant slowdown.

    Parameters
    ----------
    low, high : float
        The interval of the ratio (NaN when there is none).
    threshold : float
        The slowdown that fails the comparison.

    Returns
    -------
    tuple
        ``(verdict, significant_slowdown)``.
    """
    if math.isnan(low) or math.isnan(high):
        return f"no interval (fewer than {MIN_SEEDS} seeds in a store)", False
    if low > threshold:
        return f"SLOWER beyond {threshold:g}x", True
    if low > 1:
        return f"slower, not beyond {threshold:g}x", False
    if high < 1:
        return "faster", False
    return "no clear change", False


def _usable(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [record for record in records if record.get("status") == "success"]


def _cell_key(record: Mapping[str, Any]) -> CellKey:
    return (
        str(record.get("dataset")),
        str(record.get("architecture")),
        engine_spec(record),
        str(record.get("device") or "cpu"),
    )


def _group(records: Iterable[Mapping[str, Any]]) -> dict[CellKey, list[Mapping[str, Any]]]:
    groups: dict[CellKey, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(_cell_key(record), []).append(record)
    return groups


def _values(records: Iterable[Mapping[str, Any]], path: tuple[str, ...]) -> list[float]:
    values = [as_number(nested_get(record, path)) for record in records]
    return [value for value in values if math.isfinite(value)]


def _distinct(records: Iterable[Mapping[str, Any]], *paths: tuple[str, ...]) -> set[str]:
    found = set()
    for record in records:
        for path in paths:
            value = nested_get(record, path)
            if value not in (None, ""):
                found.add(str(value))
                break
    return found


def machine_differences(
    base: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[str]:
    """How the machines of two stores differ, one sentence per recorded difference.

    Compares the CPU model and host name of ``record["environment"]`` (or
    ``record["host"]``) and, when both stores record it, ``record["host"]["host_class"]``.

    Parameters
    ----------
    base, new : sequence of mapping
        The records of each store.

    Returns
    -------
    list of str
        Empty when nothing recorded differs.
    """
    checks = {
        "host class": [("host", "host_class")],
        "CPU": [("environment", "cpu"), ("host", "cpu"), ("host", "cpu_model")],
        "host name": [("environment", "hostname"), ("host", "hostname"), ("host", "host")],
    }
    warnings = []
    for what, paths in checks.items():
        before, after = _distinct(base, *paths), _distinct(new, *paths)
        if before and after and before != after:
            warnings.append(
                f"the stores ran on different machines ({what}: BASE {', '.join(sorted(before))}"
                f"; NEW {', '.join(sorted(after))}); the ratios mix the change with the machine"
            )
    return warnings


def _configuration_note(
    base: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[str]:
    notes = []
    before = _distinct(base, ("configuration_hash",))
    after = _distinct(new, ("configuration_hash",))
    if len(before) > 1 or len(after) > 1:
        notes.append("several configurations (experiments) pooled in one store")
    if before and after and not before & after:
        notes.append("hyperparameters or harness settings differ between the stores")
    return notes


def compare_cell(
    key: CellKey,
    base: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    threshold: float = DEFAULT_THRESHOLD,
    confidence: float = DEFAULT_CONFIDENCE,
    include_contended: bool = False,
) -> CellComparison:
    """Compare one cell and engine's successful runs of the two stores.

    Parameters
    ----------
    key : tuple of str
        (data set, architecture, engine spec, device).
    base, new : sequence of mapping
        The successful records of that key in each store.
    threshold, confidence : float
        As for :func:`compare_stores`.
    include_contended : bool, default False
        Count runs flagged as contended in the times.

    Returns
    -------
    CellComparison
    """
    cell = CellComparison(*key)
    timed_base = [r for r in base if include_contended or not is_contended(r)]
    timed_new = [r for r in new if include_contended or not is_contended(r)]
    left_out = len(base) - len(timed_base) + len(new) - len(timed_new)
    cell.base_seconds = _values(timed_base, ("timings", "seconds_per_epoch"))
    cell.new_seconds = _values(timed_new, ("timings", "seconds_per_epoch"))
    cell.base_accuracy = _values(base, ("metrics", "accuracy"))
    cell.new_accuracy = _values(new, ("metrics", "accuracy"))
    cell.ratio, cell.ratio_low, cell.ratio_high = ratio_interval(
        cell.base_seconds, cell.new_seconds, confidence
    )
    cell.accuracy_change, cell.accuracy_low, cell.accuracy_high = difference_interval(
        cell.base_accuracy, cell.new_accuracy, confidence
    )
    if math.isnan(cell.ratio):
        cell.verdict, cell.significant_slowdown = "no steady-state time in a store", False
    else:
        cell.verdict, cell.significant_slowdown = time_verdict(
            cell.ratio_low, cell.ratio_high, threshold
        )
    if left_out:
        cell.notes.append(f"{left_out} contended run{'s' if left_out != 1 else ''} left out")
    cell.notes.extend(_configuration_note(base, new))
    return cell


def compare_stores(
    base: str | os.PathLike[str],
    new: str | os.PathLike[str],
    threshold: float = DEFAULT_THRESHOLD,
    confidence: float = DEFAULT_CONFIDENCE,
    include_contended: bool = False,
) -> Comparison:
    """Compare every cell and engine the two stores share.

    Parameters
    ----------
    base, new : str or Path
        Results files or ``cnnbench run --out`` folders (before and after).
    threshold : float, default 1.10
        NEW/BASE time ratio beyond which a significant slowdown fails the comparison.
    confidence : float, default 0.95
        Coverage of the bootstrap intervals.
    include_contended : bool, default False
        Count runs flagged as contended in the times.

    Returns
    -------
    Comparison

    Raises
    ------
    FileNotFoundError
        A path is neither a results file nor a folder holding one.
    """
    loaded_base, loaded_new = load_results([base]), load_results([new])
    comparison = Comparison(
        base=loaded_base.sources[0],
        new=loaded_new.sources[0],
        threshold=threshold,
        confidence=confidence,
    )
    comparison.notes.extend(f"BASE: {problem}" for problem in loaded_base.problems)
    comparison.notes.extend(f"NEW: {problem}" for problem in loaded_new.problems)
    comparison.machine_warnings = machine_differences(loaded_base.records, loaded_new.records)
    before, after = _group(_usable(loaded_base.records)), _group(_usable(loaded_new.records))

    def order(key: CellKey) -> tuple:
        dataset, architecture, engine, device = key
        return (cell_sort_key(dataset, architecture, ""), device, engine_sort_key(engine))

    for key in sorted(before.keys() | after.keys(), key=order):
        label = f"{key[0]} / {key[1]}{'' if key[3] == 'cpu' else f' ({key[3]})'} · {key[2]}"
        if key not in after:
            comparison.only_base.append(label)
        elif key not in before:
            comparison.only_new.append(label)
        else:
            comparison.cells.append(
                compare_cell(key, before[key], after[key], threshold, confidence, include_contended)
            )
    return comparison


def _format_ratio(value: float) -> str:
    return GAP if math.isnan(value) else f"{value:.3f}x"


def _format_interval(low: float, high: float, form: str) -> str:
    if math.isnan(low) or math.isnan(high):
        return GAP
    return f"[{low:{form}}, {high:{form}}]"


def _median_text(values: Sequence[float]) -> str:
    return GAP if not values else f"{np.median(values):.4g}"


def comparison_table(comparison: Comparison) -> Table:
    """The comparison as a table, one row per cell and engine.

    Parameters
    ----------
    comparison : Comparison

    Returns
    -------
    Table
        Raw numbers in ``data`` (CSV), formatted strings in ``display``.
    """
    rows, display_rows = [], []
    percent = f"{comparison.confidence:.0%}"
    for cell in comparison.cells:
        rows.append(
            {
                "dataset": cell.dataset,
                "architecture": cell.architecture,
                "engine": cell.engine,
                "device": cell.device,
                "base_seeds": len(cell.base_seconds),
                "new_seeds": len(cell.new_seconds),
                "base_median_seconds_per_epoch": np.median(cell.base_seconds)
                if cell.base_seconds
                else math.nan,
                "new_median_seconds_per_epoch": np.median(cell.new_seconds)
                if cell.new_seconds
                else math.nan,
                "ratio": cell.ratio,
                "ratio_low": cell.ratio_low,
                "ratio_high": cell.ratio_high,
                "accuracy_change": cell.accuracy_change,
                "accuracy_low": cell.accuracy_low,
                "accuracy_high": cell.accuracy_high,
                "verdict": cell.verdict,
                "significant_slowdown": cell.significant_slowdown,
                "notes": "; ".join(cell.notes),
            }
        )
        display_rows.append(
            {
                "Cell": cell.label,
                "Engine": cell.engine,
                "Seeds (base/new)": f"{len(cell.base_seconds)}/{len(cell.new_seconds)}",
                "s/epoch base": _median_text(cell.base_seconds),
                "s/epoch new": _median_text(cell.new_seconds),
                "New/base": _format_ratio(cell.ratio),
                f"{percent} interval": _format_interval(cell.ratio_low, cell.ratio_high, ".3f"),
                "Time verdict": cell.verdict,
                "Δ test accuracy": GAP
                if math.isnan(cell.accuracy_change)
                else f"{cell.accuracy_change:+.4f}",
                f"Δ accuracy {percent} interval": _format_interval(
                    cell.accuracy_low, cell.accuracy_high, "+.4f"
                ),
                "Notes": "; ".join(cell.notes) or "",
            }
        )
    columns = [
        "Cell",
        "Engine",
        "Seeds (base/new)",
        "s/epoch base",
        "s/epoch new",
        "New/base",
        f"{percent} interval",
        "Time verdict",
        "Δ test accuracy",
        f"Δ accuracy {percent} interval",
        "Notes",
    ]
    return Table(
        name="compare_cells",
        title="NEW vs BASE per cell and engine",
        caption=(
            "Steady-state seconds per epoch (median over seeds) of each store and their "
            "ratio NEW/BASE (above 1: NEW is slower), with a percentile bootstrap interval "
            "of the ratio of medians (seeds of each store resampled independently); test "
            "accuracy change NEW - BASE (difference of means, same bootstrap). A slowdown "
            f"fails the comparison when the whole interval lies above {comparison.threshold:g}x."
        ),
        data=pd.DataFrame(rows),
        display=pd.DataFrame(display_rows, columns=columns),
    )


def headline(comparison: Comparison) -> list[str]:
    """The sentences that open the Markdown and the page: verdict first, then warnings."""
    slower = comparison.slower
    if slower:
        names = ", ".join(f"{cell.label} · {cell.engine} ({cell.ratio:.2f}x)" for cell in slower)
        lines = [
            f"FAIL: {len(slower)} of {len(comparison.cells)} cell(s) significantly slower "
            f"than {comparison.threshold:g}x BASE: {names}."
        ]
    elif comparison.cells:
        lines = [
            f"OK: no cell significantly slower than {comparison.threshold:g}x BASE "
            f"({len(comparison.cells)} cell(s) compared)."
        ]
    else:
        lines = ["Nothing to compare: no cell and engine has successful runs in both stores."]
    lines.extend(f"Warning: {warning}." for warning in comparison.machine_warnings)
    if comparison.only_base:
        lines.append("Only in BASE: " + ", ".join(comparison.only_base) + ".")
    if comparison.only_new:
        lines.append("Only in NEW: " + ", ".join(comparison.only_new) + ".")
    return lines


def comparison_markdown(comparison: Comparison) -> str:
    """The whole comparison in Markdown (what ``cnnbench compare`` prints)."""
    table = comparison_table(comparison)
    lines = [
        "# cnnbench compare",
        "",
        f"BASE: {comparison.base}",
        f"NEW: {comparison.new}",
        "",
        *(f"- {line}" for line in headline(comparison)),
        "",
    ]
    if comparison.cells:
        lines.extend([table.caption, "", to_markdown(table.display)])
    if comparison.notes:
        lines.extend(["Reading problems:", "", *(f"- {note}" for note in comparison.notes), ""])
    return "\n".join(lines)


def plot_comparison(comparison: Comparison, settings: PlotSettings) -> Figure | None:
    """NEW/BASE ratio per cell and engine with its interval and the threshold.

    Parameters
    ----------
    comparison : Comparison
    settings : reports.plots.PlotSettings
        Size and resolution.

    Returns
    -------
    Figure or None
        None when no cell has a ratio.
    """
    cells = [cell for cell in comparison.cells if not math.isnan(cell.ratio)]
    if not cells:
        return None
    figure = settings.new_figure(7.5, 0.35 * len(cells) + 1.6)
    axis = figure.subplots()
    positions = np.arange(len(cells))[::-1]
    for position, cell in zip(positions, cells, strict=True):
        colour = "#c0392b" if cell.significant_slowdown else "#1f77b4"
        if not math.isnan(cell.ratio_low):
            axis.plot([cell.ratio_low, cell.ratio_high], [position, position], color=colour, lw=2)
        axis.plot([cell.ratio], [position], "o", color=colour)
    axis.set_ylim(-0.6, len(cells) - 0.4)
    axis.axvline(1.0, color="grey", lw=0.8)
    axis.axvline(comparison.threshold, color="#c0392b", ls="--", lw=0.9)
    axis.set_yticks(positions, [f"{cell.label} · {cell.engine}" for cell in cells], fontsize=7)
    axis.set_xlabel("NEW / BASE steady-state s/epoch (dot: ratio of medians; bar: interval)")
    axis.set_title(
        f"Steady-state time, NEW vs BASE (dashed: fail threshold {comparison.threshold:g}x)",
        fontsize=10,
    )
    return figure


def write_comparison(
    comparison: Comparison, out_dir: str | os.PathLike[str], settings: PlotSettings | None = None
) -> Path:
    """Write ``compare.html`` (self-contained), ``compare.md`` and the table's CSV.

    Parameters
    ----------
    comparison : Comparison
    out_dir : str or Path
        Created when absent; files in it are overwritten.
    settings : reports.plots.PlotSettings, optional
        Figure size and resolution.

    Returns
    -------
    Path
        The HTML page.
    """
    from reports.html_page import STYLE, table_html
    from reports.plots import PlotSettings, figure_png

    settings = settings or PlotSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(comparison)
    write_table(table, out)
    markdown = comparison_markdown(comparison)
    (out / MARKDOWN_FILE_NAME).write_text(markdown, encoding="utf-8")
    try:
        figure = plot_comparison(comparison, settings)
        figure_html = (
            ""
            if figure is None
            else '<figure><img alt="NEW/BASE ratio per cell" src="data:image/png;base64,'
            f'{base64.b64encode(figure_png(figure, settings)).decode("ascii")}"></figure>'
        )
    except Exception as error:  # the page is still worth writing without its figure
        figure_html = f'<p class="missing">Figure not drawn: {html.escape(str(error))}</p>'
    items = "".join(f"<li>{html.escape(line)}</li>" for line in headline(comparison))
    css = "warning" if comparison.slower or comparison.machine_warnings else "summary"
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in comparison.notes)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>cnnbench compare</title><style>{STYLE}</style></head><body>",
        "<h1>cnnbench compare</h1>",
        f'<p class="meta">BASE: {html.escape(comparison.base)}</p>',
        f'<p class="meta">NEW: {html.escape(comparison.new)}</p>',
        f'<div class="{css}"><ul>{items}</ul></div>',
        table_html(table) if comparison.cells else "",
        figure_html,
        f"<h3>Reading problems</h3><ul>{notes}</ul>" if notes else "",
        "</body></html>",
    ]
    page = out / HTML_FILE_NAME
    page.write_text("\n".join(parts), encoding="utf-8")
    return page


__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_THRESHOLD",
    "MIN_SEEDS",
    "CellComparison",
    "Comparison",
    "compare_cell",
    "compare_stores",
    "comparison_markdown",
    "comparison_table",
    "difference_interval",
    "headline",
    "machine_differences",
    "plot_comparison",
    "ratio_interval",
    "time_verdict",
    "write_comparison",
]
