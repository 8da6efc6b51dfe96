"""Slow, obviously-correct reference implementations the engine's fast code is tested against.

They loop over every output pixel, which the engine must never do; here clarity is the point.
"""

from __future__ import annotations

import math

import numpy as np


def same_padding(size: int, window: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow's 'same' rule: output ceil(size/stride), extra pad at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def geometry(h, w, kh, kw, sh, sw, padding):
    if padding == "valid":
        return (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0, 0, 0
    oh, top, bottom = same_padding(h, kh, sh)
    ow, left, right = same_padding(w, kw, sw)
    return oh, ow, top, bottom, left, right


def conv2d(x, kernel, bias, strides, padding):
    """Direct cross-correlation, one output pixel at a time."""
    n, h, w, _ = x.shape
    kh, kw, _, f = kernel.shape
    oh, ow, top, bottom, left, right = geometry(h, w, kh, kw, *strides, padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    y = np.zeros((n, oh, ow, f))
    for a in range(oh):
        for b in range(ow):
            window = xp[
                :, a * strides[0] : a * strides[0] + kh, b * strides[1] : b * strides[1] + kw, :
            ]
            y[:, a, b, :] = np.tensordot(window, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return y + bias


def pool2d(x, pool, strides, padding, kind):
    """Direct max/average pooling; average excludes padded cells."""
    n, h, w, c = x.shape
    oh, ow, top, bottom, left, right = geometry(h, w, *pool, *strides, padding)
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    y = np.zeros((n, oh, ow, c))
    for a in range(oh):
        for b in range(ow):
            window = xp[
                :,
                a * strides[0] : a * strides[0] + pool[0],
                b * strides[1] : b * strides[1] + pool[1],
                :,
            ]
            y[:, a, b, :] = (
                window.max(axis=(1, 2)) if kind == "max" else np.nanmean(window, axis=(1, 2))
            )
    return y


# --------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------
import pytest  # noqa: E402

from scratch_cnn.functional import activations, losses  # noqa: E402
from scratch_cnn.functional.convolution import conv2d_forward, window_geometry  # noqa: E402
from scratch_cnn.functional.pooling import (  # noqa: E402
    average_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

CONV_CASES = [
    # (input h, w, c), (kh, kw), strides, padding
    ((7, 7, 2), (3, 3), (1, 1), "same"),
    ((7, 7, 2), (3, 3), (1, 1), "valid"),
    ((8, 6, 3), (2, 3), (2, 2), "same"),  # even size, stride 2: extra pad bottom/right
    ((9, 8, 1), (5, 5), (2, 3), "same"),
    ((9, 8, 1), (4, 2), (3, 2), "valid"),
    ((6, 6, 2), (6, 6), (1, 1), "valid"),  # kernel as large as the input
]


@pytest.mark.parametrize(("shape", "kernel", "strides", "padding"), CONV_CASES)
def test_conv2d_forward_matches_direct_loop(rng, shape, kernel, strides, padding):
    x = rng.normal(size=(3, *shape))
    w = rng.normal(size=(*kernel, shape[2], 4))
    b = rng.normal(size=4)
    y, _ = conv2d_forward(x, w, b, strides, padding)
    np.testing.assert_allclose(y, conv2d(x, w, b, strides, padding), rtol=1e-12, atol=1e-12)


POOL_CASES = [
    ((6, 6, 2), (2, 2), (2, 2), "valid"),
    ((7, 7, 2), (2, 2), (2, 2), "valid"),  # last row/column dropped
    ((7, 5, 2), (2, 2), (2, 2), "same"),  # padded on the bottom/right
    ((7, 7, 3), (3, 3), (1, 1), "same"),  # overlapping windows
    ((8, 8, 1), (3, 3), (2, 2), "valid"),  # overlapping, stride 2
    ((5, 9, 2), (2, 3), (3, 2), "same"),
]


@pytest.mark.parametrize(("shape", "pool", "strides", "padding"), POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "average"])
def test_pooling_forward_matches_direct_loop(rng, shape, pool, strides, padding, kind):
    x = rng.normal(size=(2, *shape))
    forward = max_pool2d_forward if kind == "max" else average_pool2d_forward
    y, _ = forward(x, pool, strides, padding)
    np.testing.assert_allclose(y, pool2d(x, pool, strides, padding, kind), rtol=1e-12, atol=1e-12)


def test_average_pooling_same_excludes_padded_cells():
    x = np.ones((1, 3, 3, 1))
    y, _ = average_pool2d_forward(x, (2, 2), (2, 2), "same")
    # Corner windows hold fewer real cells; the mean of ones stays one only if padding is excluded.
    np.testing.assert_array_equal(y, np.ones((1, 2, 2, 1)))


def test_same_padding_puts_the_extra_row_at_the_bottom():
    g = window_geometry(4, 4, (2, 2), (1, 1), "same")
    assert (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right) == (0, 1, 0, 1)
    g = window_geometry(5, 5, (4, 4), (1, 1), "same")
    assert (g.pad_top, g.pad_bottom) == (1, 2)


def test_window_that_does_not_fit_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"does not fit a 3x3 input"):
        window_geometry(3, 3, (5, 5), (1, 1), "valid")


def test_max_pooling_overlapping_windows_sum_gradients():
    # One dominant value wins all four overlapping 2x2 windows of a 3x3 input.
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 5.0
    y, cache = max_pool2d_forward(x, (2, 2), (1, 1), "valid")
    dx = max_pool2d_backward(np.ones_like(y), cache)
    assert dx[0, 1, 1, 0] == 4.0
    assert dx.sum() == 4.0


def test_max_pooling_ties_route_gradient_to_the_first_maximum():
    x = np.ones((1, 2, 2, 1))
    y, cache = max_pool2d_forward(x, (2, 2), (2, 2), "valid")
    dx = max_pool2d_backward(np.full_like(y, 3.0), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_backward_matches_finite_differences(rng, name):
    act = activations.get_activation(name)
    x = rng.normal(size=(4, 6)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the relu/elu kink
    dy = rng.normal(size=x.shape)
    y = act.forward(x)
    analytic = act.backward(dy, x, y)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += eps
        plus = np.sum(act.forward(shifted) * dy)
        shifted[index] -= 2 * eps
        minus = np.sum(act.forward(shifted) * dy)
        numeric[index] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], dtype=np.float32)
    y = activations.sigmoid_forward(x)  # warnings are errors: an overflow would fail here
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5


def test_crossentropy_clips_like_keras():
    y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    probabilities = np.array([[0.0, 1.0], [0.5, 0.5]])
    loss, grad = losses.categorical_crossentropy_from_softmax(y_true, probabilities)
    expected = (-np.log(1e-7) - np.log(0.5)) / 2
    np.testing.assert_allclose(float(loss), expected, rtol=1e-12)
    # The clipped sample contributes no gradient; the other one gives (q - y) / N.
    np.testing.assert_allclose(grad, [[0.0, 0.0], [0.25, -0.25]], atol=1e-15)


def test_crossentropy_from_logits_equals_softmax_then_probabilities(rng):
    logits = rng.normal(size=(5, 4))
    y_true = np.eye(4)[rng.integers(0, 4, 5)]
    loss_logits, grad_logits = losses.categorical_crossentropy_from_logits(y_true, logits)
    probabilities = activations.softmax_forward(logits)
    loss_fused, grad_fused = losses.categorical_crossentropy_from_softmax(y_true, probabilities)
    np.testing.assert_allclose(float(loss_logits), float(loss_fused), rtol=1e-12)
    np.testing.assert_allclose(grad_logits, grad_fused, rtol=1e-10, atol=1e-14)
