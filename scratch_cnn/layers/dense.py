"""Fully connected layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch_cnn import parallel
from scratch_cnn.backend import get_array_module
from scratch_cnn.layers.weighted import WeightedLayer

Array = Any


class Dense(WeightedLayer):
    """``y = activation(x @ kernel + bias)`` with ``kernel`` of shape ``(in, units)``.

    Backward: ``dW = x^T dz``, ``db = 1^T dz`` (a matrix-vector product, faster than a
    reduction), ``dx = dz W^T``.

    Parameters
    ----------
    units : int
        Output size.
    activation : str, optional
        ``linear`` (default), ``sigmoid``, ``tanh``, ``relu``, ``elu`` or ``softmax``.
    use_bias : bool
    kernel_initializer, bias_initializer : str, dict or Initializer
    kernel_regularizer : L2, optional
    """

    def __init__(self, units: int, activation: str | None = None, **kwargs: Any) -> None:
        super().__init__(activation=activation, **kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"Dense units must be a positive int, got {units!r}.")
        self.units = int(units)
        self._input: Array | None = None
        #: Set during a sharded step: each shard keeps ``dz`` and the kernel gradient is
        #: computed once from the whole batch (a kernel-sized sum of shard gradients would
        #: cost more than the product itself).
        self.defer_weight_gradient = False
        self._grad_preactivation: Array | None = None

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ValueError(
                f"Dense expects flat inputs (batch, features) but gets samples of shape "
                f"{input_shape}; put a Flatten() layer before it."
            )
        return (self.units,)

    def kernel_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (input_shape[0], self.units)

    def bias_size(self) -> int:
        return self.units

    def linear_forward(self, x: Array) -> Array:
        self._input = x
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        return z

    def linear_backward(self, grad_preactivation: Array, need_input_grad: bool) -> Array | None:
        if self.defer_weight_gradient:
            self._grad_preactivation = grad_preactivation
        else:
            self._weight_gradients(self._input, grad_preactivation)
            self._lap("weight gradient")
        if not need_input_grad:
            return None
        grad_input = grad_preactivation @ self.params["kernel"].T
        self._lap("input gradient")
        return grad_input

    def _weight_gradients(self, x: Array, grad_preactivation: Array, threads: int = 1) -> None:
        xp = get_array_module(grad_preactivation)
        if (
            threads > 1
            and xp is np
            and x.shape[0] * x.shape[1] * grad_preactivation.shape[1] >= 1 << 24
        ):
            self.grads["kernel"] = parallel.matmul_transposed(x, grad_preactivation, threads)
        else:
            self.grads["kernel"] = x.T @ grad_preactivation
        if self.use_bias:
            ones = xp.ones(
                (grad_preactivation.shape[0],),
                dtype=grad_preactivation.dtype,
                device=grad_preactivation.device,
            )
            self.grads["bias"] = ones @ grad_preactivation

    def merge_shard_gradients(self, replicas: list[Dense]) -> None:
        if not self.defer_weight_gradient:
            super().merge_shard_gradients(replicas)
            return
        xp = get_array_module(self._input)
        shards = [self, *replicas]
        x = xp.concat([shard._input for shard in shards], axis=0)
        grad = xp.concat([shard._grad_preactivation for shard in shards], axis=0)
        self._weight_gradients(x, grad, threads=len(shards))
        for shard in shards:
            shard._grad_preactivation = None
        self._lap("weight gradient")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["units"] = self.units
        return config
