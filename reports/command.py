"""``cnnbench report RESULTS... --out DIR``: tables, plots and one HTML page from results.

Exit codes: 0 when the report was written, 1 when it was written but no results file held
a usable record (the page says so), 2 when a results file does not exist or an argument is
invalid (``--baseline`` naming no engine of the results, ``--dpi`` below 10).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command's arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-parser to fill.
    """
    parser.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS",
        help="results files (results.jsonl) or 'cnnbench run --out' folders; when a run "
        "key appears twice, the later record wins",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        metavar="DIR",
        help="output folder: DIR/report.html, DIR/report.md, DIR/tables/, DIR/plots/ "
        "(default: report)",
    )
    parser.add_argument(
        "--dpi", type=int, default=100, metavar="N", help="resolution of the figures (default: 100)"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="SPEC",
        help="the engine every other engine is compared with, e.g. scratch, "
        "keras:tensorflow, keras:jax (default: scratch when the results hold it, else the "
        "first of scratch, scratch:gpu, keras:tensorflow, keras:jax, keras:torch present)",
    )
    parser.add_argument(
        "--title",
        default="cnnbench report: scratch_cnn vs Keras",
        help="the page's title",
    )


def run(args: argparse.Namespace) -> int:
    """Build the report; print where it is and its summary; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`configure_parser`.

    Returns
    -------
    int
        0, 1 or 2 (see the module docstring).
    """
    if args.dpi < 10:
        print(f"cnnbench report: --dpi is {args.dpi}; expected 10 or more", file=sys.stderr)
        return 2
    # imported here: plotting libraries load only when a report is built
    from reports.build import build_report
    from reports.cells import BaselineError
    from reports.plots import PlotSettings

    try:
        files = build_report(
            args.results, args.out, PlotSettings(dpi=args.dpi), args.title, args.baseline
        )
    except (FileNotFoundError, BaselineError) as error:
        print(f"cnnbench report: {error}", file=sys.stderr)
        return 2
    for problem in files.loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    for sentence in [*files.summary.headline, *files.summary.warnings]:
        print(sentence)
    print(
        f"{len(files.plots)} plots, {len(files.tables) // 2} tables, "
        f"{len(files.missing_plots)} plots not drawn (reasons in the page)"
    )
    print(f"report: {files.html}")
    return 0 if files.loaded.records else 1
