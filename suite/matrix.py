"""Benchmark matrices: TOML files of data sets x architectures x engines x seeds.

A matrix file holds optional ``name`` and ``description``, a ``[defaults]`` table of
settings, and one or more ``[[experiment]]`` blocks. Each experiment crosses its
``datasets`` with its ``architectures``; every pair is a *cell*, trained by each engine
in ``engines`` with each seed in ``seeds``. Settings resolve in this order (later wins):
built-in defaults (:data:`DEFAULT_SETTINGS`), ``[defaults]``, the experiment block, then
``[experiment.overrides.<architecture>]`` or ``[experiment.overrides."<dataset>/<architecture>"]``
for a single cell. A training hyperparameter left unset (``None``) takes the value of the
architecture's own set-up in the catalog (``suite.catalog.hyperparameters``: the seed
document's optimizer, learning rate, batch size, epochs, initializer, L2, dropout), so every
cell resolves to complete hyperparameters before anything runs::

    name = "example"

    [defaults]
    engines = ["scratch", "keras"]
    seeds = [0, 1, 2]
    epochs = 10

    [[experiment]]
    name = "digits"
    datasets = ["digits8x8"]
    architectures = ["densenet2_20", "cnn1_3"]
    optimizer = "sgd"
    learning_rate = 0.1

    [experiment.overrides.cnn1_3]
    optimizer = "adam"
    learning_rate = 0.001

:func:`load_matrix` validates the whole file before anything runs and raises one
:class:`MatrixError` listing every problem (unknown keys, values of the wrong type or
range, unknown data sets or architectures, architectures that do not fit a data set's
image shape, duplicate cells), each with the file and line where the key or value sits.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.results import configuration_hash

#: the engines a matrix runs when it names none (``keras`` is the KERAS_BACKEND default)
ENGINES = ("scratch", "keras")

#: training hyperparameters; None means "the architecture's own value from the catalog"
HYPERPARAMETER_KEYS = (
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "initializer",
    "l2",
    "dropout",
    "momentum",
    "nesterov",
    "beta_1",
    "beta_2",
    "epsilon",
)

#: how the harness runs a cell, with built-in defaults
HARNESS_DEFAULTS: dict[str, Any] = {
    "engines": list(ENGINES),
    "seeds": [0],
    "dtype": "float32",
    "scaling": "unit",
    "validation_size": None,  # None: the data set's default (5000, or 10% for digits8x8)
    "time_budget_seconds": None,
    "same_init": True,
    "shuffle": True,
}

#: how reports judge a cell's runs, with built-in defaults. Stored with each record (in
#: its ``hyperparameters``) but never part of the run key or configuration hash: changing
#: a reporting setting must not make stored runs look new.
REPORTING_DEFAULTS: dict[str, Any] = {
    # validation accuracy of the time-to-accuracy measure; None: a fraction of the best
    # any engine reached in the cell (reports.time_to_accuracy)
    "target_accuracy": None,
}

#: every setting a matrix may give, with its built-in default
DEFAULT_SETTINGS: dict[str, Any] = {
    **dict.fromkeys(HYPERPARAMETER_KEYS),
    **HARNESS_DEFAULTS,
    **REPORTING_DEFAULTS,
}

#: settings that say which runs happen rather than what a run computes
RUN_SELECTION_KEYS = ("engines", "seeds")

OPTIMIZERS = ("sgd", "adam")
SCALINGS = ("unit", "standardize")
DTYPES = ("float32", "float64")

TOP_LEVEL_KEYS = ("name", "description", "defaults", "experiment")
EXPERIMENT_KEYS = ("name", "description", "datasets", "architectures", "overrides")


@dataclass(frozen=True)
class DatasetShape:
    """What the validator needs to know about a data set without loading it."""

    input_shape: tuple[int, ...]
    num_classes: int


#: returns the shape of a data set, or raises KeyError/ValueError for an unknown one
DatasetLookup = Callable[[str], DatasetShape]
#: returns None when the architecture fits the shape, else a sentence saying why not
ShapeCheck = Callable[[str, tuple[int, ...], int], str | None]
#: (architecture, overrides without None values) -> complete hyperparameters, or ValueError
HyperparameterResolver = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Problem:
    """One problem found in a matrix file."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class MatrixError(ValueError):
    """A matrix file with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the benchmark matrix; fix "
            f"{'them' if count != 1 else 'it'} and run again:\n{lines}"
        )


@dataclass(frozen=True)
class Cell:
    """One data set x architecture pair of an experiment, with its resolved settings."""

    experiment: str
    dataset: str
    architecture: str
    settings: dict[str, Any] = field(hash=False, compare=False)
    hyperparameters: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        """``experiment/dataset/architecture``, what ``--only`` matches."""
        return f"{self.experiment}/{self.dataset}/{self.architecture}"

    @property
    def engines(self) -> list[str]:
        """Engines that train this cell."""
        return list(self.settings["engines"])

    @property
    def seeds(self) -> list[int]:
        """Seeds this cell is trained with."""
        return list(self.settings["seeds"])

    @property
    def epochs(self) -> int:
        """Epochs each engine trains (resolved)."""
        return int(self.hyperparameters["epochs"])

    @property
    def batch_size(self) -> int:
        """Training batch size (resolved)."""
        return int(self.hyperparameters["batch_size"])

    def overrides(self) -> dict[str, Any]:
        """The hyperparameters the matrix sets (for ``suite.catalog.build``)."""
        return {
            key: self.settings[key]
            for key in HYPERPARAMETER_KEYS
            if self.settings.get(key) is not None
        }

    def harness_settings(self) -> dict[str, Any]:
        """How the harness runs the cell (data type, scaling, sizes, budget, init, order)."""
        return {
            key: self.settings[key] for key in HARNESS_DEFAULTS if key not in RUN_SELECTION_KEYS
        }

    def reporting_settings(self) -> dict[str, Any]:
        """How reports judge the cell's runs (kept out of :meth:`configuration`)."""
        return {key: self.settings.get(key, REPORTING_DEFAULTS[key]) for key in REPORTING_DEFAULTS}

    def run_settings(self) -> dict[str, Any]:
        """Resolved hyperparameters, harness and reporting settings in one flat dictionary."""
        return {**self.hyperparameters, **self.harness_settings(), **self.reporting_settings()}

    def configuration(self) -> dict[str, Any]:
        """What defines a run of this cell apart from split, engine and seed (for the key)."""
        return {
            "dataset": self.dataset,
            "architecture": self.architecture,
            "hyperparameters": dict(self.hyperparameters),
            "harness": self.harness_settings(),
        }

    def configuration_hash(self) -> str:
        """sha256 of :meth:`configuration`."""
        return configuration_hash(self.configuration())

    def matches(self, patterns: Iterable[str]) -> bool:
        """Whether a glob matches ``experiment/dataset/arch`` or ``dataset/arch``."""
        short = f"{self.dataset}/{self.architecture}"
        return any(
            fnmatch.fnmatchcase(self.name, pattern) or fnmatch.fnmatchcase(short, pattern)
            for pattern in patterns
        )


@dataclass
class Matrix:
    """A validated matrix: its cells in file order."""

    path: str
    name: str
    description: str
    cells: list[Cell]

    def select(self, patterns: Sequence[str] | None) -> list[Cell]:
        """Cells matching any of the globs (every cell when ``patterns`` is empty)."""
        if not patterns:
            return list(self.cells)
        return [cell for cell in self.cells if cell.matches(patterns)]

    def run_count(self, cells: Sequence[Cell] | None = None) -> int:
        """Number of (cell, seed, engine) runs."""
        cells = self.cells if cells is None else cells
        return sum(len(cell.seeds) * len(cell.engines) for cell in cells)


class _Locator:
    """Finds the line of a key or value in the raw TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.experiment_starts = [
            number
            for number, line in enumerate(self.lines, start=1)
            if re.match(r"\s*\[\[\s*experiment\s*\]\]", line)
        ]

    def _section(self, experiment_index: int | None) -> tuple[int, int]:
        if experiment_index is None:
            end = self.experiment_starts[0] - 1 if self.experiment_starts else len(self.lines)
            return 1, end
        start = self.experiment_starts[experiment_index]
        following = self.experiment_starts[experiment_index + 1 :]
        return start, (following[0] - 1 if following else len(self.lines))

    def find(self, experiment_index: int | None, key: str | None, value: Any = None) -> int | None:
        start, end = self._section(experiment_index)
        patterns = []
        if value is not None:
            patterns.append(re.escape(f'"{value}"') if isinstance(value, str) else None)
        if key is not None:
            patterns.append(rf"(^|[\s.\[{{,]){re.escape(key)}\s*(=|\])")
        for pattern in filter(None, patterns):
            for number in range(start, end + 1):
                text = self.lines[number - 1].split("#", 1)[0]
                if re.search(pattern, text):
                    return number
        return start if experiment_index is not None else None


def _type_problem(key: str, value: Any) -> str | None:
    """Check one setting's type and range; return a sentence when it is wrong."""

    def positive_int(item: Any) -> bool:
        return isinstance(item, int) and not isinstance(item, bool) and item > 0

    def number(item: Any) -> bool:
        return isinstance(item, int | float) and not isinstance(item, bool)

    def choice(options: Sequence[str]) -> str | None:
        if value not in options:
            return f"{key} is {value!r}; expected one of {', '.join(map(repr, options))}"
        return None

    if key == "engines":
        return _engines_problem(value)
    elif key == "seeds":
        if (
            not isinstance(value, list)
            or not value
            or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in value)
            or len(set(value)) != len(value)
        ):
            return f"seeds is {value!r}; expected a non-empty list of distinct integers >= 0"
    elif key in ("epochs", "batch_size"):
        if not positive_int(value):
            return f"{key} is {value!r}; expected an integer > 0"
    elif key == "learning_rate":
        if not number(value) or value <= 0:
            return f"learning_rate is {value!r}; expected a number > 0"
    elif key in ("momentum", "l2"):
        if not number(value) or value < 0:
            return f"{key} is {value!r}; expected a number >= 0"
    elif key in ("beta_1", "beta_2"):
        if not number(value) or not 0 <= value < 1:
            return f"{key} is {value!r}; expected a number in [0, 1)"
    elif key == "epsilon":
        if not number(value) or value <= 0:
            return f"epsilon is {value!r}; expected a number > 0"
    elif key == "dropout":
        if not number(value) or not 0 <= value < 1:
            return f"dropout is {value!r}; expected a rate in [0, 1)"
    elif key == "time_budget_seconds":
        if not number(value) or value <= 0:
            return f"time_budget_seconds is {value!r}; expected seconds > 0 (omit for none)"
    elif key == "target_accuracy":
        if not number(value) or not 0 < value <= 1:
            return f"target_accuracy is {value!r}; expected a validation accuracy in (0, 1]"
    elif key == "validation_size":
        # a count of images, or a fraction of the training part
        count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        if not (count or (isinstance(value, float) and 0 <= value < 1)):
            return f"validation_size is {value!r}; expected a count >= 0 or a fraction in [0, 1)"
    elif key in ("nesterov", "same_init", "shuffle"):
        if not isinstance(value, bool):
            return f"{key} is {value!r}; expected true or false"
    elif key == "optimizer":
        return choice(OPTIMIZERS)
    elif key == "initializer":
        if not isinstance(value, str):
            return f"initializer is {value!r}; expected a Keras name or 'random_normal(STD)'"
    elif key == "scaling":
        return choice(SCALINGS)
    elif key == "dtype":
        return choice(DTYPES)
    return None


def _as_name_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _engines_problem(value: Any) -> str | None:
    """Why an ``engines`` list is invalid (engine specs, see ``suite.engines.spec``)."""
    from suite.engines.spec import EngineSpecError, known_engine_specs, parse_engine_spec

    expected = f"a non-empty list of engine specs such as {known_engine_specs()} or 'keras'"
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        return f"engines is {value!r}; expected {expected}"
    names = []
    for text in value:
        try:
            names.append(parse_engine_spec(text).name)
        except EngineSpecError as error:
            return f"engines: {error}"
    if len(set(names)) != len(names):
        return f"engines is {value!r}; an engine is named twice"
    return None


def default_dataset_lookup(name: str) -> DatasetShape:
    """Shape of a data set from ``datasets.info`` (only ``idx:PATH`` reads its files)."""
    import datasets

    info = datasets.info(name)
    return DatasetShape(tuple(int(size) for size in info.input_shape), int(info.num_classes))


def default_architecture_names() -> list[str]:
    """Names of the catalog's architectures (``suite.catalog``)."""
    from suite import catalog

    for attribute in ("architecture_names", "names"):
        function = getattr(catalog, attribute, None)
        if callable(function):
            return list(function())
    return list(catalog.ARCHITECTURES)


def default_hyperparameter_resolver(architecture: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Complete hyperparameters from the catalog's set-up of ``architecture`` and overrides."""
    from suite import catalog

    return catalog.hyperparameters(architecture, **overrides).as_dict()


def default_shape_check(
    architecture: str, input_shape: tuple[int, ...], num_classes: int
) -> str | None:
    """Ask the catalog whether an architecture fits an input shape; None when it does."""
    from suite import catalog

    check = getattr(catalog, "check_input_shape", None)
    if check is None:
        return None
    try:
        outcome = check(architecture, input_shape, num_classes)
    except ValueError as error:
        return str(error)
    if outcome is None or outcome is True:
        return None
    if outcome is False:
        return f"{architecture} does not fit input shape {input_shape}"
    if isinstance(outcome, list | tuple):
        return "; ".join(map(str, outcome)) or None
    return str(outcome)


def _load_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatrixError(
            [Problem(str(path), None, "no such matrix file; give the path of a .toml matrix")]
        ) from None


def load_matrix(
    path: str | Path,
    dataset_lookup: DatasetLookup | None = None,
    architecture_names: Iterable[str] | None = None,
    shape_check: ShapeCheck | None = None,
    hyperparameter_resolver: HyperparameterResolver | None = None,
) -> Matrix:
    """Read and validate a matrix file; raise one error listing every problem.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    dataset_lookup : callable, optional
        Data set name -> :class:`DatasetShape`; ``datasets.info`` when omitted.
    architecture_names : iterable of str, optional
        Known architectures; the catalog's when omitted.
    shape_check : callable, optional
        ``(architecture, input_shape, num_classes) -> None or reason``; the catalog's
        check when omitted.
    hyperparameter_resolver : callable, optional
        ``(architecture, overrides) -> complete hyperparameters``, raising ValueError for
        invalid ones; ``suite.catalog.hyperparameters`` when omitted.

    Returns
    -------
    Matrix
        The cells in file order.

    Raises
    ------
    MatrixError
        With every problem found, each with file and line where possible.
    """
    path = Path(path)
    text = _load_text(path)
    return parse_matrix(
        text, str(path), dataset_lookup, architecture_names, shape_check, hyperparameter_resolver
    )


def parse_matrix(
    text: str,
    path: str = "<matrix>",
    dataset_lookup: DatasetLookup | None = None,
    architecture_names: Iterable[str] | None = None,
    shape_check: ShapeCheck | None = None,
    hyperparameter_resolver: HyperparameterResolver | None = None,
) -> Matrix:
    """Validate matrix text (see :func:`load_matrix`, which reads the file first)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MatrixError([Problem(path, None, f"not valid TOML: {error}")]) from None
    dataset_lookup = dataset_lookup or default_dataset_lookup
    known_architectures = set(
        default_architecture_names() if architecture_names is None else architecture_names
    )
    shape_check = shape_check or default_shape_check
    hyperparameter_resolver = hyperparameter_resolver or default_hyperparameter_resolver
    locator = _Locator(text)
    problems: list[Problem] = []

    def report(experiment: int | None, key: str | None, message: str, value: Any = None) -> None:
        problems.append(Problem(path, locator.find(experiment, key, value), message))

    for key in document:
        if key not in TOP_LEVEL_KEYS:
            report(
                None, key, f"unknown top-level key {key!r}; allowed: {', '.join(TOP_LEVEL_KEYS)}"
            )

    def check_settings(table: Any, experiment: int | None, where: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            report(experiment, None, f"{where} must be a table of settings, not {table!r}")
            return {}
        accepted = {}
        for key, value in table.items():
            if key not in DEFAULT_SETTINGS:
                report(
                    experiment,
                    key,
                    f"unknown setting {key!r} in {where}; "
                    f"known settings: {', '.join(DEFAULT_SETTINGS)}",
                )
                continue
            message = _type_problem(key, value)
            if message:
                report(experiment, key, f"{where}: {message}")
                continue
            accepted[key] = value
        return accepted

    defaults = {
        **DEFAULT_SETTINGS,
        **check_settings(document.get("defaults", {}), None, "[defaults]"),
    }

    experiments = document.get("experiment", [])
    if not isinstance(experiments, list) or not experiments:
        report(None, None, "no [[experiment]] block; a matrix needs at least one")
        experiments = []

    dataset_shapes: dict[str, DatasetShape | None] = {}

    def shape_of(name: str, experiment: int) -> DatasetShape | None:
        if name not in dataset_shapes:
            try:
                dataset_shapes[name] = dataset_lookup(name)
            except (LookupError, ValueError, OSError) as error:  # unknown key, absent folder
                detail = str(error).strip("'\"")
                report(experiment, "datasets", f"unknown data set {name!r}: {detail}", name)
                dataset_shapes[name] = None
        return dataset_shapes[name]

    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for index, block in enumerate(experiments):
        label = f"[[experiment]] #{index + 1}"
        if not isinstance(block, dict):
            report(index, None, f"{label} must be a table")
            continue
        experiment_name = block.get("name", f"experiment{index + 1}")
        if not isinstance(experiment_name, str) or not re.fullmatch(r"[\w.-]+", experiment_name):
            report(
                index, "name", f"{label}: name {experiment_name!r} must be letters, digits, _ . -"
            )
            experiment_name = f"experiment{index + 1}"
        label = f"experiment {experiment_name!r}"
        settings_part = {key: value for key, value in block.items() if key not in EXPERIMENT_KEYS}
        experiment_settings = {**defaults, **check_settings(settings_part, index, label)}
        datasets_list = _as_name_list(block.get("datasets"))
        architectures_list = _as_name_list(block.get("architectures"))
        if datasets_list is None:
            report(
                index, "datasets", f"{label}: datasets must be a name or a non-empty list of names"
            )
            datasets_list = []
        if architectures_list is None:
            report(
                index,
                "architectures",
                f"{label}: architectures must be a name or a non-empty list of names",
            )
            architectures_list = []
        for architecture in architectures_list:
            if architecture not in known_architectures:
                report(
                    index,
                    "architectures",
                    f"{label}: unknown architecture {architecture!r}; "
                    f"known: {', '.join(sorted(known_architectures))}",
                    architecture,
                )
        overrides = block.get("overrides", {})
        if not isinstance(overrides, dict):
            report(index, "overrides", f"{label}: overrides must be a table of tables")
            overrides = {}
        cell_names = {
            *architectures_list,
            *(f"{d}/{a}" for d in datasets_list for a in architectures_list),
        }
        checked_overrides = {}
        for target, table in overrides.items():
            if target not in cell_names:
                report(
                    index,
                    target,
                    f"{label}: override {target!r} matches no cell; use an architecture of this "
                    "experiment or 'dataset/architecture'",
                )
                continue
            checked_overrides[target] = check_settings(table, index, f"{label} override {target!r}")

        for dataset in datasets_list:
            shape = shape_of(dataset, index)
            for architecture in architectures_list:
                if architecture not in known_architectures:
                    continue
                settings = {
                    **experiment_settings,
                    **checked_overrides.get(architecture, {}),
                    **checked_overrides.get(f"{dataset}/{architecture}", {}),
                }
                if shape is not None:
                    reason = shape_check(architecture, shape.input_shape, shape.num_classes)
                    if reason:
                        report(
                            index,
                            "architectures",
                            f"{label}: {architecture} does not fit {dataset} "
                            f"(input {shape.input_shape}, {shape.num_classes} classes): {reason}",
                            architecture,
                        )
                        continue
                overrides = {
                    key: settings[key] for key in HYPERPARAMETER_KEYS if settings[key] is not None
                }
                try:
                    resolved = hyperparameter_resolver(architecture, overrides)
                except (ValueError, KeyError) as error:
                    report(
                        index,
                        "architectures",
                        f"{label}: hyperparameters of {architecture}: {error}",
                        architecture,
                    )
                    continue
                cell = Cell(experiment_name, dataset, architecture, settings, resolved)
                configuration = cell.configuration_hash()
                if configuration in seen:
                    report(
                        index,
                        "architectures",
                        f"{label}: cell {cell.name} has the same configuration as "
                        f"{seen[configuration]}, so their runs would share keys; "
                        "remove one or change a setting",
                        architecture,
                    )
                    continue
                seen[configuration] = cell.name
                cells.append(cell)

    if problems:
        raise MatrixError(problems)
    description = document.get("description", "")
    return Matrix(
        path=path,
        name=str(document.get("name", Path(path).stem)),
        description=str(description),
        cells=cells,
    )
