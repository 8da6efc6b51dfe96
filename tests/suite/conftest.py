"""Fixtures for the suite tests: fake data set shapes and catalog checks for the validator."""

from __future__ import annotations

import pytest

from suite.matrix import DatasetShape

FAKE_DATASETS = {
    "digits8x8": DatasetShape((8, 8, 1), 10),
    "mnist": DatasetShape((28, 28, 1), 10),
    "cifar10": DatasetShape((32, 32, 3), 10),
}
#: architecture -> smallest image side it accepts
FAKE_ARCHITECTURES = {"densenet2_20": 0, "cnn1_3": 0, "numpy_cnn": 16, "lenet5": 4}


def fake_dataset_lookup(name: str) -> DatasetShape:
    if name not in FAKE_DATASETS:
        raise KeyError(f"no data set named {name!r}")
    return FAKE_DATASETS[name]


def fake_shape_check(architecture: str, input_shape, num_classes) -> str | None:
    smallest = FAKE_ARCHITECTURES[architecture]
    if input_shape[0] < smallest:
        return f"needs images of at least {smallest}x{smallest}"
    return None


FAKE_DEFAULTS = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "batch_size": 32,
    "epochs": 5,
    "initializer": "glorot_uniform",
    "l2": 0.0,
    "dropout": 0.0,
    "momentum": 0.0,
    "nesterov": False,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-7,
}


def fake_resolver(architecture: str, overrides: dict) -> dict:
    if overrides.get("optimizer") == "rmsprop":
        raise ValueError("optimizer is 'rmsprop', expected one of ('sgd', 'adam')")
    return {**FAKE_DEFAULTS, **overrides}


@pytest.fixture
def validator_hooks() -> dict:
    """Keyword arguments of ``load_matrix`` that replace data sets and catalog with fakes."""
    return {
        "dataset_lookup": fake_dataset_lookup,
        "architecture_names": list(FAKE_ARCHITECTURES),
        "shape_check": fake_shape_check,
        "hyperparameter_resolver": fake_resolver,
    }
