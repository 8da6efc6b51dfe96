"""Max and average pooling layers."""

from __future__ import annotations

from typing import Any

from scratch_cnn.functional.convolution import window_geometry
from scratch_cnn.functional.pooling import (
    PoolCache,
    average_pool2d_backward,
    average_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from scratch_cnn.layers.base import Layer, normalize_padding, normalize_pair

Array = Any


class _Pooling2D(Layer):
    """Common arguments of the pooling layers (Keras semantics).

    Parameters
    ----------
    pool_size : int or (int, int)
    strides : int or (int, int), optional
        Defaults to ``pool_size``; smaller strides give overlapping windows.
    padding : {"valid", "same"}
    """

    _forward = staticmethod(max_pool2d_forward)
    _backward = staticmethod(max_pool2d_backward)

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"scratch_cnn is NHWC only (channels_last), got {data_format!r}.")
        self.pool_size = normalize_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_pair(strides, "strides")
        self.padding = normalize_padding(padding)
        self._cache: PoolCache | None = None
        #: The layer before ran this pooling in its own tiles in the last forward pass
        #: (:meth:`scratch_cnn.layers.Conv2D.pools_in_tiles`): pass gradients straight back.
        self.absorbed = False

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects images (batch, height, width, channels) but "
                f"gets samples of shape {input_shape}."
            )
        g = window_geometry(
            input_shape[0], input_shape[1], self.pool_size, self.strides, self.padding
        )
        return (g.out_h, g.out_w, input_shape[2])

    def forward(self, x: Array, training: bool = False) -> Array:
        self.absorbed = False
        y, self._cache = type(self)._forward(x, self.pool_size, self.strides, self.padding)
        self._lap("pooling forward")
        return y

    def absorb(self) -> None:
        """Mark the last forward pass as run by the layer before (see :attr:`absorbed`)."""
        self.absorbed, self._cache = True, None

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self.absorbed:  # the layer before takes the pooled output's gradient
            return grad_output
        if not need_input_grad:
            return None
        grad_input = type(self)._backward(grad_output, self._cache)
        self._cache = None
        self._lap("pooling backward")
        return grad_input

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format="channels_last",
        )
        return config


class MaxPooling2D(_Pooling2D):
    """Max pooling; gradients go to each window's (first) maximum, overlaps summed."""


class AveragePooling2D(_Pooling2D):
    """Average pooling; with ``"same"`` padding the padded cells are not counted."""

    _forward = staticmethod(average_pool2d_forward)
    _backward = staticmethod(average_pool2d_backward)
