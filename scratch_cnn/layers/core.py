"""Weightless layers: Flatten, Dropout, Activation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scratch_cnn.backend import get_array_module
from scratch_cnn.functional.activations import get_activation
from scratch_cnn.layers.base import BuildContext, Layer

Array = Any


class Flatten(Layer):
    """Reshape ``(N, H, W, C)`` to ``(N, H*W*C)`` in (h, w, c) order, as Keras does."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"scratch_cnn is NHWC only (channels_last), got {data_format!r}.")

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def forward(self, x: Array, training: bool = False) -> Array:
        xp = get_array_module(x)
        y = xp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))
        self._lap("forward")
        return y

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        xp = get_array_module(grad_output)
        grad_input = xp.reshape(grad_output, (grad_output.shape[0], *self.input_shape))
        self._lap("input gradient")
        return grad_input

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["data_format"] = "channels_last"
        return config


class Dropout(Layer):
    """Inverted dropout: in training, ``y = x * mask / (1 - rate)``; identity otherwise.

    The mask is drawn on the host from the model's seeded generator, so runs are
    reproducible and identical across devices.

    Parameters
    ----------
    rate : float
        Fraction of inputs set to zero, in ``[0, 1)``.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self._rng: np.random.Generator | None = None
        self._scaled_mask: Array | None = None
        #: When set (by gradient_check), this mask is reused instead of drawing a new one.
        self.frozen_mask: Array | None = None

    def build_weights(self, context: BuildContext) -> None:
        self._rng = context.rng

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            self._scaled_mask = None
            return x
        if self.frozen_mask is not None:
            self._scaled_mask = self.frozen_mask
        else:
            self._scaled_mask = self.draw_mask(tuple(x.shape))
        y = x * self._scaled_mask
        self._lap("forward")
        return y

    def draw_mask(self, shape: tuple[int, ...]) -> Array:
        """The next scaled keep-mask ``keep / (1 - rate)`` for a batch of ``shape``.

        Drawn on the host from the model's generator, so a sharded step (which draws the
        whole batch's mask in the calling thread) consumes the same random numbers.
        """
        keep = self._rng.random(shape) >= self.rate
        scaled = keep.astype(self.dtype) / np.asarray(1.0 - self.rate, dtype=self.dtype)
        return self.device.asarray(scaled)

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        if self._scaled_mask is None:
            return grad_output
        grad_input = grad_output * self._scaled_mask
        self._lap("input gradient")
        return grad_input

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(rate=self.rate, seed=None, noise_shape=None)
        return config


class Activation(Layer):
    """Apply an activation function as its own layer.

    Parameters
    ----------
    activation : str
        ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``elu`` or ``softmax``.
    """

    def __init__(self, activation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = get_activation(activation)
        self._input: Array | None = None
        self._output: Array | None = None
        #: Keep the input after forward (see WeightedLayer.keep_preactivation).
        self.keep_preactivation = False

    @property
    def preactivation(self) -> Array | None:
        """The input of the last forward pass, where it was kept."""
        return self._input

    @preactivation.setter
    def preactivation(self, value: Array | None) -> None:
        self._input = value

    def forward(self, x: Array, training: bool = False) -> Array:
        y = self.activation.forward(x)
        self._lap("activation")
        self._input = x if self.activation.needs_input or self.keep_preactivation else None
        self._output = y
        return y

    def backward(
        self, grad_output: Array, need_input_grad: bool = True, grad_is_preactivation: bool = False
    ) -> Array | None:
        if not need_input_grad:
            return None
        if grad_is_preactivation:
            return grad_output
        grad_input = self.activation.backward(grad_output, self._input, self._output)
        self._lap("activation backward")
        return grad_input

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["activation"] = self.activation.name
        return config
