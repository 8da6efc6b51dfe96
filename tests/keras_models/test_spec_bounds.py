"""The SPEC "Parity with Keras" bounds, stated as numbers and checked where they are used.

SPEC: forward outputs within 1e-5 (float32) and 1e-10 (float64) max abs difference;
gradients within 1e-4 relative (float32); weights after 50 SGD and 50 Adam steps within
1e-3 relative; test accuracy after full training on the same split within 0.5 percentage
points. The figures below are literals on purpose: a test that imports the constant it
checks passes whatever the constant says.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from keras_models import parity, validate

from .conftest import (
    SPEC_ACCURACY_POINTS,
    SPEC_FORWARD_FLOAT32,
    SPEC_FORWARD_FLOAT64,
    SPEC_GRADIENT_RELATIVE,
    SPEC_TRAINING_RELATIVE,
)


def test_the_test_literals_are_the_spec_figures() -> None:
    assert SPEC_FORWARD_FLOAT32 == 1e-5
    assert SPEC_FORWARD_FLOAT64 == 1e-10
    assert SPEC_GRADIENT_RELATIVE == 1e-4
    assert SPEC_TRAINING_RELATIVE == 1e-3
    assert SPEC_ACCURACY_POINTS == 0.5


def test_parity_module_bounds_are_the_spec_figures() -> None:
    assert parity.FORWARD_BOUND == {"float32": 1e-5, "float64": 1e-10}
    assert parity.GRADIENT_BOUND == 1e-4
    assert parity.TRAINING_BOUND == 1e-3


#: each check of a validate row, the record field it reads and its SPEC bound
CHECKS = [
    ("forward32", "forward_float32", 1e-5),
    ("forward64", "forward_float64", 1e-10),
    ("gradient", "gradient_relative", 1e-4),
    ("sgd", "sgd_relative", 1e-3),
    ("adam", "adam_relative", 1e-3),
]


def _record(**figures: float) -> validate.ParityRecord:
    """A validate row whose figures all sit at half their SPEC bound, with overrides."""
    base = {field: bound / 2 for _, field, bound in CHECKS}
    base.update(figures)
    return validate.ParityRecord(
        name="probe",
        input="random",
        input_shape=(8, 8, 1),
        batch_size=4,
        steps=50,
        transfer_ok=True,
        **base,
    )


def test_validate_passes_figures_within_the_spec_bounds() -> None:
    assert _record().failures() == []
    at_bound = _record(**{field: bound for _, field, bound in CHECKS})
    assert at_bound.failures() == []  # SPEC says "<=": the bound itself passes


@pytest.mark.parametrize(("check", "field", "bound"), CHECKS, ids=[c[0] for c in CHECKS])
def test_validate_fails_a_figure_just_over_its_spec_bound(check, field, bound) -> None:
    # 1.5x the bound fails: a bound loosened by any factor above 1.5 would let this pass.
    assert _record(**{field: 1.5 * bound}).failures() == [check]
    assert _record(**{field: float("nan")}).failures() == [check]  # not measured = failed


def test_validate_table_header_states_the_spec_bounds() -> None:
    record = _record()
    header = validate.markdown_table([record], "tensorflow").splitlines()[2]
    for text in ("f32 (<= 1e-05)", "f64 (<= 1e-10)", "rel (<= 0.0001)", "f64 (<= 0.001)"):
        assert text in header, (text, header)
    assert {f.name for f in dataclasses.fields(record)} >= {field for _, field, _ in CHECKS}


@pytest.mark.keras
def test_full_training_gives_the_same_test_accuracy_within_half_a_point(keras: Any) -> None:
    """SPEC: after full training on the same split, test accuracy within 0.5 points.

    A small CNN on scikit-learn's 8x8 digits (stratified 80/20 split), identical initial
    weights (the scratch twin is a transfer of the Keras model), the same batches in the
    same order, 10 epochs of Adam in float32 (where both engines level off).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from keras_models.transfer import to_scratch

    data = load_digits()
    images = (data.images / 16.0).astype("float32")[..., None]
    targets = np.eye(10, dtype="float32")[data.target]
    x_train, x_test, y_train, y_test = train_test_split(
        images, targets, test_size=0.2, random_state=0, stratify=data.target
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "categorical_crossentropy")
    twin = to_scratch(model)
    assert parity.weights_identical(model.get_weights(), twin.get_weights())
    fit = {"batch_size": 64, "epochs": 10, "shuffle": False, "verbose": 0}
    model.fit(x_train, y_train, **fit)
    twin.fit(x_train, y_train, **fit)
    labels = y_test.argmax(axis=1)
    keras_accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == labels))
    scratch_accuracy = float(np.mean(twin.predict(x_test).argmax(axis=1) == labels))
    assert scratch_accuracy > 0.9  # it trained: equal accuracies of an untrained net say nothing
    points = 100.0 * abs(scratch_accuracy - keras_accuracy)
    assert points <= SPEC_ACCURACY_POINTS, (scratch_accuracy, keras_accuracy)
