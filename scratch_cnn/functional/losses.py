"""Losses and their gradients, averaged over the batch as Keras does.

Every function returns ``(loss, gradient)``: the mean loss over the batch (a 0-d array)
and its gradient with respect to the function's input, already divided by the batch size.

Categorical cross-entropy follows Keras 3 exactly. On probabilities ``p`` it renormalises
``q = p / sum(p)``, clips ``q`` to ``[eps, 1 - eps]`` with ``eps = 1e-7`` and returns
``-sum(y * log(q))``; where a probability was clipped its gradient is zero, as in Keras.
With softmax outputs the softmax and the loss are fused: for logits ``z`` with
``q = softmax(z)`` and ``m_k = 1`` where ``q_k`` was not clipped,

    d loss / d z_j = q_j * sum_k(y_k m_k) - y_j m_j

which is ``q - y`` in the usual unclipped case and never forms ``y / q``.
"""

from __future__ import annotations

from typing import Any

from scratch_cnn.backend import get_array_module

Array = Any

#: Keras's ``backend.epsilon()``, used to clip probabilities in cross-entropy.
EPSILON = 1e-7


def _clip_mask(q: Array) -> Array:
    xp = get_array_module(q)
    inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
    return xp.astype(inside, q.dtype)


def _clipped_log(q: Array) -> Array:
    xp = get_array_module(q)
    return xp.log(xp.clip(q, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy_from_softmax(
    y_true: Array, probabilities: Array
) -> tuple[Array, Array]:
    """Cross-entropy of softmax outputs, with the gradient w.r.t. the softmax's input.

    Parameters
    ----------
    y_true : array (N, C)
        One-hot (or soft) targets.
    probabilities : array (N, C)
        The softmax output ``q``.

    Returns
    -------
    loss : 0-d array
        ``mean_n -sum_k y_nk log(clip(q_nk))``.
    grad_logits : array (N, C)
        ``(q * sum(y m) - y m) / N``: the gradient w.r.t. the logits ``z``.
    """
    xp = get_array_module(probabilities)
    batch = probabilities.shape[0]
    # Keras renormalises before clipping; for a softmax output the sum is 1 up to rounding.
    q = probabilities / xp.sum(probabilities, axis=-1, keepdims=True)
    loss = -xp.sum(y_true * _clipped_log(q)) / batch
    weighted_targets = y_true * _clip_mask(q)
    grad = q * xp.sum(weighted_targets, axis=-1, keepdims=True) - weighted_targets
    return loss, grad / batch


def categorical_crossentropy_from_probabilities(
    y_true: Array, probabilities: Array
) -> tuple[Array, Array]:
    """Cross-entropy of arbitrary non-negative outputs (e.g. a sigmoid layer), Keras-style.

    Parameters
    ----------
    y_true : array (N, C)
    probabilities : array (N, C)

    Returns
    -------
    loss : 0-d array
    grad_probabilities : array (N, C)
        ``(sum_k y_k m_k - y_j m_j / q_j) / (S N)`` with ``S = sum(p)``, ``q = p / S``.
    """
    xp = get_array_module(probabilities)
    batch = probabilities.shape[0]
    total = xp.sum(probabilities, axis=-1, keepdims=True)
    q = probabilities / total
    loss = -xp.sum(y_true * _clipped_log(q)) / batch
    weighted_targets = y_true * _clip_mask(q)
    safe_q = xp.clip(q, EPSILON, 1.0)
    grad = (xp.sum(weighted_targets, axis=-1, keepdims=True) - weighted_targets / safe_q) / total
    return loss, grad / batch


def categorical_crossentropy_from_logits(y_true: Array, logits: Array) -> tuple[Array, Array]:
    """Cross-entropy of raw logits: ``-sum(y * log_softmax(z))``, no clipping.

    Parameters
    ----------
    y_true : array (N, C)
    logits : array (N, C)

    Returns
    -------
    loss : 0-d array
    grad_logits : array (N, C)
        ``(softmax(z) * sum(y) - y) / N``.
    """
    xp = get_array_module(logits)
    batch = logits.shape[0]
    shifted = logits - xp.max(logits, axis=-1, keepdims=True)
    log_normaliser = xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    log_softmax = shifted - log_normaliser
    loss = -xp.sum(y_true * log_softmax) / batch
    grad = xp.exp(log_softmax) * xp.sum(y_true, axis=-1, keepdims=True) - y_true
    return loss, grad / batch


def mean_squared_error(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """Mean squared error: mean over classes, then over the batch (Keras's reduction).

    Parameters
    ----------
    y_true, y_pred : array (N, C)

    Returns
    -------
    loss : 0-d array
    grad_pred : array (N, C)
        ``2 (y_pred - y_true) / (N C)``.
    """
    xp = get_array_module(y_pred)
    difference = y_pred - y_true
    count = difference.shape[0] * difference.shape[-1]
    loss = xp.sum(difference * difference) / count
    return loss, difference * (2.0 / count)
