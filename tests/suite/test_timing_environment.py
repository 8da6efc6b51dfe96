"""Thread control, clocks, peak memory and the environment block."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from suite import environment, timing


def run_python(code: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_configure_threads_limits_blas_and_never_imports_tensorflow():
    out = run_python(
        """
        import json, os, sys
        import numpy
        from suite import timing, environment
        settings = timing.configure_threads(1, keras_backend="tensorflow")
        block = environment.environment_block(settings)
        from threadpoolctl import threadpool_info
        print(json.dumps({
            "tf": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
            "pools": [pool["num_threads"] for pool in threadpool_info()],
            "omp": os.environ["OMP_NUM_THREADS"], "backend": os.environ["KERAS_BACKEND"],
            "block_threads": block["threads"], "blas": block["blas"],
        }))
        """
    )
    assert out["tf"] is False and out["keras"] is False
    assert out["pools"] and set(out["pools"]) == {1}
    assert out["omp"] == "1" and out["backend"] == "tensorflow"
    assert out["block_threads"] == 1
    assert all(pool["num_threads"] == 1 for pool in out["blas"])


@pytest.mark.keras
def test_tensorflow_gets_the_same_thread_count():
    out = run_python(
        """
        import json
        from suite import timing
        settings = timing.configure_threads(1, "tensorflow", configure_keras_backend=True)
        import tensorflow as tf
        print(json.dumps({
            "intra": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter": tf.config.threading.get_inter_op_parallelism_threads(),
            "recorded": settings.keras_intra_op_threads, "notes": settings.notes,
        }))
        """
    )
    assert out == {"intra": 1, "inter": 1, "recorded": 1, "notes": []}


def test_invalid_thread_count_is_refused():
    with pytest.raises(ValueError, match="expected 1 or more"):
        timing.configure_threads(0)


def test_read_clock_synchronizes_before_reading():
    events = []
    start = timing.read_clock(lambda: events.append("sync"))
    with timing.Stopwatch(lambda: events.append("sync")) as watch:
        events.append("work")
    assert events == ["sync", "sync", "work", "sync"]
    assert watch.seconds >= 0.0 and watch.start >= start


def test_peak_rss_covers_a_large_allocation():
    timing.reset_peak_rss()
    before = timing.current_rss_bytes()
    block = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, touched
    peak = timing.peak_rss_bytes()
    assert peak >= before + 32 * 1024 * 1024
    assert peak >= timing.current_rss_bytes() - 4096
    del block


def test_environment_block_describes_machine_and_libraries():
    settings = timing.ThreadSettings(threads=2)
    block = environment.environment_block(settings, device="cpu", keras_backend="jax")
    assert block["cpu"] and block["cores"] >= 1
    assert block["numpy"] == np.__version__
    assert block["python"].count(".") == 2
    assert block["device"] == "cpu" and block["gpu"] is None
    assert block["keras_backend"] == "jax" and block["threads"] == 2
    json.dumps(block)  # plain JSON types only


def test_jax_backend_is_made_single_threaded_without_importing_it():
    out = run_python(
        """
        import json, os, sys
        os.environ.pop("XLA_FLAGS", None)
        from suite import timing
        settings = timing.configure_threads(1, "jax", configure_keras_backend=True)
        print(json.dumps({"flags": os.environ["XLA_FLAGS"], "jax": "jax" in sys.modules,
                          "intra": settings.keras_intra_op_threads}))
        """
    )
    assert "--xla_cpu_multi_thread_eigen=false" in out["flags"]
    assert out["jax"] is False and out["intra"] == 1
