"""Optimizer updates against Keras 3's update rules written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from scratch_cnn.optimizers import SGD, Adam, get_optimizer


def run(optimizer, gradients, start):
    params = {"w": start.copy()}
    grads = {}
    for gradient in gradients:
        grads["w"] = gradient
        optimizer.apply([("slot", params, grads, "w")])
    return params["w"]


def test_adam_follows_keras_update(rng):
    gradients = [rng.normal(size=5) for _ in range(4)]
    start = rng.normal(size=5)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w, m, v = start.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(gradients, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - alpha * m / (np.sqrt(v) + eps)  # epsilon outside the bias correction
    np.testing.assert_allclose(run(Adam(lr), gradients, start), w, rtol=1e-13)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_follows_keras_update(rng, nesterov):
    gradients = [rng.normal(size=3) for _ in range(5)]
    start = rng.normal(size=3)
    lr, mu = 0.1, 0.9
    w, velocity = start.copy(), np.zeros(3)
    for g in gradients:
        velocity = mu * velocity - lr * g
        w = w + (mu * velocity - lr * g if nesterov else velocity)
    np.testing.assert_allclose(run(SGD(lr, mu, nesterov), gradients, start), w, rtol=1e-13)


def test_plain_sgd(rng):
    g = rng.normal(size=4)
    start = rng.normal(size=4)
    np.testing.assert_allclose(run(SGD(0.5), [g], start), start - 0.5 * g)


def test_optimizer_config_round_trip():
    adam = Adam(0.002, beta_1=0.8, epsilon=1e-6)
    again = get_optimizer(adam.get_config())
    assert again.get_config() == adam.get_config()


def test_bad_learning_rate():
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        SGD(learning_rate=-1.0)


def test_adam_step_size_rounds_betas_to_the_weights_dtype():
    # Keras: alpha = lr * sqrt(1 - cast(b2, dtype)**t) / (1 - cast(b1, dtype)**t), in dtype.
    adam = Adam(1e-3)
    b1, b2 = np.float32(0.9), np.float32(0.999)
    expected = np.float32(1e-3) * np.sqrt(np.float32(1) - b2) / (np.float32(1) - b1)
    assert adam.step_size(1, "float32") == float(expected)
    # 0.999 in float32 is 0.99900001287: the first step is 6.4e-6 smaller than the formula's
    assert adam.step_size(1, "float32") / adam.step_size(1, "float64") - 1 == pytest.approx(
        -6.4e-6, abs=1e-6
    )
    assert adam.step_size(1, "float64") == pytest.approx(1e-3 * np.sqrt(1e-3) / 0.1, rel=1e-14)


@pytest.mark.keras
def test_adam_float32_steps_match_keras_bit_for_bit(rng):
    keras = pytest.importorskip("keras")
    start = rng.normal(size=(4, 3)).astype("float32")
    gradients = [rng.normal(size=(4, 3)).astype("float32") for _ in range(3)]
    variable = keras.Variable(start.copy())
    optimizer = keras.optimizers.Adam(1e-3)
    for gradient in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
    ours = run(Adam(1e-3), gradients, start.copy())
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(variable), rtol=2e-7, atol=0)
