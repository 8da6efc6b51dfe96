"""``cnnbench report`` through the real CLI dispatcher."""

from __future__ import annotations

from suite.cli import main


def test_report_command_reports_a_torn_file_and_prints_the_page_path(
    fixtures_dir, tmp_path, capsys
):
    out = tmp_path / "report"
    arguments = ["report", str(fixtures_dir / "torn_last_line.jsonl"), "--out", str(out)]
    code = main([*arguments, "--dpi", "20"])
    captured = capsys.readouterr()
    assert code == 0
    assert "last line 5 skipped" in captured.err
    assert captured.out.strip().endswith(f"report: {out / 'report.html'}")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "last line 5 skipped" in html
    assert "could not be used; see Reading problems" in html
    plots = sorted(path.stem for path in (out / "plots").glob("*.png"))
    # speed ratio, epoch times, accuracy vs time, time to accuracy, performance profile,
    # per-class F1, and the one cell's learning curves, confusion, gains, filters
    assert html.count("data:image/png;base64,") == len(plots) == 10


def test_report_command_exits_2_naming_an_absent_file(tmp_path, capsys):
    code = main(["report", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "absent.jsonl does not exist" in capsys.readouterr().err


def test_report_command_exits_1_when_no_record_is_usable(tmp_path, capsys):
    empty = tmp_path / "results.jsonl"
    empty.write_text('{"torn": \n', encoding="utf-8")
    code = main(["report", str(empty), "--out", str(tmp_path / "r"), "--dpi", "20"])
    captured = capsys.readouterr()
    assert code == 1
    assert "last line 1 skipped" in captured.err
    assert (tmp_path / "r" / "report.html").is_file()
