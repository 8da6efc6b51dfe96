"""The units of work of a matrix: one (cell, seed) with a run task for every engine.

A :class:`Unit` is what one machine runs back to back: every engine of the matrix on one
cell and seed, in an order rotated from seed to seed, so each time ratio comes from
neighbouring runs on one host. The driver prepares what the engines share once per unit
(split indices, epoch orders, initial weights, the model and compile configs) and hands
the same arrays to every engine's :class:`RunTask`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suite.engines.spec import EngineSpec, parse_engine_spec
from suite.matrix import Cell
from suite.results import run_key

#: split fingerprint stored for cells whose data could not be loaded
UNAVAILABLE_FINGERPRINT = "unavailable"


@dataclass
class RunTask:
    """Everything a worker needs for one run, as plain data.

    Attributes
    ----------
    key : str
        The run's key in the results store.
    engine : str
        Canonical engine spec.
    cell_name, dataset, architecture : str
    seed : int
    settings : dict
        The cell's harness settings (dtype, scaling, validation_size, time budget...).
    epochs, batch_size : int
    model_config, compile_config : dict
        Keras-form configs (``suite.catalog``).
    crossentropy : str, optional
        ``"logits"`` or ``"clipped"``: how scratch_cnn computes a saturated softmax's loss
        (as the Keras backend it is compared with).
    split : datasets.Split
        The driver's split (index arrays).
    fingerprint : str
        The driver's split fingerprint.
    epoch_orders : list of numpy.ndarray
        Training-set indices of each epoch, in order.
    initial_weights : list of numpy.ndarray, optional
        Start weights (``same_init``); the engine's own seeded init when None.
    """

    key: str
    engine: str
    cell_name: str
    dataset: str
    architecture: str
    seed: int
    settings: dict[str, Any]
    epochs: int
    batch_size: int
    model_config: dict[str, Any]
    compile_config: dict[str, Any]
    crossentropy: str | None
    split: Any
    fingerprint: str
    epoch_orders: list[np.ndarray]
    initial_weights: list[np.ndarray] | None = None


@dataclass
class Unit:
    """One (cell, seed): the engines in their order for this seed, and their run keys."""

    cell: Cell
    seed: int
    seed_position: int
    engines: list[str]
    keys: dict[str, str] = field(default_factory=dict)
    fingerprint: str = UNAVAILABLE_FINGERPRINT

    @property
    def label(self) -> str:
        """``dataset/architecture seed N``."""
        return f"{self.cell.dataset}/{self.cell.architecture} seed {self.seed}"


def engine_specs(
    cell: Cell, keras_backend: str | None = None, device: str | None = None
) -> list[EngineSpec]:
    """The cell's engines as parsed specs (bare ``keras``/``scratch`` resolved).

    Parameters
    ----------
    cell : Cell
    keras_backend : str, optional
        What a bare ``keras`` means (``--keras-backend``).
    device : str, optional
        What a bare ``scratch`` means (``--device``).

    Returns
    -------
    list of EngineSpec
    """
    return [
        parse_engine_spec(text, keras_backend=keras_backend, device=device) for text in cell.engines
    ]


def rotated(engines: Sequence[str], seed_position: int) -> list[str]:
    """The engine order for the ``seed_position``-th seed: rotated by one per seed.

    Parameters
    ----------
    engines : sequence of str
    seed_position : int

    Returns
    -------
    list of str
        With two engines this alternates which goes first; with N, each engine goes first
        once every N seeds.
    """
    items = list(engines)
    if not items:
        return items
    shift = seed_position % len(items)
    return items[shift:] + items[:shift]


def engine_label(spec: EngineSpec, device: str | None = None) -> str:
    """The engine part of a run key (``scratch/cpu``, ``keras/tensorflow/cpu``).

    Kept as it was before engine specs existed, so ``--resume`` recognises old stores.
    """
    if spec.family == "scratch":
        return f"scratch/{spec.option}"
    if spec.family == "keras":
        return f"keras/{spec.option}/{device or 'cpu'}"
    return spec.name


def plan_units(
    cells: Sequence[Cell],
    fingerprint_of: Callable[[Cell, int], str],
    keras_backend: str | None = None,
    device: str | None = None,
) -> list[Unit]:
    """Every (cell, seed) of the selection with its engine order and run keys.

    Parameters
    ----------
    cells : sequence of Cell
    fingerprint_of : callable
        ``(cell, seed) -> split fingerprint``; may raise when the data set is absent
        (the unit then keeps :data:`UNAVAILABLE_FINGERPRINT` and the error is re-raised
        by the driver when it runs the unit).
    keras_backend, device : str, optional
        Meaning of bare ``keras`` / ``scratch``.

    Returns
    -------
    list of Unit
    """
    units = []
    for cell in cells:
        specs = engine_specs(cell, keras_backend, device)
        names = [spec.name for spec in specs]
        labels = {spec.name: engine_label(spec, device) for spec in specs}
        for position, seed in enumerate(cell.seeds):
            unit = Unit(cell, seed, position, rotated(names, position))
            try:
                unit.fingerprint = fingerprint_of(cell, seed)
            except Exception:  # the driver stores the reason when it reaches the unit
                unit.fingerprint = UNAVAILABLE_FINGERPRINT
            unit.keys = {
                name: run_key(cell.configuration(), unit.fingerprint, labels[name], seed)
                for name in names
            }
            units.append(unit)
    return units


def crossentropy_for(specs: Sequence[EngineSpec]) -> str:
    """How scratch_cnn computes a saturated softmax's loss in a unit with these engines.

    As the first Keras backend of the unit computes it (TensorFlow takes the loss from the
    logits, JAX and torch clip at 1e-7; docs/parity.md); as the ``KERAS_BACKEND`` default
    when the unit has no Keras engine.

    Returns
    -------
    str
        ``"logits"`` or ``"clipped"``.
    """
    from keras_models.transfer import BACKENDS_WITH_SOFTMAX_LOGITS
    from suite.engines.spec import default_keras_backend

    backends = [spec.option for spec in specs if spec.family == "keras"]
    backend = backends[0] if backends else default_keras_backend()
    return "logits" if backend in BACKENDS_WITH_SOFTMAX_LOGITS else "clipped"
