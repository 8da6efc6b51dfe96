"""``cnnbench report`` through the real CLI dispatcher."""

from __future__ import annotations

from suite.cli import main


def test_report_command_writes_the_page_and_prints_its_path(fixtures_dir, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(
        ["report", str(fixtures_dir / "missing_engine.jsonl"), "--out", str(out), "--dpi", "20"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "report.html").is_file()
    assert printed.strip().endswith(f"report: {out / 'report.html'}")
    assert "2 expected runs are gaps (2 absent)" in printed


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
