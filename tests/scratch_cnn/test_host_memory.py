"""The host-memory policy: active on glibc, off when asked, harmless to call twice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scratch_cnn import host_memory


def run_in_fresh_process(code: str, env_value: str | None = None) -> str:
    import os

    env = dict(os.environ)
    env.pop(host_memory.RETAIN_ENV_VAR, None)
    if env_value is not None:
        env[host_memory.RETAIN_ENV_VAR] = env_value
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(host_memory._glibc() is None, reason="not glibc: the policy is a no-op")
def test_retaining_is_active_idempotent_and_can_be_switched_off():
    code = (
        "from scratch_cnn import host_memory as h\n"
        "print(h.retain_freed_memory(), h.retain_freed_memory())\n"
        "h.release_freed_memory()\n"
    )
    assert run_in_fresh_process(code) == "True True"
    assert run_in_fresh_process(code, env_value="0") == "False False"


@pytest.mark.skipif(host_memory._glibc() is None, reason="not glibc: the policy is a no-op")
def test_training_turns_the_policy_on_for_cpu_models():
    code = (
        "import numpy as np, scratch_cnn as sc\n"
        "from scratch_cnn import host_memory as h\n"
        "m = sc.Sequential([sc.Input((4,)), sc.Dense(3, activation='softmax')], seed=0)\n"
        "m.compile('sgd', 'categorical_crossentropy')\n"
        "print(h._retained, end=' ')\n"
        "m.fit(np.ones((8, 4), 'f4'), np.eye(3, dtype='f4')[np.arange(8) % 3], verbose=0)\n"
        "print(h._retained)\n"
    )
    assert run_in_fresh_process(code) == "False True"
