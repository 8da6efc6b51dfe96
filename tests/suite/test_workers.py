"""Engines in their own worker processes: isolation, per-worker memory, a killed worker.

These start real ``spawn`` worker processes running the scratch engine on digits8x8 (no
Keras), so they take seconds, not minutes.
"""

from __future__ import annotations

import os
import signal

import pytest

from suite import matrix
from suite.engines import registry
from suite.results import ResultsStore
from suite.run.driver import MatrixRunner, RunOptions

MATRIX = """
name = "workers"
[defaults]
engines = ["scratch"]
seeds = [0, 1]
epochs = 6

[[experiment]]
name = "digits"
datasets = ["digits8x8"]
architectures = ["densenet2_20"]
"""


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def make_runner(tmp_path, text=MATRIX, runner_class=MatrixRunner, **options):
    run_options = RunOptions(out_dir=tmp_path / "out", quiet=True, threads=1, **options)
    return runner_class(matrix.parse_matrix(text, "workers.toml"), run_options)


class KillsTheFirstRun(MatrixRunner):
    """Sends SIGKILL to the scratch worker when its first run reports its first epoch."""

    killed_pid: int | None = None

    def _worker(self, spec):
        worker = super()._worker(spec)
        if getattr(worker, "_wrapped", False):
            return worker
        run = worker.run

        def run_and_kill(task, on_epoch=None):
            def on_epoch_then_kill(info):
                if self.killed_pid is None:
                    self.killed_pid = worker.pid
                    os.kill(worker.pid, signal.SIGKILL)
                if on_epoch is not None:
                    on_epoch(info)

            return run(task, on_epoch_then_kill)

        worker.run = run_and_kill
        worker._wrapped = True
        return worker


def test_scratch_worker_loads_no_keras_and_measures_its_own_memory(isolated):
    runner = make_runner(isolated)
    summary = runner.run()
    assert summary.stored == {"success": 2}
    records = ResultsStore(isolated / "out" / "results.jsonl").read().records
    for record in records:
        environment = record["environment"]
        assert environment["engine"] == "scratch"
        assert environment["engine_libraries_loaded"] == []  # no TensorFlow, Keras, JAX, torch
        assert record["worker"]["isolated"] is True
        assert record["worker"]["pid"] != os.getpid()
        timings = record["timings"]
        baseline = timings["worker_baseline_rss_bytes"]
        assert 0 < baseline <= timings["peak_rss_bytes"]
        # the worker's own figure: far below a process that has TensorFlow loaded
        assert timings["peak_rss_bytes"] < 400 * 2**20
    # one long-lived worker served both runs
    assert records[0]["worker"]["pid"] == records[1]["worker"]["pid"]


def test_a_killed_worker_fails_one_run_and_resume_completes_it(isolated):
    runner = make_runner(isolated, runner_class=KillsTheFirstRun)
    summary = runner.run()
    assert runner.killed_pid is not None
    assert summary.stored == {"failed": 1, "success": 1} and not summary.interrupted
    path = isolated / "out" / "results.jsonl"
    records = ResultsStore(path).read().records
    failed = next(record for record in records if record["status"] == "failed")
    assert failed["worker_exit"] == {"exitcode": -9, "signal": "SIGKILL"}
    assert "killed by SIGKILL" in failed["error"] and str(runner.killed_pid) in failed["error"]
    done = next(record for record in records if record["status"] == "success")
    assert done["worker"]["pid"] != runner.killed_pid  # a fresh worker took the next run
    resumed = make_runner(isolated, resume=True).run()
    assert resumed.stored == {"success": 1} and resumed.already_stored == 1
    records = ResultsStore(path).read().records
    succeeded = [record for record in records if record["status"] == "success"]
    assert sorted(record["seed"] for record in succeeded) == [0, 1]
    assert failed["key"] in {record["key"] for record in succeeded}


def test_an_engine_without_its_library_fails_its_runs_naming_the_extra(isolated, monkeypatch):
    entry = registry.ENGINES["keras"]
    monkeypatch.setitem(
        registry.ENGINES,
        "keras",
        registry.EngineEntry(
            entry.implementation,
            entry.options,
            requires={**entry.requires, "jax": "cnnbench_no_such_module"},
            extras=entry.extras,
        ),
    )
    text = MATRIX.replace('engines = ["scratch"]', 'engines = ["scratch", "keras:jax"]')
    summary = make_runner(isolated, text=text).run()
    assert summary.stored == {"failed": 2, "success": 2}
    records = ResultsStore(isolated / "out" / "results.jsonl").read().records
    for record in records:
        if record["engine"] == "keras:jax":
            assert "pip install 'cnnbench[jax]'" in record["error"]
