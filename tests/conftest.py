"""Project-wide pytest fixtures and the skip rules for the ``gpu`` marker."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

#: ../shared/data beside the checkout, used when CNNBENCH_DATA is not set.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _gpu_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: CUDA raises its own error types
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests cleanly, with the reason, where CuPy or a CUDA device is missing."""
    if _gpu_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CuPy and a CUDA device (none here)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def cnnbench_data() -> Path:
    """The canonical data folder (``$CNNBENCH_DATA``); skips the test when it is absent."""
    value = os.environ.get("CNNBENCH_DATA")
    if not value:
        pytest.skip("CNNBENCH_DATA is not set (CI sets it to ../shared/data)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"CNNBENCH_DATA={value} is not a directory")
    return path
