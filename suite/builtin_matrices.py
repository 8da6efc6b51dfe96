"""The benchmark matrices that ship with cnnbench, found by name (``cnnbench run quick``).

The TOML files live in the checkout's top-level ``matrices/`` folder, where the README's
``cnnbench run matrices/quick.toml`` reads them. ``suite/matrices`` is a symbolic link to
that folder, so the same files are the package data of ``suite`` (pyproject.toml's
``package-data``): a wheel carries copies under ``suite/matrices/``, and an editable
install reads them through the link. One folder, no second copy to keep in step.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: the package folder that holds the built-in matrices
PACKAGE = "suite"
FOLDER = "matrices"
SUFFIX = ".toml"


def builtin_matrix_folder() -> Path:
    """The folder of built-in matrix files of the installed package."""
    return Path(str(resources.files(PACKAGE) / FOLDER))


def builtin_matrix_names() -> list[str]:
    """Names of the built-in matrices (file stems), sorted: ``["quick", "seeds", ...]``."""
    folder = builtin_matrix_folder()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob(f"*{SUFFIX}") if path.is_file())


def resolve_matrix_path(argument: str | Path) -> Path:
    """The matrix file that ``cnnbench run ARGUMENT`` means.

    A path to an existing file is that file. Otherwise a bare name (``quick``, ``seeds``,
    ``backends``, ``speed``; with or without ``.toml``, no folder part) names a built-in
    matrix. Anything else comes back unchanged, so the matrix loader reports the missing
    file as it always has.

    Parameters
    ----------
    argument : str or Path
        The command-line argument.

    Returns
    -------
    pathlib.Path
        The file to load.
    """
    path = Path(argument)
    if path.is_file() or path.parent != Path("."):
        return path
    name = path.name.removesuffix(SUFFIX)
    builtin = builtin_matrix_folder() / f"{name}{SUFFIX}"
    return builtin if name and builtin.is_file() else path
