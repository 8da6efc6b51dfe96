"""The exact-match details where a from-scratch engine most often parts from Keras.

Each test compares scratch_cnn with Keras on the one behaviour it names and, where the
alternative is plausible, shows that the alternative would have been caught.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import scratch_cnn as sc
from keras_models.parity import (
    Batch,
    forward_difference,
    gradient_relative_errors,
    keras_forward,
    keras_gradients,
    one_hot,
    to_numpy,
    training_relative_differences,
)
from keras_models.transfer import to_scratch
from scratch_cnn.functional import losses as scratch_losses

pytestmark = pytest.mark.keras


# -- categorical cross-entropy clipping ---------------------------------------------------
def test_crossentropy_clips_probabilities_at_1e_7_like_keras(keras: Any) -> None:
    targets = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], np.float64)
    probabilities = np.array([[0.5, 0.5, 0.0], [0.0, 1e-9, 1.0 - 1e-9], [1.0, 0.0, 0.0]])
    keras_loss = np.mean(to_numpy(keras.losses.categorical_crossentropy(targets, probabilities)))
    scratch_loss, _ = scratch_losses.categorical_crossentropy_from_probabilities(
        targets, probabilities
    )
    np.testing.assert_allclose(float(scratch_loss), keras_loss, rtol=1e-6, atol=0)
    # the first two rows are clipped to -log(1e-7); the third to -log(1 - 1e-7)
    expected = (2 * -math.log(1e-7) - math.log(1 - 1e-7)) / 3
    np.testing.assert_allclose(keras_loss, expected, rtol=1e-6, atol=0)


def test_saturated_softmax_loss_and_gradient_match_keras_on_its_backend(keras: Any) -> None:
    # A target probability below 1e-7: jax/torch clip it (zero gradient for that sample),
    # TensorFlow takes the loss from the logits; to_scratch picks the backend's form.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.set_weights([np.array([[30.0, 0.0, -10.0], [1.0, 2.0, 3.0]], "f4"), np.zeros(3, "f4")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="categorical_crossentropy"
    )
    x = np.array([[1.0, 0.0], [0.5, 0.1]], "f4")
    y = np.array([[0, 0, 1], [0, 1, 0]], "f4")  # the first target's probability is < 1e-7
    twin = to_scratch(model)
    keras_loss = float(model.evaluate(x, y, verbose=0))
    np.testing.assert_allclose(twin.evaluate(x, y)[0], keras_loss, rtol=1e-6)
    errors = gradient_relative_errors(model, twin, Batch(x, y))
    assert max(error for _, error in errors) < 1e-4
    assert twin.loss.softmax_logits == (keras.backend.backend() == "tensorflow")


def test_the_two_crossentropy_forms_differ_only_when_a_target_is_clipped() -> None:
    import scratch_cnn as sc

    def loss_and_gradients(softmax_logits: bool, scale: float) -> tuple[float, list]:
        model = sc.Sequential([sc.Input((2,)), sc.Dense(3, activation="softmax")], seed=0)
        model.set_weights([np.array([[30.0, 0.0, -10.0], [1.0, 2.0, 3.0]]) * scale, np.zeros(3)])
        model.compile("sgd", sc.losses.CategoricalCrossentropy(softmax_logits=softmax_logits))
        x = np.array([[1.0, 0.0], [0.5, 0.1]], "f4")
        y = np.array([[0, 0, 1], [0, 1, 0]], "f4")
        return model.evaluate(x, y)[0], model.compute_gradients(x, y)

    clipped, clipped_grads = loss_and_gradients(False, 1.0)  # first sample: p(target) = e^-40
    logits, logits_grads = loss_and_gradients(True, 1.0)
    assert logits > clipped + 10  # -log(e^-40) = 40 vs -log(1e-7) = 16.1 for that sample
    assert not np.allclose(clipped_grads[0], logits_grads[0])
    clipped, clipped_grads = loss_and_gradients(False, 0.1)  # every target p above 1e-7
    logits, logits_grads = loss_and_gradients(True, 0.1)
    np.testing.assert_allclose(logits, clipped, rtol=1e-5)
    for a, b in zip(clipped_grads, logits_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# -- Adam's epsilon -----------------------------------------------------------------------
def test_adam_adds_epsilon_to_sqrt_v_not_to_sqrt_v_hat(keras: Any, rng) -> None:
    # Gradients of about 1e-7, the size of epsilon, make the placement visible.
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax", use_bias=False)]
    )
    # small weights: the float32 spacing near them (~1e-10) is far below one Adam step
    model.set_weights([(1e-3 * rng.normal(size=(3, 2))).astype("f4")])
    batches = [
        Batch((1e-6 * rng.random((4, 3))).astype("f4"), one_hot(rng.integers(0, 2, 4), 2))
        for _ in range(3)
    ]
    adam = {"class_name": "Adam", "config": {"learning_rate": 1e-3}}
    differences = training_relative_differences(model, batches, adam)
    assert max(error for _, error in differences) < 1e-5

    # One step by hand: Keras's form and the paper's form (epsilon added to sqrt(v_hat)).
    weights = model.get_weights()[0].astype(np.float64)
    gradient = keras_gradients(model, batches[0])[0]
    beta_1, beta_2, epsilon, rate = 0.9, 0.999, 1e-7, 1e-3
    m, v = (1 - beta_1) * gradient, (1 - beta_2) * gradient**2
    keras_form = weights - rate * math.sqrt(1 - beta_2) / (1 - beta_1) * m / (np.sqrt(v) + epsilon)
    paper_form = weights - rate * (m / (1 - beta_1)) / (np.sqrt(v / (1 - beta_2)) + epsilon)
    stepped = keras.Sequential.from_config(model.get_config())
    stepped.set_weights(model.get_weights())
    stepped.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate), loss="categorical_crossentropy"
    )
    stepped.train_on_batch(batches[0].x, batches[0].y)
    twin = to_scratch(model)
    twin.compile(optimizer=sc.optimizers.Adam(learning_rate=rate), loss="categorical_crossentropy")
    twin.train_on_batch(batches[0].x, batches[0].y)
    step_keras = stepped.get_weights()[0] - weights
    np.testing.assert_allclose(twin.get_weights()[0] - weights, step_keras, rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(keras_form - weights, step_keras, rtol=1e-3, atol=1e-9)
    assert np.max(np.abs(paper_form - keras_form)) > 10 * np.max(np.abs(step_keras)) * 1e-3


# -- initializer limits -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "fan_in", "fan_out"), [((300, 100), 300, 100), ((5, 5, 3, 16), 75, 400)]
)
def test_glorot_uniform_limits_match_keras(keras: Any, rng, shape, fan_in, fan_out) -> None:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    scratch_values = sc.initializers.GlorotUniform()(shape, "float64", rng)
    keras_values = to_numpy(keras.initializers.GlorotUniform(seed=1)(shape))
    for values in (scratch_values, keras_values):
        assert values.shape == shape
        assert np.max(np.abs(values)) <= limit
        assert np.max(np.abs(values)) > 0.98 * limit
        np.testing.assert_allclose(values.std(), limit / math.sqrt(3.0), rtol=0.03)


def test_he_normal_is_truncated_at_two_deviations_like_keras(keras: Any, rng) -> None:
    shape = (400, 300)
    scratch_values = sc.initializers.HeNormal()(shape, "float64", rng)
    keras_values = to_numpy(keras.initializers.HeNormal(seed=1)(shape))
    target = math.sqrt(2.0 / 400)
    for values in (scratch_values, keras_values):
        np.testing.assert_allclose(values.std(), target, rtol=0.02)
        bound = 2 * target / 0.87962566103423978
        assert np.max(np.abs(values)) <= bound * (1 + 1e-6)
        assert np.max(np.abs(values)) > 0.97 * bound


# -- Flatten order ------------------------------------------------------------------------
def test_flatten_is_hwc_order_like_keras(keras: Any, rng) -> None:
    x = np.arange(2 * 3 * 4 * 5, dtype="f4").reshape(2, 3, 4, 5)
    keras_flat = to_numpy(keras.layers.Flatten()(x))
    scratch_flat = sc.layers.Flatten().forward(x)
    np.testing.assert_array_equal(keras_flat, x.reshape(2, -1))
    np.testing.assert_array_equal(scratch_flat, keras_flat)

    model = keras.Sequential(
        [
            keras.Input((5, 7, 2)),
            keras.layers.Conv2D(3, 3, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    twin = to_scratch(model)
    images = rng.random((3, 5, 7, 2)).astype("f4")
    assert forward_difference(model, twin, images) < 1e-6
    # a (c, h, w) flatten would feed the dense layer a permutation and be caught
    dense_kernel = model.get_weights()[2]
    permuted = dense_kernel.reshape(5, 7, 3, 4).transpose(2, 0, 1, 3).reshape(105, 4)
    twin.set_weights([*model.get_weights()[:2], permuted, model.get_weights()[3]])
    assert forward_difference(model, twin, images) > 1e-3


# -- "same" padding split and strides ------------------------------------------------------
@pytest.mark.parametrize(("size", "kernel", "stride"), [(4, 2, 1), (8, 3, 2), (7, 4, 1), (9, 4, 3)])
def test_same_padding_puts_the_extra_row_and_column_bottom_right(keras: Any, size, kernel, stride):
    x = np.arange(size * size, dtype="f8").reshape(1, size, size, 1)
    layer = keras.layers.Conv2D(1, kernel, strides=stride, padding="same", use_bias=False)
    model = keras.Sequential([keras.Input((size, size, 1)), layer])
    model.set_weights([np.ones((kernel, kernel, 1, 1), "f4")])
    keras_output = keras_forward(model, x.astype("f4"))
    scratch_output = to_scratch(model).predict(x.astype("f4"))
    np.testing.assert_array_equal(scratch_output, keras_output)
    # the NumPy reference: pad total//2 at the top/left, the rest at the bottom/right
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    padded = np.pad(x[0, :, :, 0], ((total // 2, total - total // 2),) * 2)
    reference = np.array(
        [
            [padded[i * stride : i * stride + kernel, j * stride : j * stride + kernel].sum()
             for j in range(out)]
            for i in range(out)
        ]
    )  # fmt: skip
    np.testing.assert_array_equal(keras_output[0, :, :, 0], reference)
    if total % 2:  # the other split gives a different answer, so the test can fail
        other = np.pad(x[0, :, :, 0], ((total - total // 2, total // 2),) * 2)
        assert other[:kernel, :kernel].sum() != reference[0, 0]


def test_strided_convolutions_and_overlapping_pools_match_keras(keras: Any, make_batches) -> None:
    model = keras.Sequential(
        [
            keras.Input((11, 11, 2)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(5, (3, 2), strides=(2, 1), padding="valid", activation="tanh"),
            keras.layers.MaxPooling2D(pool_size=2, strides=1, padding="valid"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    batches = make_batches((11, 11, 2), 3, 10, num_classes=3)
    twin = to_scratch(model)
    assert forward_difference(model, twin, batches[0].x) < 1e-5
    errors = gradient_relative_errors(model, twin, batches[0])
    assert max(error for _, error in errors) < 1e-4
    sgd = {"class_name": "SGD", "config": {"learning_rate": 0.1}}
    assert max(e for _, e in training_relative_differences(model, batches, sgd)) < 1e-4


# -- average pooling with "same" padding ---------------------------------------------------
@pytest.mark.parametrize(("pool", "stride", "size"), [(3, 1, 5), (3, 2, 5), (2, 2, 7), (4, 3, 6)])
def test_average_pooling_same_excludes_padded_cells(keras: Any, rng, pool, stride, size) -> None:
    model = keras.Sequential(
        [
            keras.Input((size, size, 2)),
            keras.layers.AveragePooling2D(pool_size=pool, strides=stride, padding="same"),
        ]
    )
    twin = to_scratch(model)
    ones = np.ones((1, size, size, 2), "f4")
    np.testing.assert_array_equal(twin.predict(ones), 1.0)  # padded cells would pull below 1
    np.testing.assert_array_equal(keras_forward(model, ones), 1.0)
    x = rng.random((2, size, size, 2)).astype("f4")
    np.testing.assert_allclose(twin.predict(x), keras_forward(model, x), rtol=0, atol=1e-6)


def test_average_pooling_same_gradients_match_keras(keras: Any, make_batches) -> None:
    model = keras.Sequential(
        [
            keras.Input((7, 7, 1)),
            keras.layers.Conv2D(3, 2, padding="same", activation="sigmoid"),
            keras.layers.AveragePooling2D(pool_size=3, strides=2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    batch = make_batches((7, 7, 1), 4, 1, num_classes=4)[0]
    errors = gradient_relative_errors(model, to_scratch(model), batch)
    assert max(error for _, error in errors) < 1e-4
