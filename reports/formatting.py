"""Number formatting and the three renderings of a table: Markdown, CSV and HTML.

A :class:`Table` holds two frames: ``data`` (raw numbers, written to CSV so that nothing
is lost to rounding) and ``display`` (strings, written to Markdown and HTML). A gap, a
number that is absent, shows as :data:`GAP` in the display frame and as an empty field
in the CSV.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: what an absent number looks like in Markdown and HTML
GAP = "—"


def is_missing(value: object) -> bool:
    """Whether ``value`` is None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: float | None, digits: int = 4) -> str:
    """A fixed-point number, or :data:`GAP`.

    Parameters
    ----------
    value : float or None
        The number.
    digits : int, default 4
        Digits after the decimal point.

    Returns
    -------
    str
        E.g. ``"0.9389"``.
    """
    return GAP if is_missing(value) else f"{value:.{digits}f}"


def format_mean_spread(mean: float | None, spread: float | None, digits: int = 4) -> str:
    """``mean ± spread``; the mean alone when the spread is undefined (one seed).

    Parameters
    ----------
    mean, spread : float or None
        The mean and the standard deviation over seeds.
    digits : int, default 4
        Digits after the decimal point.

    Returns
    -------
    str
        E.g. ``"0.9389 ± 0.0083"``, ``"0.9389"`` or :data:`GAP`.
    """
    if is_missing(mean):
        return GAP
    if is_missing(spread):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


def format_seconds(value: float | None) -> str:
    """Seconds with three significant figures (``"0.0428"``, ``"1.41"``, ``"644"``)."""
    if is_missing(value):
        return GAP
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def format_minutes_seconds(value: float | None) -> str:
    """Seed 000's ``m, s`` form: ``"6.8s"``, ``"1m, 12s"``."""
    if is_missing(value):
        return GAP
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m, {seconds}s"


def format_ratio(value: float | None) -> str:
    """A speed ratio: ``"3.21x"``."""
    return GAP if is_missing(value) else f"{value:.3g}x"


def format_interval(low: float | None, high: float | None, form: str = "ratio") -> str:
    """An interval: ``"1.9x to 2.3x"`` (``form="ratio"``) or ``"-0.0028 to +0.0056"``
    (``form="difference"``).

    Parameters
    ----------
    low, high : float or None
        The ends; None or NaN when there is no interval (:data:`GAP`); infinite where the
        test cannot bound that side.
    form : {"ratio", "difference"}
        How to print the ends.

    Returns
    -------
    str
    """
    if is_missing(low) or is_missing(high):
        return GAP

    def end(value: float) -> str:
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return format_ratio(value) if form == "ratio" else f"{value:+.4f}"

    return f"{end(low)} to {end(high)}"


def format_count(value: float | None) -> str:
    """A whole number with thousands separators, or :data:`GAP`."""
    return GAP if is_missing(value) else f"{value:,.0f}"


@dataclass
class Table:
    """One table of the report.

    Attributes
    ----------
    name : str
        File stem (``tables/NAME.md``, ``tables/NAME.csv``) and HTML anchor.
    title : str
        Heading.
    caption : str
        One or two sentences saying what the rows and columns are.
    data : pandas.DataFrame
        Raw values (CSV).
    display : pandas.DataFrame
        The same rows as strings (Markdown and HTML).
    """

    name: str
    title: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame


def _escape_markdown_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a frame of strings.

    Parameters
    ----------
    frame : pandas.DataFrame
        Cells are converted with ``str``; ``|`` is escaped.

    Returns
    -------
    str
        Header, separator and one line per row, ending in a newline.
    """
    header = [_escape_markdown_cell(column) for column in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_escape_markdown_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?(x|s)?( ± [\d.]+)?$")


def looks_numeric(text: str) -> bool:
    """Whether a display cell is a number (right-aligned in HTML): ``0.97 ± 0.01``, ``2.1x``."""
    return bool(_NUMERIC.match(text))


def to_html_table(frame: pd.DataFrame, table_id: str = "") -> str:
    """An HTML ``<table>`` of a frame of strings, every cell escaped.

    Cells equal to :data:`GAP` get ``class="gap"`` so the page can grey them; numbers get
    ``class="num"`` (right-aligned).

    Parameters
    ----------
    frame : pandas.DataFrame
        The display frame.
    table_id : str, optional
        The table's ``id`` attribute.

    Returns
    -------
    str
        The markup.
    """
    id_attribute = f' id="{html.escape(table_id)}"' if table_id else ""
    parts = [f"<table{id_attribute}>", "<thead><tr>"]
    parts.extend(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    parts.append("</tr></thead><tbody>")
    for row in frame.itertuples(index=False):
        cells = []
        for cell in row:
            text = str(cell)
            css = ' class="gap"' if text == GAP else ' class="num"' if looks_numeric(text) else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def write_table(table: Table, folder: Path) -> tuple[Path, Path]:
    """Write ``NAME.md`` (title, caption, table) and ``NAME.csv`` (raw values) to a folder.

    Parameters
    ----------
    table : Table
        The table.
    folder : Path
        Created when absent.

    Returns
    -------
    tuple of Path
        The Markdown and CSV files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    markdown_path = folder / f"{table.name}.md"
    csv_path = folder / f"{table.name}.csv"
    markdown_path.write_text(
        f"## {table.title}\n\n{table.caption}\n\n{to_markdown(table.display)}", encoding="utf-8"
    )
    table.data.to_csv(csv_path, index=False, float_format="%.10g")
    return markdown_path, csv_path
