"""Time to accuracy: how long each engine trains before validation accuracy reaches a target.

MLPerf and DAWNBench rank training systems by the wall time to a quality target rather
than by seconds per epoch, because a fast epoch that learns slowly is no win. For one run
the measure is read off its stored curves (``record["curves"]``)::

    k   = first epoch with val_accuracy[k] >= target - ACCURACY_TOLERANCE
    TTA = elapsed_seconds[k]          (cumulative training seconds at the end of epoch k)
    TTA = inf                         when no epoch reaches the target

``elapsed_seconds`` is the harness's training clock: the first epoch (with Keras's graph
tracing) counts, the validation pass after each epoch does not (it runs outside the clock
for every engine). A run without a validation curve has no time to accuracy (NaN), which is
not the same as never reaching the target (inf).

The target of a cell is the matrix setting ``target_accuracy`` (stored in each record's
``hyperparameters``) when given, else :data:`DEFAULT_TARGET_FRACTION` of the best
validation accuracy any engine reached in the cell, over all its seeds: a target every
engine can be measured against, and one at least one run reaches. Over seeds the
summary takes the median, counting a seed that never reached the target as infinite (so
the median is infinite when half the seeds or more never got there), and says how many
seeds reached it.

Runs flagged ``timing_quality == "contended"`` are left out: their clocks measured the
machine's other load, not the engine. Times are summarised per host class
(:func:`reports.loading.host_class_of`): a cell whose runs come from several classes gets
one row per class and engine (the target stays the cell's: accuracy does not depend on the
machine), and its figure one panel per class, so no median or panel mixes two kinds of
machine. Engines are keyed on the canonical engine spec
(:func:`engine_spec`, after :func:`suite.engines.spec.record_engine_spec`), so any number
of engines and two Keras backends in one store stay apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reports.formatting import GAP, Table, format_number, format_seconds
from reports.hosts import WITHIN_CLASS_RULE, short_host_label, show_host_column
from reports.loading import as_number, cell_name, host_class_of, nested_get
from suite.engines.spec import DEFAULT_BASELINE, record_engine_spec

if TYPE_CHECKING:  # plotting libraries load only when a figure is drawn
    from matplotlib.figure import Figure

    from reports.plots import PlotSettings

#: default target: this fraction of the best validation accuracy reached in the cell
DEFAULT_TARGET_FRACTION = 0.98

#: accuracies within this of the target count as reaching it: Keras reports float32
#: accuracies (0.8611111044883728 for 124/144), scratch_cnn float64 (0.8611111111111112);
#: one image of a 5000-image validation split is 2e-4, far above it
ACCURACY_TOLERANCE = 1e-6

#: columns of :func:`time_to_accuracy_frame`, one row per run
RUN_COLUMNS = (
    "cell",
    "dataset",
    "architecture",
    "host_class",
    "engine",
    "seed",
    "target",
    "target_source",
    "time_to_accuracy",
    "epoch_reached",
)

#: columns of :func:`time_to_accuracy_summary`, one row per cell and engine
SUMMARY_COLUMNS = (
    "cell",
    "dataset",
    "architecture",
    "host_class",
    "engine",
    "target",
    "target_source",
    "seeds",
    "reached",
    "median_seconds",
    "median_epoch",
)


def is_contended(record: Mapping[str, Any]) -> bool:
    """Whether the runner flagged the run's timing as contended (old records: no).

    Parameters
    ----------
    record : mapping
        A results record.

    Returns
    -------
    bool
    """
    return record.get("timing_quality") == "contended"


def engine_spec(record: Mapping[str, Any]) -> str:
    """The canonical engine spec of a record (:func:`suite.engines.spec.record_engine_spec`).

    Only the fields the mapping needs are passed on, the Keras backend looked up wherever a
    record keeps it (``keras_backend``, the environment block or its ``thread_settings``):
    an old or hand-edited record's environment may hold anything (``threads`` is a count).

    Parameters
    ----------
    record : mapping
        A results record, old (``"keras"``) or new (``"keras:jax"``).

    Returns
    -------
    str
        E.g. ``"scratch"``, ``"keras:tensorflow"``.
    """
    environment = record.get("environment")
    environment = environment if isinstance(environment, Mapping) else {}
    settings = environment.get("thread_settings")
    settings = settings if isinstance(settings, Mapping) else {}
    backends = (
        record.get("keras_backend"),
        environment.get("keras_backend"),
        settings.get("keras_backend"),
    )
    backend = next((b for b in backends if isinstance(b, str) and b), "tensorflow")
    return record_engine_spec(
        {
            "engine": str(record.get("engine", "")),
            "keras_backend": backend,
            "device": record.get("device") or "cpu",
        }
    )


def engine_sort_key(engine: str) -> tuple[int, str]:
    """Sort key: the default baseline engine (scratch) first, the others by name."""
    return (0 if engine == DEFAULT_BASELINE else 1, engine)


def _architecture_position(architecture: str) -> int:
    from suite.catalog import architecture_names

    names = architecture_names()
    return names.index(architecture) if architecture in names else len(names)


def cell_sort_key(dataset: str, architecture: str, cell: str) -> tuple[str, int, str, str]:
    """Sort key: data set, then the catalog's (SPEC's) order of architectures, then name."""
    return (dataset, _architecture_position(architecture), architecture, cell)


def _curve(curves: Mapping[str, Any], name: str) -> list[float]:
    values = curves.get(name) if isinstance(curves, Mapping) else None
    if not isinstance(values, list):
        return []
    return [as_number(value) for value in values]


def time_to_accuracy(curves: Mapping[str, Any] | None, target: float) -> tuple[float, int | None]:
    """Training seconds until validation accuracy first reaches ``target``.

    Parameters
    ----------
    curves : mapping or None
        A record's ``curves``: ``val_accuracy`` and ``elapsed_seconds`` (cumulative
        training seconds at the end of each epoch), ``epoch`` optional.
    target : float
        The validation accuracy to reach.

    Returns
    -------
    seconds : float
        ``elapsed_seconds`` of the first epoch whose validation accuracy is at least
        ``target - ACCURACY_TOLERANCE``; ``inf`` when no epoch reaches it; NaN when the
        run stored no validation curve or no clock, or the target is undefined.
    epoch : int or None
        That epoch's number (``curves["epoch"]``, else its 1-based position); None when
        the target was not reached.
    """
    if curves is None or not math.isfinite(as_number(target)):
        return math.nan, None
    accuracy = _curve(curves, "val_accuracy")
    elapsed = _curve(curves, "elapsed_seconds")
    epochs = curves.get("epoch") if isinstance(curves.get("epoch"), list) else None
    if min(len(accuracy), len(elapsed)) == 0:
        return math.nan, None
    index = _first_reaching(accuracy, elapsed, target)
    if index is None:
        return math.inf, None
    epoch = epochs[index] if epochs and index < len(epochs) else index + 1
    return elapsed[index], int(epoch)


def _first_reaching(accuracy: list[float], elapsed: list[float], target: float) -> int | None:
    for index in range(min(len(accuracy), len(elapsed))):
        # NaN (a null in the store) compares False: an epoch without a value never reaches
        if accuracy[index] >= target - ACCURACY_TOLERANCE:
            return index
    return None


def best_validation_accuracy(records: Iterable[Mapping[str, Any]]) -> float:
    """The highest validation accuracy any of the records reached in any epoch (NaN if none)."""
    best = math.nan
    for record in records:
        for value in _curve(nested_get(record, ("curves",), {}) or {}, "val_accuracy"):
            if math.isfinite(value) and not value <= best:
                best = value
    return best


def _matrix_target(records: Sequence[Mapping[str, Any]]) -> float:
    # the last record carrying the setting wins, as the last record of a run key does
    for record in reversed(records):
        value = as_number(nested_get(record, ("hyperparameters", "target_accuracy")))
        if math.isfinite(value):
            return value
    return math.nan


def cell_target(
    records: Sequence[Mapping[str, Any]], fraction: float = DEFAULT_TARGET_FRACTION
) -> tuple[float, str]:
    """The target validation accuracy of one cell and where it comes from.

    Parameters
    ----------
    records : sequence of mapping
        The cell's records (successful ones set the default target).
    fraction : float, default :data:`DEFAULT_TARGET_FRACTION`
        The default target as a fraction of the best validation accuracy reached.

    Returns
    -------
    target : float
        The matrix's ``target_accuracy`` when a record carries one, else ``fraction`` times
        the best validation accuracy any successful run of the cell reached; NaN when no
        run stored a validation curve.
    source : str
        ``"matrix"``, or e.g. ``"98% of best 0.9861"``, or ``"no validation curve"``.
    """
    explicit = _matrix_target(records)
    if math.isfinite(explicit):
        return explicit, "matrix"
    best = best_validation_accuracy(r for r in records if r.get("status") == "success")
    if not math.isfinite(best):
        return math.nan, "no validation curve"
    return fraction * best, f"{fraction:.0%} of best {best:.4f}"


def _records_by_cell(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_cell: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_cell.setdefault(record.get("_cell") or cell_name(record), []).append(record)
    return by_cell


def time_to_accuracy_frame(
    records: Iterable[Mapping[str, Any]], fraction: float = DEFAULT_TARGET_FRACTION
) -> pd.DataFrame:
    """Time to accuracy of every successful, uncontended run.

    Parameters
    ----------
    records : iterable of mapping
        Results records (``LoadedResults.records``: the latest per run key).
    fraction : float, default :data:`DEFAULT_TARGET_FRACTION`
        The default target's fraction of the best validation accuracy in the cell.

    Returns
    -------
    pandas.DataFrame
        :data:`RUN_COLUMNS`; ``time_to_accuracy`` is ``inf`` for a run that never reached
        the target and NaN for one without a validation curve.
    """
    rows = []
    for cell, cell_records in _records_by_cell(records).items():
        target, source = cell_target(cell_records, fraction)
        for record in cell_records:
            if record.get("status") != "success" or is_contended(record):
                continue
            seconds, epoch = time_to_accuracy(record.get("curves"), target)
            rows.append(
                {
                    "cell": cell,
                    "dataset": str(record.get("dataset")),
                    "architecture": str(record.get("architecture")),
                    "host_class": record.get("_host_class") or host_class_of(record),
                    "engine": engine_spec(record),
                    "seed": record.get("seed"),
                    "target": target,
                    "target_source": source,
                    "time_to_accuracy": seconds,
                    "epoch_reached": math.nan if epoch is None else float(epoch),
                }
            )
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def time_to_accuracy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell, host class and engine: the target, median time to accuracy over the seeds
    run on that class, seeds reaching it.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`time_to_accuracy_frame`.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`, sorted by host class, data set, catalog order and
        engine (one class in the usual case). ``seeds``
        counts runs with a validation curve; ``median_seconds`` is the median over them
        with ``inf`` for a seed that never reached the target (NaN when no seed has a
        curve); ``median_epoch`` is the median epoch of the seeds that reached it.
    """
    rows = []
    for (cell, host, engine), group in frame.groupby(["cell", "host_class", "engine"], sort=False):
        measured = group["time_to_accuracy"].dropna().to_numpy(dtype=float)
        reached = measured[np.isfinite(measured)]
        epochs = group["epoch_reached"].dropna().to_numpy(dtype=float)
        first = group.iloc[0]
        rows.append(
            {
                "cell": cell,
                "dataset": first["dataset"],
                "architecture": first["architecture"],
                "host_class": host,
                "engine": engine,
                "target": first["target"],
                "target_source": first["target_source"],
                "seeds": len(measured),
                "reached": len(reached),
                # np.median orders inf last, so "never" seeds pull the median up
                "median_seconds": float(np.median(measured)) if len(measured) else math.nan,
                "median_epoch": float(np.median(epochs)) if len(epochs) else math.nan,
            }
        )
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if summary.empty:
        return summary
    order = sorted(
        range(len(summary)),
        key=lambda i: (
            summary.at[i, "host_class"],
            cell_sort_key(
                summary.at[i, "dataset"], summary.at[i, "architecture"], summary.at[i, "cell"]
            ),
            engine_sort_key(summary.at[i, "engine"]),
        ),
    )
    return summary.iloc[order].reset_index(drop=True)


def format_time_to_accuracy(seconds: float) -> str:
    """``"never"`` for infinity, :data:`GAP` for NaN, else seconds (three figures)."""
    if isinstance(seconds, float) and math.isinf(seconds):
        return "never"
    return format_seconds(seconds)


def time_to_accuracy_table(summary: pd.DataFrame) -> Table:
    """The report's time-to-accuracy table.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`time_to_accuracy_summary`.

    Returns
    -------
    Table
        One row per cell and engine; the CSV keeps ``inf`` for "never".
    """
    display = pd.DataFrame(
        {
            "Cell": summary["cell"],
            "Engine": summary["engine"],
            "Target val. accuracy": [format_number(value) for value in summary["target"]],
            "Target from": summary["target_source"],
            "Reached (seeds)": [
                f"{reached}/{seeds}"
                for reached, seeds in zip(summary["reached"], summary["seeds"], strict=True)
            ],
            "Median time to target (s)": [
                format_time_to_accuracy(value) for value in summary["median_seconds"]
            ],
            "Median epoch": [
                GAP if math.isnan(value) else f"{value:g}" for value in summary["median_epoch"]
            ],
        },
        columns=[
            "Cell",
            "Engine",
            "Target val. accuracy",
            "Target from",
            "Reached (seeds)",
            "Median time to target (s)",
            "Median epoch",
        ],
    )
    caption = (
        "Training seconds (cumulative, validation passes excluded) until validation "
        "accuracy first reaches the cell's target: the matrix's target_accuracy, else "
        f"{DEFAULT_TARGET_FRACTION:.0%} of the best validation accuracy any engine reached "
        "in the cell. Median over seeds, a seed that never reached the target counting "
        "as infinite ('never' when half the seeds or more did not); runs flagged as "
        "contended are left out."
    )
    if show_host_column(summary):
        display.insert(1, "Host class", list(summary["host_class"]))
        caption += (
            " Rows are grouped by host class (Host class column): times come from "
            f"different kinds of machine, and {WITHIN_CLASS_RULE}; the target is the "
            "cell's on every class."
        )
    return Table(
        name="time_to_accuracy",
        title="Time to accuracy",
        caption=caption,
        data=summary.copy(),
        display=display,
    )


def plot_time_to_accuracy(
    records: Iterable[Mapping[str, Any]],
    summary: pd.DataFrame,
    settings: PlotSettings,
    max_columns: int = 4,
) -> Figure | None:
    """Validation accuracy vs training time per cell, every run, with the target line.

    Parameters
    ----------
    records : iterable of mapping
        Results records (as for :func:`time_to_accuracy_frame`).
    summary : pandas.DataFrame
        From :func:`time_to_accuracy_summary`: which cells, engines and targets to draw.
    settings : reports.plots.PlotSettings
        Size and resolution.
    max_columns : int, default 4
        Panels per row.

    Returns
    -------
    Figure or None
        One panel per cell (one line per run, colour: engine; dot: where the run reached
        the target; dashed: the target), per cell and host class when the summary spans
        several classes (times of two kinds of machine never share a panel); None when no
        run has a validation curve.
    """
    from reports.plots.style import palette_for

    drawn = summary[summary["seeds"] > 0]
    if drawn.empty:
        return None
    several = show_host_column(drawn)
    hosts = drawn["host_class"] if several else pd.Series("", index=drawn.index)
    panels = list(dict.fromkeys(zip(drawn["cell"], hosts, strict=True)))
    engines = sorted(set(drawn["engine"]), key=engine_sort_key)
    colours = palette_for(engines)
    targets = dict(zip(drawn["cell"], drawn["target"], strict=True))
    by_panel: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("status") != "success" or is_contended(record):
            continue
        host = (record.get("_host_class") or host_class_of(record)) if several else ""
        by_panel.setdefault((record.get("_cell") or cell_name(record), host), []).append(record)
    columns = min(max_columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = settings.new_figure(3.6 * columns + 1.6, 2.8 * rows + 0.6)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axis, (cell, host) in zip(axes, panels, strict=False):
        target = targets[cell]
        for record in by_panel.get((cell, host), []):
            curves = record.get("curves") or {}
            accuracy, elapsed = _curve(curves, "val_accuracy"), _curve(curves, "elapsed_seconds")
            length = min(len(accuracy), len(elapsed))
            if length == 0:
                continue
            engine = engine_spec(record)
            colour = colours.get(engine, "#444444")
            axis.plot(elapsed[:length], accuracy[:length], color=colour, lw=1.2, alpha=0.75)
            index = _first_reaching(accuracy, elapsed, target) if math.isfinite(target) else None
            if index is not None:
                axis.plot([elapsed[index]], [accuracy[index]], "o", color=colour, ms=4)
        if math.isfinite(target):
            axis.axhline(target, color="black", ls="--", lw=0.9)
        first = drawn[drawn["cell"] == cell].iloc[0]
        title = f"{first['dataset']} / {first['architecture']}"
        axis.set_title(f"{title}\n@ {short_host_label(host)}" if several else title, fontsize=9)
        axis.set_xlabel("training time (s)", fontsize=8)
        axis.set_ylabel("validation accuracy", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in axes[len(panels) :]:
        axis.set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[engine], lw=2, label=engine) for engine in engines]
    handles.append(Line2D([], [], color="black", ls="--", lw=0.9, label="target"))
    figure.legend(handles=handles, loc="outside right upper", fontsize=8)
    figure.suptitle("Time to accuracy: validation accuracy vs training time (one line per run)")
    return figure


__all__ = [
    "ACCURACY_TOLERANCE",
    "DEFAULT_TARGET_FRACTION",
    "best_validation_accuracy",
    "cell_target",
    "engine_spec",
    "format_time_to_accuracy",
    "is_contended",
    "plot_time_to_accuracy",
    "time_to_accuracy",
    "time_to_accuracy_frame",
    "time_to_accuracy_summary",
    "time_to_accuracy_table",
]
