"""Build the whole report from results files: tables, plots, Markdown and the HTML page.

Layout of the output folder::

    DIR/report.html        the single self-contained page (open this)
    DIR/report.md          summary and every table in Markdown
    DIR/tables/NAME.md     each table in Markdown
    DIR/tables/NAME.csv    each table's raw numbers
    DIR/plots/NAME.png     each figure

Everything is derived from the records alone. A figure that cannot be drawn (no data, or
an error while drawing) is replaced in the page by a line saying why, and the rest of the
report is still written.
"""

from __future__ import annotations

import datetime as _datetime
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.cells import CellInfo, all_engines, describe_cells, resolve_baseline
from reports.formatting import GAP, Table, to_markdown, write_table
from reports.hosts import describe_host_classes, host_class_note, host_classes_table
from reports.html_page import PageSection, PlotEntry, render_page
from reports.loading import LoadedResults, load_results
from reports.statistics import (
    competing_load,
    contended_run_count,
    engine_comparison,
    engine_speeds,
    engine_statistics,
    find_gaps,
    paired_seeds,
)
from reports.summary import Summary, build_summary
from reports.tables import (
    comparison_table,
    engine_table,
    gaps_table,
    seed_table_accuracy_time,
    seed_table_per_class,
    speed_table,
)

if TYPE_CHECKING:  # plotting libraries load only when a report is drawn
    from reports.plots import PlotSettings

HTML_FILE_NAME = "report.html"
MARKDOWN_FILE_NAME = "report.md"


@dataclass
class ReportFiles:
    """What :func:`build_report` wrote and met.

    Attributes
    ----------
    html : Path
        The page.
    markdown : Path
        Summary and tables in Markdown.
    tables : list of Path
        Each table's ``.md`` and ``.csv``.
    plots : list of Path
        Each figure's PNG.
    missing_plots : list of str
        ``"name: reason"`` for each figure not drawn.
    summary : Summary
        The opening sentences.
    loaded : LoadedResults
        The records the report was built from.
    """

    html: Path
    markdown: Path
    tables: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    missing_plots: list[str] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    loaded: LoadedResults = field(default_factory=LoadedResults)


def slug(text: str) -> str:
    """A file- and anchor-safe name: runs of other characters become ``-``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-").lower() or "unnamed"


def _draw(
    name: str,
    title: str,
    caption: str,
    draw: Callable[[], Any],
    empty_reason: str,
    settings: PlotSettings,
) -> PlotEntry:
    entry = PlotEntry(name=name, title=title, caption=caption)
    try:
        figure = draw()
    except Exception as error:  # one broken figure must not cost the whole report
        entry.missing_reason = f"drawing failed: {error.__class__.__name__}: {error}"
        return entry
    if figure is None:
        entry.missing_reason = empty_reason
        return entry
    from reports.plots import figure_png

    entry.png = figure_png(figure, settings)
    return entry


def _problems_table(loaded: LoadedResults) -> Table:
    frame = pd.DataFrame({"Problem": loaded.problems})
    return Table(
        name="reading_problems",
        title="Reading problems",
        caption="Lines of the results files that are not JSON records (a torn last line is "
        "what a killed run leaves), and records without the fields a table needs.",
        data=frame,
        display=frame,
    )


def _environment_table(loaded: LoadedResults) -> Table:
    rows = []
    seen = set()
    for record in loaded.records:
        environment = record.get("environment")
        if not isinstance(environment, dict):
            continue
        row = {
            "File": record["_source"],
            "Host class": str(record.get("_host_class") or GAP),
            "Engine": str(record["engine"]),
            "Device": str(environment.get("device") or record.get("device") or GAP),
            "CPU": str(environment.get("cpu") or GAP),
            "Threads": str(environment.get("threads") or GAP),
            "NumPy": str(environment.get("numpy") or GAP),
            "TensorFlow": str(environment.get("tensorflow") or GAP),
            "JAX": str(environment.get("jax") or GAP),
            "PyTorch": str(environment.get("torch") or GAP),
            "Keras": str(environment.get("keras") or GAP),
            "GPU": str(environment.get("gpu") or GAP),
        }
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            rows.append(row)
    columns = ["File", "Host class", "Engine", "Device", "CPU", "Threads", "NumPy",
               "TensorFlow", "JAX", "PyTorch", "Keras", "GPU"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return Table(
        name="environment",
        title="Where the runs ran",
        caption="Each distinct environment block stored with the runs, per host class and engine.",
        data=frame,
        display=frame,
    )


def _cell_plots(loaded: LoadedResults, info: CellInfo, settings: PlotSettings) -> list[PlotEntry]:
    from reports import plots

    stem = slug(info.cell)
    return [
        _draw(
            f"learning-curves-{stem}",
            f"{info.label}: learning curves",
            "Training (solid) and validation (dashed) loss and accuracy per epoch, every "
            "engine overlaid (the first engine thick underneath, so identical curves stay "
            "visible); line: mean over seeds, band: ±1 sd.",
            lambda: plots.plot_learning_curves(loaded, info, settings),
            "no successful run of this cell stored learning curves",
            settings,
        ),
        _draw(
            f"confusion-{stem}",
            f"{info.label}: confusion matrices",
            "Test images of each true class (rows) predicted as each class (columns), summed "
            "over seeds and shown as row fractions; engines side by side.",
            lambda: plots.plot_confusion_matrices(loaded, info, settings),
            "no successful run of this cell stored a confusion matrix",
            settings,
        ),
        _draw(
            f"gains-{stem}",
            f"{info.label}: cumulative gains curves",
            "Per class: fraction of the class found vs fraction of the test set targeted, "
            "most probable first; dotted: baseline (random order), black: perfect model.",
            lambda: plots.plot_gains_curves(loaded, info, settings),
            "no successful run of this cell stored gains curves",
            settings,
        ),
        _draw(
            f"filters-{stem}",
            f"{info.label}: first convolution layer's filters",
            "Trained kernels of the first Conv2D layer, each scaled to its own range "
            "(mean over input channels unless they are RGB).",
            lambda: plots.plot_first_layer_filters(loaded, info, settings),
            "no convolution kernel stored (a dense net, a kernel over 20,000 numbers, or no "
            "successful run)",
            settings,
        ),
    ]


def _comparison_intro(cells: Sequence[CellInfo], contended: int, host_note: str = "") -> str:
    baselines = list(dict.fromkeys(info.baseline for info in cells if info.baseline))
    engines = all_engines(cells)
    text = (
        f"Engines: {', '.join(engines) or 'none'}. Baseline: {', '.join(baselines) or 'none'}"
        " (each other engine is compared with it on the same seeds; cnnbench report "
        "--baseline SPEC picks another)."
    )
    if contended:
        text += (
            f" {contended} contended {'run' if contended == 1 else 'runs'} left out of "
            "every time figure and verdict."
        )
    if host_note:
        text += f" {host_note}"
    return text


def _meta_lines(loaded: LoadedResults, cells: Sequence[CellInfo]) -> list[str]:
    statuses = loaded.runs["status"].value_counts() if not loaded.runs.empty else {}
    status_text = ", ".join(f"{count} {status}" for status, count in dict(statuses).items())
    created = sorted(str(r.get("created")) for r in loaded.records if r.get("created"))
    lines = [
        "Results: " + ", ".join(loaded.sources),
        f"{len(loaded.records)} runs ({status_text or 'none'}) in {len(cells)} cells",
    ]
    if loaded.superseded:
        lines.append(f"{loaded.superseded} records superseded by a later one with the same key.")
    if created:
        lines.append(f"Runs from {created[0]} to {created[-1]}.")
    generated = _datetime.datetime.now(_datetime.UTC).isoformat(timespec="seconds")
    lines.append(f"Report generated {generated} by cnnbench report.")
    return lines


def build_report(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    settings: PlotSettings | None = None,
    title: str = "cnnbench report: scratch_cnn vs Keras",
    baseline: str | None = None,
) -> ReportFiles:
    """Read results files and write the HTML page, Markdown, CSV and PNG files.

    Parameters
    ----------
    paths : iterable of str or Path
        Results files or ``cnnbench run --out`` folders.
    out_dir : str or Path
        The output folder (created; files in it are overwritten).
    settings : reports.plots.PlotSettings, optional
        Figure size and resolution; the default is 100 dpi at full size.
    title : str, optional
        The page's title.
    baseline : str, optional
        The engine spec every other engine is compared with; ``scratch`` when the
        results hold it, else the first engine in the usual order (see
        :func:`reports.cells.resolve_baseline`).

    Returns
    -------
    ReportFiles
        The files written, figures not drawn, and the summary.

    Raises
    ------
    FileNotFoundError
        A path is neither a results file nor a folder holding one.
    reports.cells.BaselineError
        ``baseline`` names no engine of the results.
    """
    from reports import plots

    settings = settings or plots.PlotSettings()
    loaded = load_results(paths)
    chosen = resolve_baseline(baseline, all_engines(describe_cells(loaded)))
    cells = describe_cells(loaded, chosen)
    statistics = engine_statistics(loaded, cells)
    pairs = paired_seeds(loaded, cells)
    comparison = engine_comparison(statistics, pairs, cells, loaded)
    speeds = engine_speeds(loaded, statistics, comparison, cells)
    gaps = find_gaps(loaded, cells)
    contended = contended_run_count(loaded)
    host_classes = describe_host_classes(loaded.records)
    host_note = host_class_note(host_classes)
    summary = build_summary(
        comparison,
        gaps,
        loaded.problems,
        len(loaded.records),
        speeds,
        contended,
        host_note,
        competing_load(loaded.records),
    )

    comparison_tab = comparison_table(comparison)
    speeds_tab = speed_table(speeds)
    engines_tab = engine_table(statistics)
    gaps_tab = gaps_table(gaps)
    table_one = seed_table_accuracy_time(statistics)
    per_class = [table for info in cells if (table := seed_table_per_class(loaded, info))]
    problems_tab = _problems_table(loaded)
    environment_tab = _environment_table(loaded)
    hosts_tab = host_classes_table(host_classes)

    overview_plots = [
        _draw(
            "speed-ratio",
            "Steady-state epoch time of each engine relative to the baseline",
            "Per cell and engine: the geometric mean over seeds of the paired seconds-per-"
            "epoch ratio engine/baseline (big marker) with its 95% interval (bar; none under "
            "3 seeds), and each seed's ratio (small dots); contended runs left out; dashed "
            "line: equal speed."
            + (
                " A cell measured on several host classes has one marker per class (label "
                "'cell @ host class'): runs are paired within a class only."
                if host_note
                else ""
            ),
            lambda: plots.plot_speed_ratios(comparison, pairs, settings),
            "no seed has uncontended successful runs of the baseline and another engine",
            settings,
        ),
        _draw(
            "epoch-times",
            "Steady-state epoch time of every engine",
            "Seconds per steady-state epoch (median of the epochs after the first) of each "
            "uncontended successful run; colour: engine."
            + (
                " Grouped by host class (label 'cell @ host class'): compare times within "
                "a class only."
                if host_note
                else ""
            ),
            lambda: plots.plot_epoch_times(loaded, cells, settings),
            "no uncontended successful run stored its seconds per epoch",
            settings,
        ),
        _draw(
            "accuracy-vs-time",
            "Test accuracy vs training time",
            "One point per successful run; colour: engine, marker: architecture."
            + (" One panel per data set and host class." if host_note else ""),
            lambda: plots.plot_accuracy_vs_time(loaded, cells, settings),
            "no successful run",
            settings,
        ),
    ]
    heatmaps = [
        _draw(
            f"per-class-f1-{slug(dataset)}",
            f"{dataset}: per-class F1",
            "Mean F1 over seeds for each class (columns) and architecture x engine (rows).",
            lambda dataset=dataset: plots.plot_per_class_f1(loaded, cells, dataset, settings),
            "no successful run of this data set stored per-class F1",
            settings,
        )
        for dataset in dict.fromkeys(info.dataset for info in cells)
    ]
    sections = [
        PageSection(
            "comparison",
            "Engines compared",
            intro=_comparison_intro(cells, contended, host_note),
            tables=[comparison_tab, speeds_tab],
            plots=overview_plots,
        ),
        PageSection("gaps", "Gaps and reading problems", tables=[gaps_tab, problems_tab]),
        PageSection("engines", "All figures per engine", tables=[engines_tab]),
        PageSection(
            "seed-tables",
            "The seed documents' tables",
            tables=[table_one, *per_class],
        ),
        PageSection("per-class-f1", "Per-class F1", plots=heatmaps),
    ]
    # --- time to accuracy and performance profile (reports/performance_profile.py) ---
    from reports.performance_profile import time_and_profile_section

    time_section, time_tables = time_and_profile_section(loaded.records, settings)
    sections.insert(1, time_section)  # right after the engine comparison
    # --- end time to accuracy and performance profile ---
    for info in cells:
        sections.append(
            PageSection(
                f"cell-{slug(info.cell)}",
                f"Cell {info.label}",
                intro=f"Matrix cell {info.cell}; engines {', '.join(info.engines)}; seeds "
                f"{', '.join(str(seed) for seed in info.seeds)}.",
                plots=_cell_plots(loaded, info, settings),
            )
        )
    sections.append(PageSection("environment", "Environment", tables=[hosts_tab, environment_tab]))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html=out / HTML_FILE_NAME, markdown=out / MARKDOWN_FILE_NAME, summary=summary
    )
    files.loaded = loaded
    all_tables = [comparison_tab, speeds_tab, gaps_tab, engines_tab, table_one, *per_class,
                  problems_tab, hosts_tab, environment_tab]  # fmt: skip
    all_tables[1:1] = time_tables  # time to accuracy, performance profile (as on the page)
    for table in all_tables:
        files.tables.extend(write_table(table, out / "tables"))
    plot_folder = out / "plots"
    plot_folder.mkdir(exist_ok=True)
    for section in sections:
        for entry in section.plots:
            if entry.png is None:
                files.missing_plots.append(f"{entry.name}: {entry.missing_reason}")
                continue
            path = plot_folder / f"{entry.name}.png"
            path.write_bytes(entry.png)
            files.plots.append(path)
    meta = _meta_lines(loaded, cells)
    files.html.write_text(render_page(title, meta, summary, sections), encoding="utf-8")
    files.markdown.write_text(_markdown_report(title, meta, summary, all_tables), "utf-8")
    return files


def _markdown_report(
    title: str, meta: Sequence[str], summary: Summary, tables: Sequence[Table]
) -> str:
    lines = [f"# {title}", "", *meta, "", "## Summary", ""]
    lines.extend(f"- {sentence}" for sentence in [*summary.headline, *summary.warnings])
    lines.append("")
    lines.extend(f"- {sentence}" for sentence in summary.per_cell)
    for table in tables:
        lines.extend(["", f"## {table.title}", "", table.caption, "", to_markdown(table.display)])
    return "\n".join(lines)
