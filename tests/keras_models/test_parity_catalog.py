"""SPEC "Parity with Keras" for every catalog architecture at its own input shape.

Fast tier: transfer, float32/float64 forward and gradients for the nine cheaper nets, 50
SGD + 50 Adam steps for the two smallest. Slow tier (``-m slow``): the same for lenet5,
vgg12_32, vgg_b and vgg_c (the thesis-sized nets also on 8x8x3 images: same layers, smaller
maps), and the 50-step training for the other eleven. ``cnnbench validate`` runs all of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from keras_models.builders import keras_floatx
from keras_models.parity import (
    as_float64,
    forward_difference,
    gradient_relative_errors,
    training_relative_differences,
    weights_identical,
    without_dropout,
)
from keras_models.transfer import to_keras, to_scratch
from suite import catalog
from suite.engines import models

from .conftest import (
    REFERENCE_SHAPES,
    SPEC_FORWARD_FLOAT32,
    SPEC_FORWARD_FLOAT64,
    SPEC_GRADIENT_RELATIVE,
    SPEC_TRAINING_RELATIVE,
    random_batches,
)

pytestmark = pytest.mark.keras

BIG = ("vgg_b", "vgg_c")
SLOW_FORWARD = ("lenet5", "vgg12_32", *BIG)
FAST_TRAINING = ("densenet2_20", "convnet1_3")
# On random images seed 000's N(0, 1) sigmoid net trains chaotically (SGD 0.1): float64
# rounding differences between any two implementations (1e-14 after the first step) grow
# about 2.2x per step and pass 1e-3 near step 40 (measured step by step, docs/parity.md).
# On real MNIST `cnnbench validate` agrees to 4e-6 after 50 steps; here, the steps before
# the growth reaches the bound.
PREDICTABLE_STEPS = {"densenet4_300": 20}


def _shape(name: str) -> tuple[int, ...]:
    return REFERENCE_SHAPES[catalog.get_architecture(name).reference_dataset]


def _uses_tanh(name: str) -> bool:
    return any(spec.options.get("activation") == "tanh" for spec in catalog.layer_specs(name, 10))


def _xfail_where_keras_tanh_drops_to_float32(keras: Any) -> None:
    """Keras's tanh on the jax backend computes float64 input in float32 (docs/parity.md)."""
    probe = keras.ops.convert_to_tensor(np.array([0.3]), "float64")
    dtype = keras.backend.standardize_dtype(keras.ops.tanh(probe).dtype)
    if dtype != "float64":
        pytest.xfail(
            f"keras.ops.tanh returns {dtype} for float64 input on the "
            f"{keras.backend.backend()} backend"
        )


def _check_forward_and_gradients(keras: Any, name: str, shape: tuple[int, ...]) -> None:
    batch = random_batches(shape, 2, 1, seed=1)[0]
    model = models.build(name, "keras", shape, 10, seed=4)
    twin = to_scratch(model)
    assert weights_identical(model.get_weights(), twin.get_weights())
    assert weights_identical(model.get_weights(), to_keras(twin).get_weights())
    assert forward_difference(model, twin, batch.x) <= SPEC_FORWARD_FLOAT32
    with keras_floatx("float64"):
        model64 = models.build(name, "keras", shape, 10, seed=4, dtype="float64")
        twin64 = to_scratch(model64)
        assert twin64.dtype == "float64"
        difference64 = forward_difference(model64, twin64, batch.x.astype(np.float64))
    if difference64 > SPEC_FORWARD_FLOAT64 and _uses_tanh(name):
        _xfail_where_keras_tanh_drops_to_float32(keras)
    assert difference64 <= SPEC_FORWARD_FLOAT64
    plain = without_dropout(model)
    errors = gradient_relative_errors(plain, to_scratch(plain), batch)
    assert len(errors) == len(model.get_weights())
    worst = max(errors, key=lambda item: item[1])
    assert worst[1] <= SPEC_GRADIENT_RELATIVE, worst


@pytest.mark.parametrize(
    "name", [name for name in catalog.architecture_names() if name not in SLOW_FORWARD]
)
def test_forward_and_gradients_match_keras(keras: Any, name: str) -> None:
    _check_forward_and_gradients(keras, name, _shape(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", ("lenet5", "vgg12_32"))
def test_forward_and_gradients_match_keras_slow(keras: Any, name: str) -> None:
    _check_forward_and_gradients(keras, name, _shape(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_forward_and_gradients_match_keras_for_big_nets_on_small_images(keras, name) -> None:
    _check_forward_and_gradients(keras, name, (8, 8, 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_forward_and_gradients_match_keras_for_big_nets_at_32x32(keras, name) -> None:
    _check_forward_and_gradients(keras, name, _shape(name))


def _check_training(keras: Any, name: str, steps: int = 50) -> None:
    shape = _shape(name)
    hp = catalog.hyperparameters(name)
    batches = random_batches(shape, 2 if name in BIG else 4, steps, seed=2)
    plain = without_dropout(models.build(name, "keras", shape, 10, seed=5))
    sgd_rate = hp.learning_rate if hp.optimizer == "sgd" else 0.01
    adam = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999}
    if hp.optimizer == "adam":
        adam = {"learning_rate": hp.learning_rate, "beta_1": hp.beta_1, "beta_2": hp.beta_2}
    # float64: see keras_models.parity on max-pool near-ties and Adam in float32
    with keras_floatx("float64"):
        plain64 = as_float64(plain)
        batches64 = [batch.astype("float64") for batch in batches]
        differences = {
            name: training_relative_differences(plain64, batches64, optimizer)
            for name, optimizer in (
                ("SGD", {"class_name": "SGD", "config": {"learning_rate": sgd_rate}}),
                ("Adam", {"class_name": "Adam", "config": adam}),
            )
        }
    for optimizer, per_weight in differences.items():
        worst = max(per_weight, key=lambda item: item[1])
        assert worst[1] <= SPEC_TRAINING_RELATIVE, (optimizer, worst)


@pytest.mark.parametrize("name", FAST_TRAINING)
def test_fifty_sgd_and_adam_steps_match_keras(keras: Any, name: str) -> None:
    _check_training(keras, name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [name for name in catalog.architecture_names() if name not in FAST_TRAINING]
)
def test_fifty_sgd_and_adam_steps_match_keras_slow(keras: Any, name: str) -> None:
    _check_training(keras, name, steps=PREDICTABLE_STEPS.get(name, 50))
