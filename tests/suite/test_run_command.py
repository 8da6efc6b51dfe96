"""``cnnbench run`` end to end: argument handling, and (slow) real engines with kill + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from suite import cli
from suite.results import ResultsStore

ROOT = Path(__file__).resolve().parents[2]


def test_invalid_matrix_reports_every_problem_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(
        textwrap.dedent(
            """
            [defaults]
            epoch = 3
            [[experiment]]
            datasets = ["digits8x8"]
            architectures = ["not_a_net"]
            """
        )
    )
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "unknown setting 'epoch'" in err and "not_a_net" in err
    assert f"{path}:3" in err and f"{path}:6" in err
    assert not (tmp_path / "out").exists()


def test_only_pattern_matching_nothing_exits_2(tmp_path, capsys):
    code = cli.main(
        ["run", str(ROOT / "matrices" / "quick.toml"), "--only", "nothing/*", "--quiet"]
    )
    assert code == 2
    assert "no cell" in capsys.readouterr().err


def run_cli(*args: str, capture: bool = True) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    stream = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "suite.cli", "run", *args],
        cwd=ROOT,
        env=env,
        stdout=stream,
        stderr=stream,
        text=True,
    )


SMALL = """
name = "small"
[defaults]
seeds = [0, 1]
epochs = 3
[[experiment]]
name = "small"
datasets = ["digits8x8"]
architectures = ["cnn1_3", "dnn_128_128_64"]
"""


@pytest.mark.slow
@pytest.mark.keras
def test_real_engines_agree_and_a_killed_run_resumes_without_loss_or_repeat(tmp_path):
    matrix_path = tmp_path / "small.toml"
    matrix_path.write_text(SMALL)
    out = tmp_path / "out"
    results = out / "results.jsonl"
    process = run_cli(
        str(matrix_path), "--out", str(out), "--threads", "1", "--quiet", capture=False
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and len(ResultsStore(results).read().records) >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)  # no chance to clean up
    process.wait(timeout=60)
    before = ResultsStore(results).read()
    assert 3 <= len(before.records) < 8

    resumed = run_cli(str(matrix_path), "--out", str(out), "--threads", "1", "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    after = ResultsStore(results).read()
    keys = [record["key"] for record in after.records]
    assert len(keys) == 8 and len(set(keys)) == 8  # no run lost, none repeated
    assert f"{len(before.records)} already stored" in err
    assert all(record["status"] == "success" for record in after.records)
    for seed in (0, 1):
        for architecture in ("cnn1_3", "dnn_128_128_64"):
            pair = {
                record["engine"]: record
                for record in after.records
                if record["seed"] == seed and record["architecture"] == architecture
            }
            scratch, keras = pair["scratch"], pair["keras:tensorflow"]
            assert scratch["split"] == keras["split"]
            assert (
                scratch["training"]["initial_weights_sha256"]
                == (keras["training"]["initial_weights_sha256"])
            )
            # same data, same start, same order, float32: the engines track each other
            assert abs(scratch["metrics"]["accuracy"] - keras["metrics"]["accuracy"]) <= 0.02
            assert scratch["curves"]["loss"][0] == pytest.approx(
                keras["curves"]["loss"][0], rel=1e-3
            )
            assert keras["environment"]["thread_settings"]["keras_intra_op_threads"] == 1
    json.dumps(after.records)  # plain JSON throughout
