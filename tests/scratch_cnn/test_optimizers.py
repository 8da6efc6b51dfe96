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
