"""Dropout in training mode: inverted scaling, the dropped fraction, identity at inference.

Every other test that contains a Dropout layer either runs it in inference mode or only
checks that training still converges, so an unscaled mask (``y = x * mask``) or a mask that
keeps ``rate`` instead of ``1 - rate`` of the inputs would pass them. These tests pin the
layer's contract: in training ``y = x * keep / (1 - rate)``, with ``keep`` a Bernoulli
(``1 - rate``) mask, and ``y = x`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratch_cnn as sc

#: One million inputs: the dropped fraction's standard deviation is below 5e-4.
SHAPE = (1000, 1000)


def dropout_model(rate: float, dtype: str = "float32") -> sc.Sequential:
    return sc.Sequential([sc.Input(SHAPE[1:]), sc.Dropout(rate)], seed=7, dtype=dtype)


def nonzero_inputs(dtype: str) -> np.ndarray:
    # Bounded away from zero, so a zero in the output can only come from the mask.
    rng = np.random.default_rng(3)
    magnitude = rng.uniform(0.5, 2.0, size=SHAPE)
    sign = rng.choice([-1.0, 1.0], size=SHAPE)
    return (magnitude * sign).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_training_mode_scales_kept_values_by_one_over_keep_probability(rate, dtype):
    model = dropout_model(rate, dtype)
    x = nonzero_inputs(dtype)
    y = np.asarray(model.forward(x, training=True))
    assert y.dtype == np.dtype(dtype)
    kept = y != 0
    # Every kept value is x / (1 - rate), to the rounding of one multiplication (an
    # unscaled mask is off by a factor 1 / (1 - rate) >= 1.11 here).
    rtol = 4 * np.finfo(dtype).eps
    np.testing.assert_allclose(y[kept], x[kept] / (1.0 - rate), rtol=rtol, atol=0)
    # Bernoulli bound: the dropped fraction lies within 6 standard deviations of rate
    # (failure probability ~2e-9 for a fair mask; the seed makes it deterministic anyway).
    n = x.size
    dropped = 1.0 - np.count_nonzero(kept) / n
    bound = 6.0 * math.sqrt(rate * (1.0 - rate) / n)
    assert abs(dropped - rate) <= bound, (dropped, rate, bound)


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_training_mode_backward_uses_the_same_scaled_mask(rate):
    model = dropout_model(rate)
    layer = model.layers[-1]
    x = nonzero_inputs("float32")
    y = np.asarray(layer.forward(x, training=True))
    grad_output = np.full(SHAPE, 3.0, dtype="float32")
    grad_input = np.asarray(layer.backward(grad_output))
    # dL/dx = dL/dy * keep / (1 - rate): zero where dropped, 3 / (1 - rate) where kept.
    kept = y != 0
    np.testing.assert_array_equal(grad_input[~kept], 0.0)
    np.testing.assert_allclose(grad_input[kept], 3.0 / (1.0 - rate), rtol=1e-6, atol=0)


def test_training_mode_preserves_the_expected_activation():
    rate = 0.5
    model = dropout_model(rate)
    x = np.ones(SHAPE, dtype="float32")
    y = np.asarray(model.forward(x, training=True))
    # E[y] = x: with inverted dropout the mean of a large all-ones tensor stays near 1.
    bound = 6.0 * math.sqrt(rate / (1.0 - rate) / x.size)
    assert abs(float(y.mean()) - 1.0) <= bound


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_inference_is_the_identity(rate):
    model = dropout_model(rate)
    x = nonzero_inputs("float32")
    np.testing.assert_array_equal(np.asarray(model.forward(x, training=False)), x)
    np.testing.assert_array_equal(model.predict(x, batch_size=250, verbose=0), x)
    layer = model.layers[-1]
    layer.forward(x, training=False)
    grad_output = np.ones(SHAPE, dtype="float32")
    np.testing.assert_array_equal(np.asarray(layer.backward(grad_output)), grad_output)


def test_rate_zero_in_training_is_the_identity():
    model = dropout_model(0.0)
    x = nonzero_inputs("float32")
    np.testing.assert_array_equal(np.asarray(model.forward(x, training=True)), x)


def test_masks_differ_between_steps():
    # A mask drawn once and reused for every batch would still pass the tests above.
    model = dropout_model(0.5)
    x = np.ones(SHAPE, dtype="float32")
    first = np.asarray(model.forward(x, training=True)) != 0
    second = np.asarray(model.forward(x, training=True)) != 0
    assert np.count_nonzero(first != second) > x.size // 4
