"""Project-wide pytest fixtures and the skip rules for the ``gpu`` marker."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

#: the variable that names the folder(s) of canonical data files (os.pathsep-separated)
DATA_ENV = "CNNBENCH_DATA"


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


def canonical_mnist_dir(value: str | None) -> Path:
    """The folder of canonical MNIST files named by ``CNNBENCH_DATA``'s value.

    Unset (or empty) means "no canonical data here", as on a user's fresh clone: the test
    is skipped with that reason. Set means the files are expected: a folder that does not
    hold them fails the test with the path, so a wrong path in CI is never a silent skip.

    Parameters
    ----------
    value : str or None
        The variable's value: one or more folders separated by ``os.pathsep``; the four
        MNIST files may sit in a folder's ``mnist/`` sub-folder or at its top, as the
        loaders accept (datasets/files.py).

    Returns
    -------
    pathlib.Path
        The first listed folder holding all four files (pass it as ``data_dir``).
    """
    from datasets.sources import MNIST

    if not value:
        pytest.skip(f"{DATA_ENV} is not set: no canonical MNIST files (CI sets ../shared/data)")
    names = [source_file.filename for source_file in MNIST.files]
    looked_in = []
    for entry in filter(None, value.split(os.pathsep)):
        directory = Path(entry).expanduser().resolve()
        for folder in (directory / MNIST.name, directory):
            if all((folder / name).is_file() for name in names):
                return directory
        looked_in.append(str(directory))
    pytest.fail(
        f"{DATA_ENV}={value} is set but no folder in it holds the MNIST files "
        f"({', '.join(names)}) in mnist/ or at its top; looked in {', '.join(looked_in)}. "
        f"Point {DATA_ENV} at the folder that holds mnist/ (../shared/data on this "
        "project's machines), or unset it to skip the tests that need the files.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def cnnbench_data() -> Path:
    """The canonical data folder from ``$CNNBENCH_DATA`` (see :func:`canonical_mnist_dir`)."""
    return canonical_mnist_dir(os.environ.get(DATA_ENV))
