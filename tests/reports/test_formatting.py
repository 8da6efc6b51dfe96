"""Number formats, Markdown and HTML tables, and the summary's wording."""

from __future__ import annotations

import math

import pandas as pd

from reports.formatting import (
    GAP,
    format_mean_spread,
    format_minutes_seconds,
    looks_numeric,
    to_html_table,
    to_markdown,
)
from reports.summary import faster_engine_text


def test_minutes_and_seconds_follow_seed_000_table_one():
    # the seed prints 6.8s, "1 m, 12 s" (72.2 s) and "10m,44s" (644.4 s)
    assert format_minutes_seconds(6.8) == "6.8s"
    assert format_minutes_seconds(72.2) == "1m, 12s"
    assert format_minutes_seconds(644.4) == "10m, 44s"
    assert format_minutes_seconds(math.nan) == GAP


def test_mean_and_spread_degrade_to_the_mean_then_to_a_gap():
    assert format_mean_spread(0.93889, 0.0083) == "0.9389 ± 0.0083"
    assert format_mean_spread(0.93889, math.nan) == "0.9389"
    assert format_mean_spread(None, 0.1) == GAP


def test_faster_engine_text_inverts_ratios_below_one():
    assert faster_engine_text(2.25) == "Keras is 2.25x faster"
    assert faster_engine_text(0.5) == "scratch is 2x faster"
    assert faster_engine_text(math.nan) == "no time ratio"


def test_markdown_escapes_pipes_and_keeps_every_row():
    frame = pd.DataFrame({"a": ["x|y", "2"], "b": ["1", GAP]})
    assert to_markdown(frame) == "| a | b |\n|---|---|\n| x\\|y | 1 |\n| 2 | — |\n"


def test_html_table_escapes_text_and_marks_gaps_and_numbers():
    frame = pd.DataFrame({"cell": ["<b>&"], "value": ["0.97 ± 0.01"], "missing": [GAP]})
    html = to_html_table(frame, "t")
    assert "<td>&lt;b&gt;&amp;</td>" in html
    assert '<td class="num">0.97 ± 0.01</td>' in html
    assert '<td class="gap">—</td>' in html
    assert looks_numeric("2.25x") and looks_numeric("4,372") and not looks_numeric("3/3")
