"""The single-file HTML report built from the fixture: content, plots, self-containment."""

from __future__ import annotations

import base64
import re

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: every figure the fixture can give: overview plots, per-class F1, and per cell
EXPECTED_PLOTS = {
    "speed-ratio",
    "epoch-times",
    "accuracy-vs-time",
    "time-to-accuracy",
    "performance-profile",
    "per-class-f1-digits8x8",
    "learning-curves-quick-digits8x8-cnn1_3",
    "confusion-quick-digits8x8-cnn1_3",
    "gains-quick-digits8x8-cnn1_3",
    "filters-quick-digits8x8-cnn1_3",
    "learning-curves-quick-digits8x8-dnn_128_128_64",
    "confusion-quick-digits8x8-dnn_128_128_64",
    "gains-quick-digits8x8-dnn_128_128_64",
}


def _html(report) -> str:
    return report.html.read_text(encoding="utf-8")


def test_every_plot_is_written_and_embedded_as_png(quick_report):
    html = _html(quick_report)
    assert {path.stem for path in quick_report.plots} == EXPECTED_PLOTS
    for path in quick_report.plots:
        png = path.read_bytes()
        assert png.startswith(PNG_SIGNATURE), path
        # the page holds the same image inline, right after the plot's heading
        section = html.split(f'id="{path.stem}"', 1)[1]
        encoded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', section).group(1)
        assert base64.b64decode(encoded) == png
    assert html.count("data:image/png;base64,") == len(EXPECTED_PLOTS)


def test_a_dense_net_has_no_filter_plot_and_the_page_says_why(quick_report):
    assert quick_report.missing_plots == [
        "filters-quick-digits8x8-dnn_128_128_64: no convolution kernel stored (a dense net, a "
        "kernel over 20,000 numbers, or no successful run)"
    ]
    assert "Not drawn: no convolution kernel stored" in _html(quick_report)


def test_page_is_self_contained(quick_report):
    html = _html(quick_report)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|iframe)\b", html, flags=re.IGNORECASE)
    # every src and href stays inside the page
    for target in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert target.startswith(("#", "data:image/png;base64,")), target


def test_summary_comes_first_and_states_speed_and_accuracy(quick_report, quick_subset_records):
    html = _html(quick_report)
    summary_at = html.index('<section id="summary">')
    first_table = html.index("<table")
    first_image = html.index("<img")
    assert summary_at < first_table and summary_at < first_image
    summary = html[summary_at : html.index("</section>", summary_at)]
    # verdicts are counted, both engines named (the old store's "keras" is TensorFlow)
    assert re.search(
        r"Training speed, scratch vs keras:tensorflow \(steady-state s/epoch, 95% interval of "
        r"the paired ratio\): scratch faster in \d+ cells?, keras:tensorflow faster in \d+, "
        r"no clear difference in \d+ \(of 2 compared cells\)\.",
        summary,
    )
    assert "Accuracy, scratch vs keras:tensorflow (paired difference, 95% interval): " in summary
    # the per-cell sentence quotes the geometric mean of the paired s/epoch ratios
    epoch = {
        (r["engine"], r["seed"]): r["timings"]["seconds_per_epoch"]
        for r in quick_subset_records
        if r["architecture"] == "cnn1_3"
    }
    ratios = [epoch["keras", seed] / epoch["scratch", seed] for seed in (0, 1, 2)]
    assert "digits8x8 / cnn1_3, keras:tensorflow vs scratch: " in summary
    assert f"(s/epoch keras:tensorflow/scratch {np.exp(np.mean(np.log(ratios))):.3g}x" in summary
    # two seeds give no interval and no winner
    assert (
        "digits8x8 / dnn_128_128_64, keras:tensorflow vs scratch: no clear difference at this "
        "number of seeds" in summary
    )


def test_tables_in_the_page_carry_the_fixture_numbers(quick_report, quick_subset_records):
    html = _html(quick_report)
    for architecture in ("cnn1_3", "dnn_128_128_64"):
        for engine in ("scratch", "keras"):
            accuracy = [
                r["metrics"]["accuracy"]
                for r in quick_subset_records
                if r["architecture"] == architecture and r["engine"] == engine
            ]
            text = f"{np.mean(accuracy):.4f} ± {np.std(accuracy, ddof=1):.4f}"
            assert f">{text}<" in html, text
    for name in (
        "comparison",
        "engine_speeds",
        "engines",
        "gaps",
        "seed000_table1",
        "reading_problems",
    ):
        assert f'id="{name}-table"' in html
    assert 'id="per_class_quick_digits8x8_cnn1_3-table"' in html


def test_markdown_and_csv_files_are_written_for_every_table(quick_report):
    names = {path.name for path in quick_report.tables}
    for stem in ("comparison", "engines", "gaps", "seed000_table1"):
        assert {f"{stem}.md", f"{stem}.csv"} <= names
    markdown = quick_report.markdown.read_text(encoding="utf-8")
    assert markdown.startswith("# cnnbench report")
    assert "| Data set | Architecture | Engine | Seeds | Contended |" in markdown
