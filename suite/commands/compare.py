"""``cnnbench compare BASE NEW``: is NEW slower than BASE, cell by cell, beyond the spread?

Prints the comparison in Markdown to stdout and writes ``compare.html`` (self-contained),
``compare.md`` and ``compare_cells.md``/``.csv`` to ``--out`` (default: a ``compare``
folder beside NEW). The method is in :mod:`reports.compare` and ``docs/reports.md``.

Exit codes: 0 when no cell is significantly slower than ``--fail-if-slower`` allows (or
nothing could be compared), 1 when at least one is, 2 when a results file does not exist
or an argument is invalid. Stores from different machines are compared with a warning on
stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: mirrors reports.compare (not imported here: ``cnnbench --help`` must stay light)
_DEFAULT_THRESHOLD = 1.10
_DEFAULT_CONFIDENCE = 0.95


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` sub-command's arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-parser to fill.
    """
    parser.add_argument(
        "base",
        type=Path,
        metavar="BASE",
        help="results file or 'cnnbench run --out' folder (before)",
    )
    parser.add_argument(
        "new", type=Path, metavar="NEW", help="results file or 'cnnbench run --out' folder (after)"
    )
    parser.add_argument(
        "--fail-if-slower",
        type=float,
        default=_DEFAULT_THRESHOLD,
        metavar="RATIO",
        help="exit 1 when a cell's whole interval of NEW/BASE steady-state time lies above "
        f"RATIO (default: {_DEFAULT_THRESHOLD:g})",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=_DEFAULT_CONFIDENCE,
        metavar="LEVEL",
        help=f"coverage of the bootstrap intervals (default: {_DEFAULT_CONFIDENCE:g})",
    )
    parser.add_argument(
        "--include-contended",
        action="store_true",
        help="count runs flagged as contended in the times (left out by default)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for compare.html, compare.md and the table's CSV (default: 'compare' "
        "in the folder holding NEW)",
    )
    parser.add_argument(
        "--dpi", type=int, default=100, metavar="N", help="resolution of the figure (default: 100)"
    )


def default_out_dir(new: Path) -> Path:
    """``compare/`` beside NEW: next to the folder or file given as NEW.

    Parameters
    ----------
    new : Path
        The NEW argument.

    Returns
    -------
    Path
    """
    return new.resolve().parent / "compare"


def run(args: argparse.Namespace) -> int:
    """Compare the stores, print Markdown, write the page; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`configure_parser`.

    Returns
    -------
    int
        0, 1 or 2 (see the module docstring).
    """
    if not args.fail_if_slower > 0:
        print(
            f"cnnbench compare: --fail-if-slower is {args.fail_if_slower}; expected a ratio > 0 "
            "(1.10: fail when NEW is surely more than 10% slower)",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.confidence < 1:
        print(
            f"cnnbench compare: --confidence is {args.confidence}; expected a level in (0, 1), "
            "e.g. 0.95",
            file=sys.stderr,
        )
        return 2
    if args.dpi < 10:
        print(f"cnnbench compare: --dpi is {args.dpi}; expected 10 or more", file=sys.stderr)
        return 2
    # imported here: pandas, SciPy and the plotting libraries load only when comparing
    from reports.compare import compare_stores, comparison_markdown, write_comparison
    from reports.plots import PlotSettings

    try:
        comparison = compare_stores(
            args.base,
            args.new,
            threshold=args.fail_if_slower,
            confidence=args.confidence,
            include_contended=args.include_contended,
        )
    except FileNotFoundError as error:
        print(f"cnnbench compare: {error}", file=sys.stderr)
        return 2
    for warning in comparison.machine_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(comparison_markdown(comparison))
    out = args.out if args.out is not None else default_out_dir(args.new)
    page = write_comparison(comparison, out, PlotSettings(dpi=args.dpi))
    print(f"compare: {page}")
    return comparison.exit_status
