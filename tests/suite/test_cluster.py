"""The Dask executor: units on a real LocalCluster, a killed worker, a killed driver.

The cluster tests start a ``distributed.LocalCluster`` of worker processes on loopback
and run the scratch engine on digits8x8 (shipped with the package; no TensorFlow, no
download), a few epochs per run, so each takes seconds to tens of seconds on two cores.
The quick tests call the Dask task in this process, or feed the driver's store path
stand-in futures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from suite import matrix
from suite.engines import registry
from suite.engines.spec import parse_engine_spec
from suite.host import host_block, host_class, record_host
from suite.results import ResultsStore
from suite.run.cluster import (
    ALLOWED_FAILURES,
    ClusterError,
    ClusterRunner,
    UnitJob,
    UnitTiming,
    overhead_summary,
    run_unit_job,
)
from suite.run.driver import MatrixRunner, RunOptions, RunSummary

pytest.importorskip("distributed")

MATRIX = """
name = "cluster"
[defaults]
engines = ["scratch"]
seeds = [0, 1]
epochs = {epochs}

[[experiment]]
name = "digits"
datasets = ["digits8x8"]
architectures = ["densenet2_20", "cnn1_3"]
"""

#: what must be equal between two executors (times and hosts may differ)
COMPARED = (
    ("status",),
    ("engine",),
    ("engine_order",),
    ("metrics", "accuracy"),
    ("metrics", "weighted_f1"),
    ("training", "initial_weights_sha256"),
    ("training", "batch_order_sha256"),
    ("training", "epochs_completed"),
    ("split", "fingerprint"),
)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    # Dask worker processes inherit this environment: the same cache as the driver's
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def parse(epochs: int = 2, seeds: str = "[0, 1]") -> matrix.Matrix:
    text = MATRIX.format(epochs=epochs).replace("seeds = [0, 1]", f"seeds = {seeds}")
    return matrix.parse_matrix(text, "cluster.toml")


def options(out, **extra) -> RunOptions:
    return RunOptions(out_dir=out, quiet=True, threads=1, **extra)


def records_of(path) -> list[dict]:
    return ResultsStore(path).read().records


def field(record: dict, path: tuple[str, ...]):
    value = record
    for part in path:
        value = (value or {}).get(part)
    return value


def successes_by_key(records: list[dict]) -> dict[str, dict]:
    return {record["key"]: record for record in records if record["status"] == "success"}


# -- the host block ----------------------------------------------------------------------------


def test_host_block_names_the_machine_and_its_class_ignores_the_host_name():
    block = record_host()
    for name in ("hostname", "cpu", "cores", "memory_bytes", "blas", "thread_environment"):
        assert name in block
    assert len(block["host_class"]) == 12
    assert host_class({**block, "hostname": "elsewhere"}) == block["host_class"]
    assert host_class({**block, "cores": (block["cores"] or 1) + 1}) != block["host_class"]
    assert host_class({**block, "cpu": "another CPU"}) != block["host_class"]
    block["hostname"] = "changed"  # a record's copy, not the cached block
    assert host_block()["hostname"] != "changed"


# -- the Dask task, called in this process ------------------------------------------------------


def one_unit(tmp_path):
    runner = MatrixRunner(parse(), options(tmp_path / "out"))
    unit = runner.plan()[0]
    return runner, unit


def test_a_worker_whose_split_differs_fails_the_unit_with_both_fingerprints_and_host(isolated):
    _, unit = one_unit(isolated)
    driver_fingerprint = unit.fingerprint
    unit.fingerprint = "0" * 16  # as if the driver had other data files
    job = UnitJob(
        unit, list(unit.engines), options(isolated / "unused"), {"executor": "dask"}, "test"
    )
    outcome = run_unit_job(job)
    [record] = outcome["records"]
    assert record["status"] == "failed" and record["key"] == unit.keys["scratch"]
    assert "SplitMismatchError" in record["error"]
    assert driver_fingerprint in record["error"] and "0" * 16 in record["error"]
    assert host_block()["hostname"] in record["error"]
    assert record["host"]["host_class"] == host_block()["host_class"]
    assert outcome["engine_start_seconds"] == 0.0  # no engine was started for it


def test_a_worker_without_a_backend_fails_the_run_naming_the_extra(isolated, monkeypatch):
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
    text = MATRIX.format(epochs=1).replace('engines = ["scratch"]', 'engines = ["keras:jax"]')
    runner = MatrixRunner(matrix.parse_matrix(text, "cluster.toml"), options(isolated / "out"))
    unit = runner.plan()[0]
    job = UnitJob(
        unit, list(unit.engines), options(isolated / "unused"), {"executor": "dask"}, "test"
    )
    [record] = run_unit_job(job)["records"]
    assert record["status"] == "failed"
    assert "keras:jax" in record["error"] and "cnnbench[jax]" in record["error"]


# -- the driver's store path, with stand-in futures ----------------------------------------------


class FakeFuture:
    def __init__(self, outcome=None, error=None):
        self.outcome, self.error = outcome, error
        self.status = "finished" if error is None else "error"
        self.key = "fake"

    def result(self):
        return self.outcome

    def exception(self, timeout=None):
        return self.error


class FakeClient:
    def scheduler_info(self, n_workers=-1):
        return {"workers": {"tcp://127.0.0.1:1": {"host": "127.0.0.1", "resources": {"unit": 1}}}}


class NullBar:
    def update(self, count):
        pass


def fake_outcome(records):
    now = time.time()
    return {
        "records": records,
        "host": record_host(),
        "worker": "tcp://127.0.0.1:1",
        "worker_name": "w",
        "pid": 1,
        "started": now,
        "finished": now,
        "unit_seconds": 1.0,
        "data_seconds": 0.1,
        "engine_start_seconds": 0.0,
        "runs_seconds": 0.8,
    }


def test_the_driver_stores_a_run_once_and_accounts_for_every_run(isolated):
    runner = ClusterRunner(parse(), options(isolated / "out"), local_cluster=1)
    units = runner.plan()
    unit = units[0]
    key = unit.keys["scratch"]
    base = runner._base_record(unit.cell, parse_engine_spec("scratch"), unit.seed, None)
    record = {**base, "key": key, "status": "success", "execution": {"concurrent_units": 1}}
    record["metrics"] = {"accuracy": 0.5, "weighted_f1": 0.5}
    record["timings"] = {"train_seconds": 1.0, "first_epoch_seconds": 0.5}
    runner.stored_keys = set()
    summary = RunSummary()
    future = FakeFuture(fake_outcome([record]))
    runner._collect(FakeClient(), future, unit, ["scratch"], time.time(), summary, NullBar())
    # the same record again (a retried unit): not stored twice
    runner._collect(FakeClient(), future, unit, ["scratch"], time.time(), summary, NullBar())
    # a unit that comes back without its record: stored as failed, not lost
    other = units[1]
    runner._collect(
        FakeClient(),
        FakeFuture(fake_outcome([])),
        other,
        ["scratch"],
        time.time(),
        summary,
        NullBar(),
    )
    stored = records_of(isolated / "out" / "results.jsonl")
    assert Counter(record["key"] for record in stored) == {key: 1, other.keys["scratch"]: 1}
    assert summary.stored == {"success": 1, "failed": 1}
    assert "no record" in stored[1]["error"]
    assert all("host" in record for record in stored)


def test_a_unit_that_killed_two_workers_is_failed_naming_the_hosts(isolated):
    from distributed import KilledWorker

    runner = ClusterRunner(parse(), options(isolated / "out"), local_cluster=1)
    unit = runner.plan()[0]
    for pid in (11, 12):
        runner.activity.update(
            {
                "event": "start",
                "unit": unit.label,
                "worker": f"tcp://h:{pid}",
                "host": "nodeA",
                "pid": pid,
            }
        )
    runner.stored_keys = set()
    error = KilledWorker("k", SimpleNamespace(address="tcp://h:12"), ALLOWED_FAILURES)
    summary = RunSummary()
    runner._collect(
        FakeClient(), FakeFuture(error=error), unit, ["scratch"], 0.0, summary, NullBar()
    )
    [record] = records_of(isolated / "out" / "results.jsonl")
    assert record["status"] == "failed" and record["key"] == unit.keys["scratch"]
    assert "KilledWorker" in record["error"] and "nodeA (tcp://h:11, pid 11)" in record["error"]
    assert "nodeA (tcp://h:12, pid 12)" in record["error"]


def test_cluster_arguments_are_checked(isolated):
    with pytest.raises(ClusterError):
        ClusterRunner(parse(), options(isolated / "out"))
    with pytest.raises(ClusterError):
        ClusterRunner(parse(), options(isolated / "out"), local_cluster=0)
    with pytest.raises(ClusterError, match="inline"):
        ClusterRunner(parse(), options(isolated / "out", inline=True), local_cluster=1)


def test_overhead_summary_reads_the_unit_timings():
    timing = UnitTiming("u", "w", "h", 0.0, 1.0, 11.0, 11.5, 10.0, 0.5, 2.0, 7.0, 1.0)
    assert timing.return_seconds == 0.5 and timing.preparation_seconds == pytest.approx(0.5)
    assert timing.overhead_seconds == pytest.approx(1.0 + 0.5 + 0.5 + 0.5)
    text = overhead_summary([timing])
    assert "dispatch 1.000 s" in text and "result return 0.500 s" in text
    warm = UnitTiming("v", "w", "h", 11.0, 11.2, 21.2, 21.3, 10.0, 0.01, 0.0, 9.9, None)
    warm.dispatch_seconds = 0.2
    text = overhead_summary([warm, timing])
    assert "medians over 1 units: dispatch 0.200 s" in text
    assert "data load 0.50 s, engine worker start-up 2.00 s" in text
    assert overhead_summary([]) == ""


# -- a real LocalCluster -----------------------------------------------------------------------


@pytest.mark.slow
def test_local_cluster_records_equal_the_local_executors(isolated):
    local = MatrixRunner(parse(), options(isolated / "local"))
    assert local.run().stored == {"success": 4}
    cluster = ClusterRunner(parse(), options(isolated / "cluster"), local_cluster=2)
    summary = cluster.run()
    assert summary.stored == {"success": 4} and not summary.interrupted
    expected = successes_by_key(records_of(isolated / "local" / "results.jsonl"))
    got = successes_by_key(records_of(isolated / "cluster" / "results.jsonl"))
    assert got.keys() == expected.keys()
    for key, record in got.items():
        for path in COMPARED:
            assert field(record, path) == field(expected[key], path), (key, path)
        execution = record["execution"]
        assert execution["executor"] == "local-cluster" and execution["concurrent_units"] == 2
        assert execution["dask_worker_pid"] != os.getpid()
        assert record["worker"]["isolated"] is True  # the engine ran in its own process
        assert record["host"]["host_class"] == expected[key]["host"]["host_class"]
        assert record["timing_quality"] == "contended"  # two units shared this machine
        assert "not comparable" in record["timing_quality_reason"]
    assert len({record["execution"]["dask_worker"] for record in got.values()}) == 2
    assert len(cluster.unit_timings) == 4


class KillsAWorkerMidUnit(ClusterRunner):
    """SIGKILLs the Dask worker process that reports the first epoch of a unit."""

    killed: tuple[int, str] | None = None

    def on_progress(self, message):
        if self.killed is None and message.get("event") == "epoch":
            self.killed = (message["pid"], message["unit"])
            os.kill(message["pid"], signal.SIGKILL)


@pytest.mark.slow
def test_a_killed_dask_worker_hands_its_unit_to_another_and_no_run_is_stored_twice(isolated):
    runner = KillsAWorkerMidUnit(parse(epochs=6), options(isolated / "out"), local_cluster=2)
    summary = runner.run()
    assert runner.killed is not None
    killed_pid, killed_unit = runner.killed
    assert summary.stored == {"success": 4} and not summary.interrupted
    records = records_of(isolated / "out" / "results.jsonl")
    assert Counter(Counter(record["key"] for record in records).values()) == {1: 4}
    [redone] = [
        record
        for record in records
        if f"{record['dataset']}/{record['architecture']} seed {record['seed']}" == killed_unit
    ]
    assert redone["execution"]["dask_worker_pid"] != killed_pid
    assert len(runner.activity.attempts[killed_unit]) == 2  # started twice, stored once


@pytest.mark.slow
def test_a_killed_driver_resumes_without_losing_or_repeating_a_run(isolated):
    text = MATRIX.format(epochs=8).replace("seeds = [0, 1]", "seeds = [0, 1, 2]")
    path = isolated / "cluster.toml"
    path.write_text(text)
    out = isolated / "out"
    store = out / "results.jsonl"
    command = [sys.executable, "-m", "suite.cli", "run", str(path), "--out", str(out)]
    command += ["--local-cluster", "2", "--threads", "1", "--quiet"]
    driver = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (store.exists() and store.read_bytes().count(b"\n") >= 1):
            assert driver.poll() is None, "the driver ended before it could be killed"
            assert time.monotonic() < deadline, "no record within 240 s"
            time.sleep(0.2)
        # the driver, its scheduler, Dask workers and engine workers: all at once
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    before = records_of(store)
    assert 1 <= len(before) < 6
    resumed = ClusterRunner(
        matrix.parse_matrix(text, "cluster.toml"), options(out, resume=True), local_cluster=1
    )
    summary = resumed.run()
    assert summary.already_stored == len(before)
    assert summary.stored == {"success": 6 - len(before)}
    records = records_of(store)
    planned = {key for unit in resumed.plan() for key in unit.keys.values()}
    keys = Counter(record["key"] for record in records)
    assert set(keys) == planned and set(keys.values()) == {1}
