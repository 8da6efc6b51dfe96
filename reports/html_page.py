"""The single-file HTML report: inline CSS, PNG images as base64 ``data:`` URIs, no
scripts and no external reference of any kind, so it opens offline and can be mailed."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from reports.formatting import Table, to_html_table
from reports.summary import Summary

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1300px; padding: 0 1.5em 3em; color: #222; line-height: 1.4; }
h1 { margin-top: 0.8em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em;
     margin-top: 2em; } h3 { margin-top: 1.6em; }
.meta { color: #666; font-size: 0.9em; }
.summary { background: #f4f8fc; border-left: 4px solid #1f77b4; padding: 0.6em 1.2em; }
.warning { background: #fff6e5; border-left: 4px solid #e69500; padding: 0.4em 1.2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num:first-child { text-align: left; }
.empty { color: #2a7a2a; }
tbody tr:nth-child(even) { background: #fafafa; }
td.gap { color: #999; text-align: center; }
.caption { color: #555; font-size: 0.85em; max-width: 60em; }
figure { margin: 0.8em 0 1.6em; } figure img { max-width: 100%; height: auto;
  border: 1px solid #eee; } figcaption { color: #555; font-size: 0.85em; }
.missing { color: #8a5a00; font-style: italic; }
nav ul { columns: 2; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""


@dataclass
class PlotEntry:
    """One figure of the report, or the reason it is missing.

    Attributes
    ----------
    name : str
        File stem (``plots/NAME.png``) and HTML anchor.
    title : str
        Heading.
    caption : str
        What it shows.
    png : bytes or None
        The image; None when it could not be drawn.
    missing_reason : str
        Why ``png`` is None.
    """

    name: str
    title: str
    caption: str
    png: bytes | None = None
    missing_reason: str = ""


@dataclass
class PageSection:
    """A titled group of tables and plots."""

    anchor: str
    title: str
    intro: str = ""
    tables: Sequence[Table] = ()
    plots: Sequence[PlotEntry] = ()


def _list(items: Sequence[str], css: str = "") -> str:
    if not items:
        return ""
    css_attribute = f' class="{css}"' if css else ""
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f"<ul{css_attribute}>{body}</ul>"


def plot_html(entry: PlotEntry) -> str:
    """A ``<figure>`` with the embedded PNG, or a paragraph saying why it is missing."""
    heading = f'<h4 id="{html.escape(entry.name)}">{html.escape(entry.title)}</h4>'
    if entry.png is None:
        return f'{heading}<p class="missing">Not drawn: {html.escape(entry.missing_reason)}</p>'
    encoded = base64.b64encode(entry.png).decode("ascii")
    return (
        f'{heading}<figure><img alt="{html.escape(entry.title)}" '
        f'src="data:image/png;base64,{encoded}">'
        f"<figcaption>{html.escape(entry.caption)}</figcaption></figure>"
    )


def table_html(table: Table) -> str:
    """Heading, caption and the table (scrolling sideways when wide); an empty table
    becomes a line saying ``None.`` (its anchor stays, so links still land)."""
    heading = (
        f'<h3 id="{html.escape(table.name)}">{html.escape(table.title)}</h3>'
        f'<p class="caption">{html.escape(table.caption)}</p>'
    )
    if table.display.empty:
        return f'{heading}<p id="{html.escape(table.name)}-table" class="empty">None.</p>'
    return (
        f'{heading}<div class="scroll">{to_html_table(table.display, table.name + "-table")}</div>'
    )


def render_page(
    title: str,
    meta_lines: Sequence[str],
    summary: Summary,
    sections: Sequence[PageSection],
) -> str:
    """The whole HTML document.

    Parameters
    ----------
    title : str
        Page title and top heading.
    meta_lines : sequence of str
        Where the numbers come from (files, run counts, machine), shown under the title.
    summary : Summary
        The opening sentences.
    sections : sequence of PageSection
        Everything after the summary, in order.

    Returns
    -------
    str
        A complete, self-contained HTML5 document.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "".join(f'<p class="meta">{html.escape(line)}</p>' for line in meta_lines),
        '<section id="summary"><h2>Summary</h2><div class="summary">',
        _list(summary.headline),
        "</div>",
    ]
    if summary.warnings:
        parts.append(f'<div class="warning">{_list(summary.warnings)}</div>')
    if summary.per_cell:
        parts.append("<h3>Per cell</h3>" + _list(summary.per_cell))
    parts.append("</section>")
    contents = "".join(
        f'<li><a href="#{html.escape(section.anchor)}">{html.escape(section.title)}</a></li>'
        for section in sections
    )
    parts.append(f"<nav><h2>Contents</h2><ul>{contents}</ul></nav>")
    for section in sections:
        parts.append(
            f'<section id="{html.escape(section.anchor)}"><h2>{html.escape(section.title)}</h2>'
        )
        if section.intro:
            parts.append(f'<p class="caption">{html.escape(section.intro)}</p>')
        parts.extend(table_html(table) for table in section.tables)
        parts.extend(plot_html(entry) for entry in section.plots)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
