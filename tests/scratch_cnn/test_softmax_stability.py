"""Softmax and categorical cross-entropy on 1000 float32 logits of magnitude up to 1e3.

``exp`` overflows float32 above ~88.7, so a softmax (or log-sum-exp) without the row-max
shift returns inf/NaN and raises numpy's overflow warning here (warnings are errors, and
the checks below turn numpy's floating-point warnings on explicitly, whatever the global
``np.seterr`` state). The references are computed independently in float64 with SciPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

import scratch_cnn as sc
from scratch_cnn.functional import activations, losses

CLASSES = 1000
BATCH = 6


@contextmanager
def strict_floats() -> Iterator[None]:
    """Overflow, invalid operations and division by zero raise; underflow to 0 is fine."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            yield


def large_logits() -> tuple[np.ndarray, np.ndarray]:
    """Logits in [-1000, 1000] (float32) and one-hot targets, some far below the max."""
    rng = np.random.default_rng(11)
    logits = rng.uniform(-1000.0, 1000.0, size=(BATCH, CLASSES)).astype(np.float32)
    logits[0, :] = 1000.0  # a flat row at the top of the range: softmax is uniform
    logits[1, 5] = 1000.0
    logits[1, 6] = 999.5  # two near-equal maxima, both far above exp's float32 range
    targets = np.zeros((BATCH, CLASSES), dtype=np.float32)
    targets[np.arange(BATCH), [3, 5, 0, 0, 0, 0]] = 1.0
    targets[2, 0] = 0.0
    targets[2, int(np.argmax(logits[2]))] = 1.0  # target is the row's maximum
    targets[3, 0] = 0.0
    targets[3, int(np.argmin(logits[3]))] = 1.0  # target ~2000 below the maximum
    return logits, targets


def reference_softmax(logits: np.ndarray) -> np.ndarray:
    return softmax(logits.astype(np.float64), axis=-1)


def check_finite(*arrays: Any) -> None:
    for array in arrays:
        assert np.all(np.isfinite(np.asarray(array))), "inf or NaN in the result"


def test_softmax_forward_and_backward_on_large_float32_logits():
    logits, _ = large_logits()
    dy = np.random.default_rng(2).normal(size=logits.shape).astype(np.float32)
    with strict_floats():
        y = activations.softmax_forward(logits)
        dx = activations.softmax_backward(dy, logits, y)
    check_finite(y, dx)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    expected = reference_softmax(logits)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(y[0], 1.0 / CLASSES, rtol=1e-5)
    dy64 = dy.astype(np.float64)
    expected_dx = expected * (dy64 - np.sum(dy64 * expected, axis=-1, keepdims=True))
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-3, atol=1e-5)


def test_crossentropy_from_logits_on_large_float32_logits():
    logits, targets = large_logits()
    with strict_floats():
        loss, grad = losses.categorical_crossentropy_from_logits(targets, logits)
    check_finite(loss, grad)
    log_q = log_softmax(logits.astype(np.float64), axis=-1)
    expected_loss = -np.sum(targets * log_q) / BATCH
    assert expected_loss > 300  # one target sits ~2000 below its row's maximum
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    expected_grad = (np.exp(log_q) - targets) / BATCH
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-3, atol=1e-6)


def test_crossentropy_of_softmax_on_large_float32_logits_clips_like_keras():
    logits, targets = large_logits()
    with strict_floats():
        probabilities = activations.softmax_forward(logits)
        loss, grad = losses.categorical_crossentropy_from_softmax(targets, probabilities)
    check_finite(loss, grad)
    q = reference_softmax(logits)
    eps = losses.EPSILON
    expected_loss = -np.sum(targets * np.log(np.clip(q, eps, 1.0 - eps))) / BATCH
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-4)
    inside = ((q >= eps) & (q <= 1.0 - eps)).astype(np.float64)
    weighted = targets * inside
    expected_grad = (q * weighted.sum(axis=-1, keepdims=True) - weighted) / BATCH
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-3, atol=1e-6)


def identity_softmax_model() -> sc.Sequential:
    """Dense(1000, softmax) whose logits equal its input: kernel I, bias 0."""
    model = sc.Sequential(
        [sc.Input((CLASSES,)), sc.Dense(CLASSES, activation="softmax")], seed=0, dtype="float32"
    )
    model.set_weights([np.eye(CLASSES, dtype=np.float32), np.zeros(CLASSES, dtype=np.float32)])
    return model


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda: "categorical_crossentropy",
        lambda: sc.losses.CategoricalCrossentropy(softmax_logits=True),
    ],
    ids=["clipped", "softmax_logits"],
)
def test_model_loss_and_gradients_on_large_float32_logits(make_loss: Callable[[], Any]):
    logits, targets = large_logits()
    model = identity_softmax_model()
    model.compile("sgd", make_loss())
    with strict_floats():
        probabilities = model.predict(logits, verbose=0)
        gradients = model.compute_gradients(logits, targets)
        loss = model.evaluate(logits, targets, verbose=0, return_dict=True)["loss"]
    check_finite(probabilities, *gradients)
    np.testing.assert_allclose(probabilities, reference_softmax(logits), rtol=1e-4, atol=1e-7)
    assert np.isfinite(loss) and loss > 0
