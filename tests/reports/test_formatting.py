"""Number formats, Markdown and HTML tables, and the summary's wording."""

from __future__ import annotations

import math

import pandas as pd

from reports.formatting import (
    GAP,
    format_interval,
    format_mean_spread,
    format_minutes_seconds,
    looks_numeric,
    to_html_table,
    to_markdown,
)
from reports.summary import verdict_counts


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


def test_intervals_print_ratios_differences_unbounded_sides_and_gaps():
    assert format_interval(1.9, 2.345) == "1.9x to 2.35x"
    assert format_interval(-0.00281, 0.0056, "difference") == "-0.0028 to +0.0056"
    assert format_interval(0.5, math.inf) == "0.5x to ∞"
    assert format_interval(-math.inf, 0.01, "difference") == "-∞ to +0.0100"
    assert format_interval(math.nan, 2.0) == GAP


def test_verdicts_are_counted_per_engine_with_zeros_and_unclear_cells():
    verdicts = pd.Series(
        ["scratch faster"] * 9
        + ["keras:tensorflow faster"]
        + ["no clear difference at this number of seeds"] * 2
        + [""]  # a cell without a comparison is not counted
    )
    assert verdict_counts(verdicts, "scratch", "keras:tensorflow") == (
        "scratch faster in 9 cells, keras:tensorflow faster in 1, no clear difference in 2"
    )
    accuracy = pd.Series(["no clear difference at this number of seeds", "keras:jax more accurate"])
    assert verdict_counts(accuracy, "scratch", "keras:jax", "accuracy") == (
        "scratch more accurate in 0 cells, keras:jax more accurate in 1, no clear difference in 1"
    )


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
