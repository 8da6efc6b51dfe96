"""Built-in matrices: found by bare name, shipped in the wheel, the same files as matrices/."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from suite.builtin_matrices import (
    builtin_matrix_folder,
    builtin_matrix_names,
    resolve_matrix_path,
)
from suite.matrix import load_matrix

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT_MATRICES = REPO_ROOT / "matrices"


def test_the_package_folder_is_the_checkouts_matrices_folder():
    # suite/matrices links to matrices/: the README's `cnnbench run matrices/quick.toml`
    # and `cnnbench run quick` read the same file.
    assert builtin_matrix_folder().resolve() == CHECKOUT_MATRICES.resolve()
    assert builtin_matrix_names() == sorted(p.stem for p in CHECKOUT_MATRICES.glob("*.toml"))
    assert {"quick", "seeds"} <= set(builtin_matrix_names())


@pytest.mark.parametrize("argument", ["quick", "quick.toml", "seeds", "seeds.toml"])
def test_a_bare_name_resolves_to_the_builtin_file(argument, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing of that name here: only the built-in can match
    path = resolve_matrix_path(argument)
    assert path.is_absolute() and path.is_file()
    stem = argument.removesuffix(".toml")
    assert path.read_bytes() == (CHECKOUT_MATRICES / f"{stem}.toml").read_bytes()


def test_an_existing_file_wins_over_a_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick.toml").write_text('name = "mine"\n')
    assert resolve_matrix_path("quick.toml") == Path("quick.toml")
    assert resolve_matrix_path(Path("quick.toml")) == Path("quick.toml")


@pytest.mark.parametrize(
    "argument", ["no_such_matrix", "elsewhere/quick.toml", "matrices/none.toml", ""]
)
def test_anything_else_comes_back_unchanged(argument, tmp_path, monkeypatch):
    # The loader then reports the missing file as it always has.
    monkeypatch.chdir(tmp_path)
    assert resolve_matrix_path(argument) == Path(argument)


@pytest.mark.parametrize("name", builtin_matrix_names())
def test_every_builtin_matrix_is_valid(name, tmp_path, monkeypatch):
    path = resolve_matrix_path(name).resolve()
    # speed.toml trains on an idx: folder of random images that tools/make_random_images.py
    # writes (its header says how); write a small one where the matrix looks for it
    monkeypatch.chdir(tmp_path)
    if "idx:results/random32x32x3" in path.read_text():
        script = REPO_ROOT / "tools" / "make_random_images.py"
        subprocess.run(
            [sys.executable, str(script), "results/random32x32x3", "--train", "50", "--test", "10"],
            check=True,
            capture_output=True,
        )
    matrix = load_matrix(path)
    assert matrix.cells


def _copy_checkout(destination: Path) -> Path:
    """The source tree as a clone has it (symbolic links kept), without local outputs."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
        ".benchmarks", "results", "report",
    )  # fmt: skip
    return Path(shutil.copytree(REPO_ROOT, destination, symlinks=True, ignore=ignore))


def test_the_wheel_ships_every_builtin_matrix(tmp_path):
    try:
        setuptools_version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("setuptools is not installed: no offline wheel build")
    if tuple(int(part) for part in setuptools_version.split(".")[:2]) < (70, 1):
        # the test extra asks for >= 70.1, which builds wheels without the wheel package
        pytest.skip(f"setuptools {setuptools_version} < 70.1: no offline wheel build")
    source = _copy_checkout(tmp_path / "src")
    # No build isolation: nothing is downloaded, the environment's setuptools builds it.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp_path / "wheel"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheel").glob("cnnbench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            Path(name).stem: archive.read(name)
            for name in archive.namelist()
            if name.startswith("suite/matrices/") and name.endswith(".toml")
        }
        assert "suite/builtin_matrices.py" in archive.namelist()
    expected = {path.stem: path.read_bytes() for path in CHECKOUT_MATRICES.glob("*.toml")}
    assert shipped == expected
