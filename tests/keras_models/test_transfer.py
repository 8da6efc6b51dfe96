"""Keras <-> scratch_cnn transfer: architecture, weights, options, training set-up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scratch_cnn as sc
from keras_models.examples import non_catalog_model
from keras_models.parity import (
    forward_difference,
    gradient_relative_errors,
    training_relative_differences,
    weights_identical,
    without_dropout,
)
from keras_models.transfer import UnsupportedKerasFeatureError, to_keras, to_scratch
from suite import catalog
from suite.engines import models

from .conftest import (
    REFERENCE_SHAPES,
    SPEC_FORWARD_FLOAT32,
    SPEC_GRADIENT_RELATIVE,
    SPEC_TRAINING_RELATIVE,
)

pytestmark = pytest.mark.keras


@pytest.mark.parametrize("name", catalog.architecture_names())
def test_catalog_twins_round_trip_with_identical_weights_and_layers(keras: Any, name) -> None:
    shape = REFERENCE_SHAPES[catalog.get_architecture(name).reference_dataset]
    if name in ("vgg_b", "vgg_c"):
        shape = (8, 8, 3)  # the same layers with 0.8M instead of 30M weights: fast suite
    keras_model = models.build(name, "keras", shape, 10, seed=2)
    scratch_model = to_scratch(keras_model)
    assert weights_identical(keras_model.get_weights(), scratch_model.get_weights())
    back = to_keras(scratch_model)
    assert weights_identical(keras_model.get_weights(), back.get_weights())
    assert [layer.name for layer in back.layers] == [layer.name for layer in keras_model.layers]
    for original, returned in zip(keras_model.layers, back.layers, strict=True):
        first, second = original.get_config(), returned.get_config()
        for key in ("units", "filters", "kernel_size", "strides", "padding", "activation"):
            assert first.get(key) == second.get(key), (original.name, key)
        assert first.get("kernel_regularizer") == second.get("kernel_regularizer")
    # the compiled set-up travels too: same optimizer class and learning rate, fresh state
    hp = catalog.hyperparameters(name)
    assert type(scratch_model.optimizer).__name__.lower() == hp.optimizer
    assert scratch_model.optimizer.learning_rate == pytest.approx(hp.learning_rate, rel=1e-6)
    assert type(back.optimizer).__name__.lower() == hp.optimizer


def test_catalog_builds_are_the_same_network_in_both_engines(keras: Any) -> None:
    keras_model = models.build("cnn1_3", "keras", (28, 28, 1), 10, seed=0)
    scratch_model = models.build("cnn1_3", "scratch", (28, 28, 1), 10, seed=0)
    assert [type(layer).__name__ for layer in keras_model.layers] == [
        type(layer).__name__ for layer in scratch_model.layers
    ]
    assert [w.shape for w in keras_model.get_weights()] == [
        w.shape for w in scratch_model.get_weights()
    ]
    assert keras_model.count_params() == scratch_model.count_params()


def test_float64_models_transfer_as_float64(keras: Any, float64_keras) -> None:
    keras_model = models.build("convnet1_3", "keras", (8, 8, 1), 10, seed=0, dtype="float64")
    scratch_model = to_scratch(keras_model)
    assert scratch_model.dtype == "float64"
    back = to_keras(scratch_model)
    assert {str(w.dtype) for w in back.get_weights()} == {"float64"}
    assert weights_identical(keras_model.get_weights(), back.get_weights())


@pytest.mark.parametrize(
    ("layer_factory", "fragment"),
    [
        (lambda k: k.layers.BatchNormalization(), "layer type 'BatchNormalization'"),
        (lambda k: k.layers.Conv2D(2, 3, dilation_rate=2), "dilation_rate"),
        (lambda k: k.layers.Conv2D(2, 3, activation="gelu"), "activation 'gelu'"),
        (lambda k: k.layers.Conv2D(2, 3, kernel_regularizer=k.regularizers.L1(0.1)), "'L1'"),
        (lambda k: k.layers.Conv2D(2, 3, bias_regularizer=k.regularizers.L2(0.1)), "bias_reg"),
        (lambda k: k.layers.Conv2D(2, 3, kernel_initializer="orthogonal"), "'Orthogonal'"),
        (lambda k: k.layers.Conv2D(2, 3, kernel_constraint="non_neg"), "kernel_constraint"),
    ],
)
def test_unsupported_layers_and_options_are_named(keras: Any, layer_factory, fragment) -> None:
    model = keras.Sequential([keras.Input((6, 6, 1)), layer_factory(keras)])
    with pytest.raises(UnsupportedKerasFeatureError) as caught:
        to_scratch(model)
    message = str(caught.value)
    assert fragment in message
    assert "layer 0" in message and "supported" in message


def test_unbuilt_models_and_unsupported_optimizers_are_refused(keras: Any) -> None:
    with pytest.raises(ValueError, match="input shape"):
        to_scratch(keras.Sequential([keras.layers.Dense(3)]))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    with pytest.raises(UnsupportedKerasFeatureError, match="RMSprop"):
        to_scratch(model)
    model.compile(optimizer=keras.optimizers.Adam(amsgrad=True), loss="categorical_crossentropy")
    with pytest.raises(UnsupportedKerasFeatureError, match="amsgrad"):
        to_scratch(model)
    assert to_scratch(model, compile_model=False).optimizer is None


def test_optimizer_settings_transfer_both_ways(keras: Any) -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.25, momentum=0.9, nesterov=True),
        loss="categorical_crossentropy",
    )
    twin = to_scratch(model)
    assert isinstance(twin.optimizer, sc.optimizers.SGD)
    assert (twin.optimizer.learning_rate, twin.optimizer.momentum) == (0.25, pytest.approx(0.9))
    assert twin.optimizer.nesterov is True
    twin.compile(optimizer=sc.optimizers.Adam(learning_rate=0.5, beta_1=0.8, epsilon=1e-5))
    back = to_keras(twin)
    config = back.optimizer.get_config()
    assert type(back.optimizer).__name__ == "Adam"
    assert (config["learning_rate"], config["beta_1"], config["epsilon"]) == (0.5, 0.8, 1e-5)


def test_non_catalog_model_transfers_both_ways_with_parity(keras: Any, make_batches) -> None:
    model = non_catalog_model()
    batches = make_batches((28, 28, 1), 4, 20)
    twin = to_scratch(model)
    assert [type(layer).__name__ for layer in twin.layers] == [
        "Conv2D", "AveragePooling2D", "Conv2D", "Activation", "MaxPooling2D",
        "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert twin.layers[2].kernel_regularizer.l2 == pytest.approx(1e-3)
    assert twin.layers[7].rate == 0.25
    back = to_keras(twin)
    assert weights_identical(model.get_weights(), twin.get_weights())
    assert weights_identical(model.get_weights(), back.get_weights())
    assert forward_difference(model, twin, batches[0].x) <= SPEC_FORWARD_FLOAT32
    assert forward_difference(back, twin, batches[0].x) <= SPEC_FORWARD_FLOAT32
    plain = without_dropout(model)
    errors = gradient_relative_errors(plain, to_scratch(plain), batches[0])
    assert max(error for _, error in errors) <= SPEC_GRADIENT_RELATIVE
    for optimizer in (
        {"class_name": "SGD", "config": {"learning_rate": 0.05}},
        {"class_name": "Adam", "config": {"learning_rate": 1e-3}},
    ):
        differences = training_relative_differences(plain, batches, optimizer)
        assert max(error for _, error in differences) <= SPEC_TRAINING_RELATIVE


def test_without_dropout_keeps_weights_and_zeroes_every_rate(keras: Any) -> None:
    model = models.build("lenet5", "keras", (8, 8, 1), 10, seed=0)
    plain = without_dropout(model)
    assert [layer.rate for layer in plain.layers if hasattr(layer, "rate")] == [0.0]
    assert weights_identical(model.get_weights(), plain.get_weights())
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("f4")
    np.testing.assert_array_equal(
        np.asarray(plain(x, training=True)), np.asarray(plain(x, training=False))
    )
