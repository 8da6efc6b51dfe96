"""Numerical gradient check: backpropagation vs float64 central differences.

For every weight tensor ``W`` the check perturbs (a sample of) its entries by ``+-eps``,
evaluates the full loss ``L`` (mean loss + regularization, dropout masks frozen) and forms

    numeric = (L(W + eps) - L(W - eps)) / (2 eps)

then reports the relative error ``||analytic - numeric|| / (||analytic|| + ||numeric||)``
over the checked entries, the measure used in the thesis among the seed documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratch_cnn.backend import to_numpy
from scratch_cnn.input_checks import prepare_targets
from scratch_cnn.layers import Dropout
from scratch_cnn.losses import get_loss
from scratch_cnn.model import Sequential


@dataclass
class GradientCheckResult:
    """Relative error per weight, keyed ``"layer_name/weight_name"``."""

    errors: dict[str, float] = field(default_factory=dict)
    checked_entries: dict[str, int] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        """The largest relative error over all weights."""
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=10)
        lines = [
            f"{k:<{width}}  rel. error {v:.2e}  ({self.checked_entries[k]} entries)"
            for k, v in self.errors.items()
        ]
        return "\n".join(lines)


def gradient_check(
    model: Sequential,
    x: Any,
    y: Any,
    epsilon: float = 1e-5,
    max_entries_per_weight: int = 50,
    seed: int = 0,
) -> GradientCheckResult:
    """Compare backprop gradients of ``model`` with float64 central differences.

    The model is copied to float64 (the original is left untouched), so the check is
    meaningful whatever precision the model trains in.

    Parameters
    ----------
    model : Sequential
        Built; compiled or not (the loss defaults to categorical cross-entropy).
    x : array (N, *input_shape)
    y : array
        Integer labels or one-hot targets.
    epsilon : float
        Perturbation size.
    max_entries_per_weight : int
        Entries checked per weight tensor (all of them when the tensor is smaller).
    seed : int
        Chooses the sampled entries and the frozen dropout masks.

    Returns
    -------
    GradientCheckResult
    """
    if not model.built:
        model.build(tuple(np.shape(x)[1:]))
    twin = Sequential.from_config(
        model.get_config(), dtype="float64", seed=seed, device=model.device
    )
    twin.set_weights(model.get_weights())
    twin.loss = model.loss if model.loss is not None else get_loss("categorical_crossentropy")
    xb = twin.device.asarray(np.asarray(to_numpy(x), dtype=np.float64))
    targets = twin.device.asarray(prepare_targets(y, xb.shape[0], twin.num_classes))

    # Draw each dropout mask once and keep it, so every loss evaluation sees the same net.
    twin.forward(xb, training=True)
    for layer in twin.layers:
        if isinstance(layer, Dropout):
            layer.frozen_mask = layer._scaled_mask

    def total_loss() -> float:
        output = twin.forward(xb, training=True)
        loss, _ = twin.loss(targets, output)
        penalty = sum(float(layer.regularization_loss()) for layer in twin.layers)
        return float(loss) + penalty

    output = twin.forward(xb, training=True)
    twin.backward_from_loss(targets, output)
    analytic = {
        (layer.name, name): to_numpy(layer.grads[name]).copy()
        for layer in twin.layers
        for name in layer.weight_names
    }

    rng = np.random.default_rng(seed)
    result = GradientCheckResult()
    for layer in twin.layers:
        for name in layer.weight_names:
            weight = layer.params[name]
            shape = tuple(weight.shape)
            size = int(np.prod(shape))
            flat_indices = (
                np.arange(size)
                if size <= max_entries_per_weight
                else rng.choice(size, max_entries_per_weight, replace=False)
            )
            numeric = np.empty(len(flat_indices))
            for k, flat in enumerate(flat_indices):
                index = tuple(int(i) for i in np.unravel_index(flat, shape))
                original = float(weight[index])
                weight[index] = original + epsilon
                plus = total_loss()
                weight[index] = original - epsilon
                minus = total_loss()
                weight[index] = original
                numeric[k] = (plus - minus) / (2.0 * epsilon)
            exact = analytic[(layer.name, name)].reshape(-1)[flat_indices]
            denominator = np.linalg.norm(exact) + np.linalg.norm(numeric)
            error = 0.0 if denominator == 0 else np.linalg.norm(exact - numeric) / denominator
            key = f"{layer.name}/{name}"
            result.errors[key] = float(error)
            result.checked_entries[key] = len(flat_indices)
    return result
