"""CNNBENCH_DATA in the test suite: unset skips with the reason, set-but-wrong fails.

A user's fresh clone has no canonical data, so the tests that read the MNIST files skip
there. CI sets the variable (.ci/run): if it then points at a folder without the files,
those tests must fail, naming the path, instead of skipping and letting CI pass untested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import canonical_mnist_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
MNIST_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: every test that reads the canonical MNIST files, through either fixture
NEEDS_MNIST = ("tests/datasets/test_real_mnist.py", "tests/scratch_cnn/test_learning.py")


def touch_mnist(folder: Path, names: tuple[str, ...] = MNIST_NAMES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")  # presence is what the fixture checks


@pytest.mark.parametrize("value", [None, ""])
def test_unset_variable_skips_with_the_reason(value):
    with pytest.raises(pytest.skip.Exception, match="CNNBENCH_DATA is not set"):
        canonical_mnist_dir(value)


def test_missing_folder_fails_with_the_path(tmp_path):
    absent = tmp_path / "no-such-folder"
    with pytest.raises(pytest.fail.Exception) as failure:
        canonical_mnist_dir(str(absent))
    assert str(absent) in str(failure.value)


def test_folder_without_all_four_files_fails_and_names_them(tmp_path):
    touch_mnist(tmp_path / "mnist", MNIST_NAMES[:3])
    with pytest.raises(pytest.fail.Exception) as failure:
        canonical_mnist_dir(str(tmp_path))
    message = str(failure.value)
    assert str(tmp_path) in message and MNIST_NAMES[3] in message


def test_files_in_mnist_subfolder_or_at_the_top_are_found(tmp_path):
    touch_mnist(tmp_path / "shared" / "mnist")
    touch_mnist(tmp_path / "flat")
    assert canonical_mnist_dir(str(tmp_path / "shared")) == (tmp_path / "shared").resolve()
    assert canonical_mnist_dir(str(tmp_path / "flat")) == (tmp_path / "flat").resolve()


def test_a_path_list_returns_the_first_folder_with_the_files(tmp_path):
    touch_mnist(tmp_path / "second" / "mnist")
    value = os.pathsep.join([str(tmp_path / "first"), str(tmp_path / "second")])
    assert canonical_mnist_dir(value) == (tmp_path / "second").resolve()


def _pytest_session(data: str | None) -> subprocess.CompletedProcess[str]:
    """Run the MNIST-reading tests in a fresh pytest process with CNNBENCH_DATA = ``data``."""
    environment = dict(os.environ)
    environment.pop("CNNBENCH_DATA", None)
    environment.pop("PYTEST_ADDOPTS", None)
    if data is not None:
        environment["CNNBENCH_DATA"] = data
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *NEEDS_MNIST],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_session_without_the_variable_skips_those_tests_cleanly():
    result = _pytest_session(None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 skipped" in result.stdout and "CNNBENCH_DATA is not set" in result.stdout
    assert "error" not in result.stdout.lower()


def test_a_session_with_a_wrong_path_fails_those_tests_with_the_path(tmp_path):
    wrong = tmp_path / "data-that-is-not-here"
    result = _pytest_session(str(wrong))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "4 errors" in result.stdout and "skipped" not in result.stdout
    assert f"CNNBENCH_DATA={wrong} is set" in result.stdout
