"""The scratch engine's BLAS thread policy (suite.thread_policy)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from suite import thread_policy
from suite.thread_policy import SMALL_STEP_MNK, BlasThreadPolicy, model_gemm_sizes

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture
def applied(monkeypatch):
    """Record the BLAS thread counts the policy sets instead of changing this process's."""
    calls: list[int] = []
    monkeypatch.setattr(thread_policy, "_set_blas_threads", lambda n: calls.append(n) or [n])
    return calls


class FixedMeter:
    def __init__(self, values):
        self.values = list(values)

    def seconds_since_read(self):
        return 1.0

    def read(self):
        return self.values.pop(0)


def small_model(layers):
    import scratch_cnn

    model = scratch_cnn.Sequential(layers)
    model.build((8, 8, 1))
    return model


def test_gemm_sizes_of_dense_and_conv_layers():
    from scratch_cnn import Conv2D, Dense, Flatten, MaxPooling2D

    model = small_model(
        [Conv2D(4, 3, padding="same"), MaxPooling2D(2), Flatten(), Dense(5), Dense(3)]
    )
    assert model_gemm_sizes(model, batch_size=10) == [
        (10 * 8 * 8, 4, 3 * 3 * 1),
        (10, 5, 4 * 4 * 4),
        (10, 3, 5),
    ]


def test_never_more_threads_than_usable_cores(applied):
    policy = BlasThreadPolicy(threads=64, policy="auto", cpus=[0, 1])
    assert policy.cap == 2 and applied == [2]
    assert BlasThreadPolicy(threads=64, policy="off", cpus=[0, 1]).cap == 64


def test_small_gemms_get_one_thread(applied):
    from scratch_cnn import Dense, Flatten

    model = small_model([Flatten(), Dense(16), Dense(10)])
    policy = BlasThreadPolicy(threads=2, policy="size", cpus=[0, 1])
    assert policy.for_model(model, batch_size=32) == 1
    assert policy.largest_gemm_mnk == 32 * 16 * 64
    assert policy.step_mnk == 32 * 16 * 64 + 32 * 10 * 16 < SMALL_STEP_MNK
    assert applied == [2, 1]
    # "off" and "load" leave the size alone
    for name in ("off", "load"):
        assert BlasThreadPolicy(2, name, cpus=[0, 1]).for_model(model, 32) == 2


def test_large_gemms_keep_the_threads(applied, monkeypatch):
    monkeypatch.setattr(thread_policy, "SMALL_STEP_MNK", 10)
    from scratch_cnn import Dense, Flatten

    model = small_model([Flatten(), Dense(16), Dense(10)])
    assert BlasThreadPolicy(2, "auto", cpus=[0, 1]).for_model(model, 32) == 2


@pytest.mark.parametrize(
    ("cores", "other", "expected"),
    [
        (2, None, 2),  # unknown: keep the cap
        (2, 0.0, 2),
        (2, 0.25, 2),  # within the margin (daemons, the harness)
        (2, 0.67, 1),  # one busy process sharing the cores with 2 threads
        (2, 1.0, 1),
        (2, 1.9, 1),  # never below 1
        (4, 0.8, 3),
        (4, 2.1, 2),
    ],
)
def test_threads_for_load(applied, cores, other, expected):
    policy = BlasThreadPolicy(threads=cores, policy="load", cpus=list(range(cores)))
    assert policy.threads_for_load(other) == expected


def test_before_epoch_follows_the_load_and_is_recorded(applied):
    policy = BlasThreadPolicy(threads=2, policy="auto", cpus=[0, 1])
    policy._meter = FixedMeter([0.02, 0.9, 1.0, 0.05])
    assert [policy.before_epoch() for _ in range(4)] == [2, 1, 1, 2]
    assert applied == [2, 1, 2]  # set only when it changes
    record = policy.as_dict()
    json.dumps(record)
    assert record["epoch_blas_threads"] == [2, 1, 1, 2]
    assert record["epoch_other_cores_before"] == [0.02, 0.9, 1.0, 0.05]
    assert record["policy"] == "auto" and record["cap"] == 2


def test_for_epoch_sizes_each_model_once(applied):
    from scratch_cnn import Dense, Flatten

    model = small_model([Flatten(), Dense(16), Dense(10)])
    policy = BlasThreadPolicy(threads=2, policy="auto", cpus=[0, 1])
    policy._meter = FixedMeter([0.0, 0.0])
    assert [policy.for_epoch(model, 32) for _ in range(2)] == [1, 1]
    assert policy.as_dict()["largest_gemm_mnk"] == 32 * 16 * 64
    assert applied == [2, 1]


def test_steps_the_engine_holds_to_one_thread_are_recorded(applied):
    """A step above the policy's 1-thread size but light by the engine's rule."""
    import scratch_cnn
    from scratch_cnn import Dense, Flatten

    model = scratch_cnn.Sequential([Flatten(), Dense(512), Dense(10)])
    model.build((28, 28, 1))
    policy = BlasThreadPolicy(threads=2, policy="auto", cpus=[0, 1])
    policy._meter = FixedMeter([0.0, 0.0, 0.0])
    assert [policy.for_epoch(model, 128) for _ in range(2)] == [2, 2]
    record = policy.as_dict()
    assert record["step_mnk"] >= SMALL_STEP_MNK and record["cap"] == 2
    assert record["one_thread_steps"] is True
    assert record["epoch_blas_threads"] == [2, 2] and record["epoch_step_threads"] == [1, 1]
    # eight times the batch is worth sharing: the steps run on the threads set
    assert policy.for_epoch(model, 1024) == 2
    record = policy.as_dict()
    assert record["one_thread_steps"] is False and record["batch_shards"] == 2
    assert record["epoch_step_threads"] == [1, 1, 2]  # each epoch as it ran


class ShardedModel:
    """Stands for a built scratch model: no GEMMs to size, ``shards`` per batch."""

    def __init__(self, shards):
        self.layers = []
        self.shards = shards
        self.planned = []

    def shard_count(self, batch_size):
        from scratch_cnn import parallel

        self.planned.append(parallel.planned_threads())
        return self.shards


@pytest.mark.parametrize(("shards", "expected"), [(2, [2, 2, 2]), (1, [2, 1, 2])])
def test_sharded_models_keep_their_threads_under_load(applied, monkeypatch, shards, expected):
    monkeypatch.setattr(thread_policy, "SMALL_STEP_MNK", 0)
    model = ShardedModel(shards)
    policy = BlasThreadPolicy(threads=2, policy="auto", cpus=[0, 1])
    policy._meter = FixedMeter([0.0, 1.0, 0.0])
    assert [policy.for_epoch(model, 128) for _ in range(3)] == expected
    assert model.planned == [2]  # asked once, for the cap
    assert policy.as_dict()["batch_shards"] == shards
    assert policy.as_dict()["epoch_other_cores_before"] == [0.0, 1.0, 0.0]
    # a model without the engine's one-thread rule: the steps run on the threads set
    assert policy.as_dict()["one_thread_steps"] is None
    assert policy.as_dict()["epoch_step_threads"] == expected


def test_the_shard_count_of_a_real_model_follows_its_work():
    import scratch_cnn
    from scratch_cnn import Conv2D, Dense, Flatten

    heavy = scratch_cnn.Sequential([Conv2D(64, 3, padding="same"), Flatten(), Dense(10)])
    heavy.build((32, 32, 3))
    light = small_model([Flatten(), Dense(10)])
    assert thread_policy._batch_shards(heavy, 128, 2) == 2
    assert thread_policy._batch_shards(light, 128, 2) == 1
    assert thread_policy._batch_shards(heavy, 128, 1) == 1
    assert thread_policy._batch_shards(object(), 128, 2) == 1  # not a scratch model


def test_off_ignores_the_load(applied):
    policy = BlasThreadPolicy(threads=2, policy="off", cpus=[0, 1])
    assert policy._meter is None
    assert [policy.before_epoch() for _ in range(2)] == [2, 2]


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown thread policy"):
        BlasThreadPolicy(2, "fast")
    with pytest.raises(ValueError):
        BlasThreadPolicy(0)


def test_policy_drops_threads_beside_a_real_busy_process():
    """In a fresh process: the policy sees a real neighbour and OpenBLAS gets fewer threads."""
    from suite.contention import usable_cpus

    cores = len(usable_cpus())
    if cores < 2:
        pytest.skip("one usable core: nothing to drop")
    code = f"""
        import json, sys, time
        sys.path.insert(0, {str(TOOLS)!r})
        from load_generator import CompetingLoad
        from threadpoolctl import threadpool_info
        from suite.thread_policy import BlasThreadPolicy
        policy = BlasThreadPolicy(threads={cores}, policy="load")
        with CompetingLoad(processes=1, seconds=30):
            time.sleep(0.5)
            chosen = policy.before_epoch()
            blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        print(json.dumps({{"chosen": chosen, "blas": blas, "record": policy.as_dict()}}))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["chosen"] < cores, out
    assert set(out["blas"]) == {out["chosen"]}


@pytest.fixture(scope="module")
def slowdown():
    """``tools/slowdown.py`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("cnnbench_tools_slowdown", TOOLS / "slowdown.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slowdown_tool_table(slowdown):
    results = [
        {"engine": "keras", "net": "lenet5", "quiet_seconds": 1.0, "slowdown": {"1": 1.2}},
        {
            "engine": "scratch",
            "net": "lenet5",
            "quiet_seconds": 0.5,
            "slowdown": {"1": 1.1},
            "cpu_time_factor": {"1": 0.98},
        },
    ]
    table = slowdown.markdown_table(results, [1])
    assert table.splitlines()[0] == (
        "| net | scratch quiet s/epoch | scratch x1 busy | keras quiet s/epoch | keras x1 busy |"
    )
    assert table.splitlines()[2] == "| lenet5 | 0.500 | 1.10 (0.98) | 1.000 | 1.20 |"


def test_slowdown_tool_sees_each_threads_share(slowdown):
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("no /proc/self/task on this system")
    spinning = threading.Event()
    stop = threading.Event()
    spinner_tid: list[int] = []

    def spin() -> None:
        spinner_tid.append(threading.get_native_id())
        spinning.set()
        while not stop.is_set():
            sum(range(1000))

    before = slowdown.thread_cpu_seconds()
    thread = threading.Thread(target=spin)
    started = time.perf_counter()
    thread.start()
    spinning.wait(5)
    time.sleep(0.5)
    after = slowdown.thread_cpu_seconds()
    stop.set()
    thread.join()
    assert spinner_tid[0] in after and spinner_tid[0] not in before
    assert after[spinner_tid[0]] > 0.05  # it ran for about half a second
    cores = slowdown.thread_cores(before, after, time.perf_counter() - started)
    assert cores == sorted(cores, reverse=True) and cores[0] > 0.1
    assert slowdown.thread_cores({1: 0.0}, {1: 0.001, 2: 0.5}, 1.0) == [0.5]


def test_slowdown_tool_thread_table(slowdown):

    def phase(processes: int, cores: list[float], per_wall: float) -> dict:
        return {"processes": processes, "thread_cores": cores, "cpu_per_wall": per_wall}

    results = [
        {"engine": "keras", "net": "lenet5", "phases": [phase(0, [0.9, 0.8], 1.7)]},
        {
            "engine": "scratch",
            "net": "lenet5",
            "phases": [phase(0, [0.95, 0.9], 1.85), phase(2, [0.32, 0.29], 0.611)],
        },
    ]
    lines = slowdown.thread_table(results, 2).splitlines()
    assert lines[0] == (
        "| net | scratch: cores per thread | scratch: process"
        " | keras: cores per thread | keras: process |"
    )
    # keras has no phase beside 2 busy processes: dashes, not another load's figures
    assert lines[2] == "| lenet5 | 0.32, 0.29 | 0.61 | - | - |"
