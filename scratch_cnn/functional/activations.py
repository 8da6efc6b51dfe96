"""Element-wise activations and their derivatives.

Each activation has ``forward(x) -> y`` and ``backward(dy, x, y) -> dx``; backward gets
both the input and the output so each derivative uses whichever is cheaper:

========  ===============================  ====================================
name      y                                dy/dx
========  ===============================  ====================================
linear    x                                1
sigmoid   1 / (1 + exp(-x))                y (1 - y)
tanh      tanh(x)                          1 - y^2
relu      max(x, 0)                        1 if x > 0 else 0
elu       x if x > 0 else exp(x) - 1       1 if x > 0 else y + 1
softmax   exp(x_i) / sum_j exp(x_j)        dx = y * (dy - sum_j dy_j y_j)
========  ===============================  ====================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from scratch_cnn.backend import get_array_module

Array = Any


def linear_forward(x: Array) -> Array:
    """Identity: ``y = x``."""
    return x


def linear_backward(dy: Array, x: Array, y: Array) -> Array:
    """Derivative of the identity: ``dx = dy``."""
    return dy


def sigmoid_forward(x: Array) -> Array:
    """Logistic function, written so that no branch can overflow ``exp``."""
    xp = get_array_module(x)
    if xp is np:
        # NumPy: 1 / (1 + e^-x) in one buffer, four passes and one exp (half the time of
        # the two-exp form below). For x < -88 (float32) e^-x overflows to inf and
        # 1 / inf = 0 is the right limit, so the overflow is expected, not reported.
        with np.errstate(over="ignore"):
            y = np.negative(x)
            np.exp(y, out=y)
            y += 1.0
            np.divide(1.0, y, out=y)
        return y
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0, without a select (``where``
    # is several times slower than arithmetic on unpredictable masks): the numerator
    # exp(min(x, 0)) is 1 or e^x, the denominator 1 + exp(-|x|). Both exps lie in (0, 1].
    denominator = xp.exp(-xp.abs(x))
    denominator += 1.0
    y = xp.exp(xp.minimum(x, xp.asarray(0.0, dtype=x.dtype)))
    y /= denominator
    return y


def sigmoid_backward(dy: Array, x: Array, y: Array) -> Array:
    """``dx = dy * y * (1 - y)``."""
    dx = 1.0 - y  # one temporary, updated in place
    dx *= y
    dx *= dy
    return dx


def tanh_forward(x: Array) -> Array:
    """Hyperbolic tangent."""
    return get_array_module(x).tanh(x)


def tanh_backward(dy: Array, x: Array, y: Array) -> Array:
    """``dx = dy * (1 - y^2)``."""
    if get_array_module(y) is np:
        dx = np.multiply(y, y)  # NumPy: one temporary instead of three
        np.subtract(1.0, dx, out=dx)
        dx *= dy
        return dx
    return dy * (1.0 - y * y)


#: NumPy 2.4 runs ``maximum(array, scalar)`` without its SIMD loop but ``maximum(rows,
#: row_of_zeros)`` with it: on float32, 1.8x faster on a 25 MB conv output (6.1 -> 3.4
#: ms, as fast as a multiply there), 3.5x on one that fits in cache. Rows of this length
#: were the fastest measured (1024 and 65536 were slower).
ZERO_ROW_LENGTH = 8192


@cache
def _zero_row(dtype: Any) -> np.ndarray:
    row = np.zeros(ZERO_ROW_LENGTH, dtype=dtype)
    row.flags.writeable = False
    return row


def relu_forward(x: Array, out: Array | None = None) -> Array:
    """``y = max(x, 0)``.

    Parameters
    ----------
    x : array
    out : array, optional
        NumPy only: write the result here (same shape and dtype as ``x``, C-contiguous;
        ``x`` itself for an in-place ReLU).

    Returns
    -------
    array
        ``out`` when given.
    """
    xp = get_array_module(x)
    if out is not None and (xp is not np or out.shape != x.shape or not out.flags.c_contiguous):
        raise ValueError("relu_forward(out=...) takes a C-contiguous NumPy array of x's shape.")
    if xp is np and x.flags.c_contiguous and x.size >= ZERO_ROW_LENGTH:
        y = np.empty_like(x) if out is None else out
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)
        whole = x.size - x.size % ZERO_ROW_LENGTH
        np.maximum(
            flat_x[:whole].reshape(-1, ZERO_ROW_LENGTH),
            _zero_row(x.dtype),
            out=flat_y[:whole].reshape(-1, ZERO_ROW_LENGTH),
        )
        np.maximum(flat_x[whole:], x.dtype.type(0), out=flat_y[whole:])
        return y
    if out is not None:
        return np.maximum(x, x.dtype.type(0), out=out)
    return xp.maximum(x, xp.asarray(0.0, dtype=x.dtype))


def relu_backward(dy: Array, x: Array, y: Array) -> Array:
    """``dx = dy`` where ``x > 0`` else 0 (TensorFlow's choice of 0 at the kink)."""
    xp = get_array_module(dy)
    if xp is np:
        # NumPy: dy times the boolean mask in one pass, without the mask's float copy
        # (7.4 against 8.8 ms on a 25 MB conv output).
        return np.multiply(dy, y > 0, dtype=dy.dtype)
    # A 0/1 mask times dy: six times faster than ``where``.
    dx = xp.astype(y > 0, dy.dtype)
    dx *= dy
    return dx


def elu_forward(x: Array) -> Array:
    """``y = x`` for ``x > 0`` else ``exp(x) - 1`` (alpha = 1, Keras's default)."""
    xp = get_array_module(x)
    zero = xp.asarray(0.0, dtype=x.dtype)
    # max(x, 0) + expm1(min(x, 0)): one term is exactly 0 for every x (expm1(0) == 0).
    y = xp.expm1(xp.minimum(x, zero))
    y += xp.maximum(x, zero)
    return y


def elu_backward(dy: Array, x: Array, y: Array) -> Array:
    """``dx = dy`` for ``x > 0`` else ``dy * (y + 1)``."""
    xp = get_array_module(dy)
    # y > 0 exactly where x > 0, so min(y, 0) + 1 is 1 there and y + 1 = e^x elsewhere.
    dx = xp.minimum(y, xp.asarray(0.0, dtype=y.dtype))
    dx += 1.0
    dx *= dy
    return dx


def softmax_forward(x: Array) -> Array:
    """Softmax over the last axis, shifted by the row maximum for stability."""
    xp = get_array_module(x)
    shifted = x - xp.max(x, axis=-1, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=-1, keepdims=True)


def softmax_backward(dy: Array, x: Array, y: Array) -> Array:
    """Jacobian-vector product of softmax: ``dx = y * (dy - sum(dy * y))`` per row."""
    xp = get_array_module(dy)
    return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))


@dataclass(frozen=True)
class ActivationFunction:
    """An activation's name with its forward and backward functions."""

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array, Array], Array]
    #: True when backward needs the input ``x`` (otherwise only ``y`` is kept).
    needs_input: bool


ACTIVATIONS: dict[str, ActivationFunction] = {
    "linear": ActivationFunction("linear", linear_forward, linear_backward, False),
    "sigmoid": ActivationFunction("sigmoid", sigmoid_forward, sigmoid_backward, False),
    "tanh": ActivationFunction("tanh", tanh_forward, tanh_backward, False),
    "relu": ActivationFunction("relu", relu_forward, relu_backward, False),
    "elu": ActivationFunction("elu", elu_forward, elu_backward, True),
    "softmax": ActivationFunction("softmax", softmax_forward, softmax_backward, False),
}


def get_activation(name: str | None) -> ActivationFunction:
    """Look up an activation by its Keras name (``None`` means linear).

    Parameters
    ----------
    name : str or None

    Returns
    -------
    ActivationFunction
    """
    key = "linear" if name is None else str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)} (or None)."
        )
    return ACTIVATIONS[key]
