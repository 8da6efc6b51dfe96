"""Backprop vs float64 central differences for every layer type, activation, stride/padding
combination and loss: the engine's main correctness guarantee (relative error < 1e-7)."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc

TOLERANCE = 1e-7


def check(model: sc.Sequential, x: np.ndarray, y: np.ndarray) -> sc.GradientCheckResult:
    result = sc.gradient_check(model, x, y)
    assert result.errors, "the check compared no weights"
    assert result.max_error < TOLERANCE, f"\n{result}"
    return result


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "relu", "elu", "softmax"])
def test_dense_with_every_activation(rng, activation):
    model = sc.Sequential(
        [sc.Input((6,)), sc.Dense(7, activation=activation), sc.Dense(3, activation="softmax")],
        dtype="float64",
        seed=1,
    )
    check(model, rng.normal(size=(5, 6)), rng.integers(0, 3, 5))


CONV_CASES = [
    ((1, 1), "valid", (3, 3)),
    ((1, 1), "same", (3, 3)),
    ((1, 1), "same", (2, 2)),  # even kernel: asymmetric same padding
    ((2, 2), "valid", (3, 3)),
    ((2, 2), "same", (3, 3)),
    ((2, 1), "same", (2, 3)),
    ((3, 3), "valid", (2, 2)),  # stride larger than the kernel: uncovered input cells
]


@pytest.mark.parametrize(("strides", "padding", "kernel"), CONV_CASES)
def test_conv2d_strides_and_padding(rng, strides, padding, kernel):
    # A conv layer in second position also checks its input gradient (through layer one).
    model = sc.Sequential(
        [
            sc.Input((7, 6, 2)),
            sc.Conv2D(3, (2, 2), padding="same", activation="tanh"),
            sc.Conv2D(4, kernel, strides=strides, padding=padding, activation="elu"),
            sc.Flatten(),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=2,
    )
    check(model, rng.normal(size=(3, 7, 6, 2)), rng.integers(0, 3, 3))


POOL_CASES = [
    ((2, 2), None, "valid"),
    ((2, 2), None, "same"),
    ((3, 3), (1, 1), "same"),  # overlapping
    ((3, 3), (2, 2), "valid"),  # overlapping
    ((2, 3), (3, 2), "same"),  # gaps between windows
]


@pytest.mark.parametrize("pooling", [sc.MaxPooling2D, sc.AveragePooling2D])
@pytest.mark.parametrize(("pool", "strides", "padding"), POOL_CASES)
def test_pooling_layers(rng, pooling, pool, strides, padding):
    model = sc.Sequential(
        [
            sc.Input((7, 7, 2)),
            sc.Conv2D(3, (3, 3), padding="same", activation="sigmoid"),
            pooling(pool, strides=strides, padding=padding),
            sc.Flatten(),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=3,
    )
    check(model, rng.normal(size=(3, 7, 7, 2)), rng.integers(0, 3, 3))


def test_dropout_and_activation_layers_and_l2(rng):
    model = sc.Sequential(
        [
            sc.Input((5, 5, 1)),
            sc.Conv2D(2, 3, kernel_regularizer=sc.regularizers.L2(0.05)),
            sc.Activation("relu"),
            sc.Flatten(),
            sc.Dropout(0.4),
            sc.Dense(6, kernel_regularizer=sc.regularizers.L2(0.01)),
            sc.Activation("tanh"),
            sc.Dense(4),
            sc.Activation("softmax"),
        ],
        dtype="float64",
        seed=4,
    )
    check(model, rng.normal(size=(4, 5, 5, 1)), rng.integers(0, 4, 4))


@pytest.mark.parametrize(
    ("loss", "last_activation"),
    [
        (sc.losses.CategoricalCrossentropy(), "softmax"),  # fused path
        (sc.losses.CategoricalCrossentropy(), "sigmoid"),  # probabilities, renormalised
        (sc.losses.CategoricalCrossentropy(from_logits=True), "linear"),
        ("mse", "softmax"),
        ("mse", "linear"),
    ],
)
def test_every_loss(rng, loss, last_activation):
    model = sc.Sequential(
        [sc.Input((5,)), sc.Dense(6, activation="tanh"), sc.Dense(3, activation=last_activation)],
        dtype="float64",
        seed=5,
    )
    model.compile("sgd", loss)
    check(model, rng.normal(size=(6, 5)), rng.integers(0, 3, 6))


def test_soft_targets_through_the_fused_softmax(rng):
    model = sc.Sequential(
        [sc.Input((4,)), sc.Dense(3, activation="softmax")], dtype="float64", seed=6
    )
    targets = rng.dirichlet(np.ones(3), size=5)
    check(model, rng.normal(size=(5, 4)), targets)


def test_a_wrong_gradient_is_detected(rng, monkeypatch):
    """The check itself must be able to fail: break the Dense bias gradient on purpose."""
    model = sc.Sequential(
        [sc.Input((4,)), sc.Dense(3, activation="softmax")], dtype="float64", seed=7
    )
    original = sc.layers.Dense.linear_backward

    def broken(self, grad, need_input_grad):
        result = original(self, grad, need_input_grad)
        self.grads["bias"] = self.grads["bias"] * 1.01
        return result

    monkeypatch.setattr(sc.layers.Dense, "linear_backward", broken)
    result = sc.gradient_check(model, rng.normal(size=(5, 4)), rng.integers(0, 3, 5))
    assert result.errors["dense/bias"] > 1e-3
    assert result.errors["dense/kernel"] < TOLERANCE


def test_check_leaves_a_float32_model_untouched(rng):
    model = sc.Sequential([sc.Input((4,)), sc.Dense(3, activation="softmax")], seed=8)
    before = model.get_weights()
    result = check(model, rng.normal(size=(5, 4)), rng.integers(0, 3, 5))
    assert all(w.dtype == np.float32 for w in model.get_weights())
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert set(result.errors) == {"dense/kernel", "dense/bias"}


@pytest.mark.parametrize(("strides", "padding", "kernel"), CONV_CASES)
def test_relu_conv_layers_in_tiles(rng, strides, padding, kernel, monkeypatch):
    # ReLU convolutions run in tiles of images (scratch_cnn.functional.conv_relu_tiles):
    # the first layer keeps its 2-channel patches, the second (8 channels) cuts them again
    # in the backward pass and needs its input gradient. Tiny tiles: several per batch.
    from scratch_cnn.functional import conv_relu_tiles
    from scratch_cnn.layers import convolution

    monkeypatch.setattr(conv_relu_tiles, "TILE_BYTES", 1)
    kept = []  # per tiled forward pass: whether it kept the whole patch matrix

    def spy(*args, **kwargs):
        y, cache = conv_relu_tiles.conv2d_relu_forward(*args, **kwargs)
        kept.append(cache.conv.patches is not None)
        return y, cache

    monkeypatch.setattr(convolution, "conv2d_relu_forward", spy)
    model = sc.Sequential(
        [
            sc.Input((7, 6, 2)),
            sc.Conv2D(8, (2, 2), padding="same", activation="relu"),
            # 25 filters: im2col, not the row form, at stride 1 too (choose_algorithm)
            sc.Conv2D(25, kernel, strides=strides, padding=padding, activation="relu"),
            sc.Flatten(),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=2,
    )
    check(model, rng.normal(size=(3, 7, 6, 2)), rng.integers(0, 3, 3))
    assert kept[:2] == [True, False]  # the first forward pass: layer 1, then layer 2
