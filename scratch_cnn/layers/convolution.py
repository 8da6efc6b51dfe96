"""2-D convolution layer (Keras's cross-correlation), NHWC."""

from __future__ import annotations

from typing import Any

from scratch_cnn.functional.conv_relu_tiles import (
    TileCache,
    conv2d_relu_forward,
    conv2d_relu_weight_gradients,
    uses_linear_tiles,
    uses_relu_tiles,
)
from scratch_cnn.functional.convolution import (
    ConvCache,
    conv2d_forward,
    conv2d_input_gradient,
    conv2d_weight_gradients,
    window_geometry,
)
from scratch_cnn.functional.pool_tiles import pools_in_tiles
from scratch_cnn.functional.workspace import Workspace
from scratch_cnn.layers.base import Layer, normalize_padding, normalize_pair
from scratch_cnn.layers.pooling import MaxPooling2D
from scratch_cnn.layers.weighted import WeightedLayer

Array = Any


class Conv2D(WeightedLayer):
    """``y = activation(conv(x, kernel) + bias)``; kernel ``(KH, KW, C_in, filters)``.

    Parameters
    ----------
    filters : int
    kernel_size : int or (int, int)
    strides : int or (int, int)
    padding : {"valid", "same"}
        ``"same"`` pads so that ``OH = ceil(H / stride)``, the odd extra row/column at the
        bottom/right (Keras/TensorFlow).
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer
        As for :class:`~scratch_cnn.layers.Dense`.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        activation: str | None = None,
        data_format: str | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        **kwargs: Any,
    ) -> None:
        super().__init__(activation=activation, **kwargs)
        if int(filters) != filters or filters < 1:
            raise ValueError(f"Conv2D filters must be a positive int, got {filters!r}.")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"scratch_cnn is NHWC only (channels_last), got {data_format!r}.")
        if normalize_pair(dilation_rate, "dilation_rate") != (1, 1):
            raise ValueError(f"Conv2D dilation_rate {dilation_rate!r} is not supported.")
        self.filters = int(filters)
        self.kernel_size = normalize_pair(kernel_size, "kernel_size")
        self.strides = normalize_pair(strides, "strides")
        self.padding = normalize_padding(padding)
        self._cache: ConvCache | TileCache | None = None
        self._workspace = Workspace()
        self._shard_workspaces: dict[int, Workspace] = {}

    def replica(self, shard: int) -> Conv2D:
        twin = super().replica(shard)
        # Each shard's buffers stay its own from step to step.
        twin._workspace = self._shard_workspaces.setdefault(shard, Workspace())
        return twin

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise ValueError(
                f"Conv2D expects images (batch, height, width, channels) but gets samples of "
                f"shape {input_shape}; reshape the data to NHWC."
            )
        g = window_geometry(
            input_shape[0], input_shape[1], self.kernel_size, self.strides, self.padding
        )
        return (g.out_h, g.out_w, self.filters)

    def kernel_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*self.kernel_size, input_shape[2], self.filters)

    def bias_size(self) -> int:
        return self.filters

    def runs_relu_in_tiles(self, x: Array) -> bool:
        """Whether :meth:`forward` runs the convolution and its ReLU together, in tiles.

        NumPy, the im2col form and a bias (:func:`uses_relu_tiles`), a ReLU, and no need to
        keep the pre-activation. Such a layer's ``forward`` lap includes the ReLU and its
        ``weight gradient`` lap the ReLU's derivative
        (:mod:`scratch_cnn.functional.conv_relu_tiles`).
        """
        return (
            self.activation.name == "relu"
            and not self.keep_preactivation
            and uses_relu_tiles(x, self.params["kernel"], self.params.get("bias"), self.strides)
        )

    def runs_linear_in_tiles(self, x: Array) -> bool:
        """Whether :meth:`linear_forward` runs the convolution alone in tiles.

        Any activation but a fused ReLU, where :func:`uses_linear_tiles` finds the patch
        matrix worth keeping out of memory. The laps are those of the untiled layer.
        """
        # uses_linear_tiles implies uses_relu_tiles, so a ReLU layer that does not keep
        # its pre-activation would have run in ReLU tiles: no need to ask that again.
        fused_relu = self.activation.name == "relu" and not self.keep_preactivation
        return not fused_relu and uses_linear_tiles(
            x, self.params["kernel"], self.params.get("bias"), self.strides, self.padding
        )

    def pools_in_tiles(self, x: Array, following: Layer | None) -> bool:
        """Whether :meth:`forward` can run ``following``, a 2x2 max pooling, in its tiles.

        A ReLU in tiles (:meth:`runs_relu_in_tiles`), then a :class:`MaxPooling2D` of
        2x2 windows and stride 2 over an output of even height and width
        (:mod:`scratch_cnn.functional.pool_tiles`). ``Sequential`` then calls
        ``forward(x, pooling=following)`` and the pooling layer does nothing itself; the
        pair's ``forward`` lap includes the pooling and its ``weight gradient`` lap the
        pooling's backward pass.
        """
        if not (
            isinstance(following, MaxPooling2D)
            and following.pool_size == (2, 2)
            and following.strides == (2, 2)
            and self.runs_relu_in_tiles(x)
        ):
            return False
        out_h, out_w, _ = self.compute_output_shape(tuple(x.shape[1:]))
        return pools_in_tiles(out_h, out_w)

    def _forward_in_tiles(self, x: Array, relu: bool, pool: bool = False) -> Array:
        y, self._cache = conv2d_relu_forward(
            x,
            self.params["kernel"],
            self.params["bias"],
            self.strides,
            self.padding,
            workspace=self._workspace,
            relu=relu,
            pool=pool,
        )
        return y

    def _store_gradients(
        self,
        grad_kernel: Array,
        grad_bias: Array | None,
        grad_z: Array | None,
        conv_cache: ConvCache,
        need_input_grad: bool,
    ) -> Array | None:
        """Keep the weight gradients, then ``dL/dx`` from ``dL/dZ`` if asked; frees the cache."""
        self.grads["kernel"] = grad_kernel
        if self.use_bias:
            self.grads["bias"] = grad_bias
        self._lap("weight gradient")
        grad_input = None
        if need_input_grad:
            grad_input = conv2d_input_gradient(
                grad_z, conv_cache, self.params["kernel"], workspace=self._workspace
            )
            self._lap("input gradient")
        self._cache = None  # free the patch matrix as soon as it is used
        return grad_input

    def forward(
        self, x: Array, training: bool = False, pooling: MaxPooling2D | None = None
    ) -> Array:
        """The layer's output; with ``pooling`` (:meth:`pools_in_tiles`), that layer's output."""
        if pooling is not None:
            if not self.pools_in_tiles(x, pooling):
                raise ValueError(f"{self.name} cannot run {pooling.name} in its tiles.")
            y = self._forward_in_tiles(x, relu=True, pool=True)
            pooling.absorb()
        elif not self.runs_relu_in_tiles(x):
            return super().forward(x, training)
        else:
            y = self._forward_in_tiles(x, relu=True)
        self._lap("forward")
        self._activation_input = self._activation_output = None
        return y

    def backward(
        self, grad_output: Array, need_input_grad: bool = True, grad_is_preactivation: bool = False
    ) -> Array | None:
        cache = self._cache
        if not isinstance(cache, TileCache) or (cache.mask is None and cache.routes is None):
            return super().backward(grad_output, need_input_grad, grad_is_preactivation)
        grad_kernel, grad_bias, grad_z = conv2d_relu_weight_gradients(
            grad_output,
            self._cache,
            keep_grad_z=need_input_grad,
            grad_is_preactivation=grad_is_preactivation,
            workspace=self._workspace,
        )
        return self._store_gradients(
            grad_kernel, grad_bias, grad_z, self._cache.conv, need_input_grad
        )

    def linear_forward(self, x: Array) -> Array:
        if self.runs_linear_in_tiles(x):
            return self._forward_in_tiles(x, relu=False)
        z, self._cache = conv2d_forward(
            x,
            self.params["kernel"],
            self.params.get("bias"),
            self.strides,
            self.padding,
            workspace=self._workspace,
        )
        return z

    def linear_backward(self, grad_preactivation: Array, need_input_grad: bool) -> Array | None:
        cache = self._cache
        if isinstance(cache, TileCache):  # linear tiles
            grad_kernel, grad_bias, _ = conv2d_relu_weight_gradients(
                grad_preactivation, cache, grad_is_preactivation=True, workspace=self._workspace
            )
            cache = cache.conv
        else:
            grad_kernel, grad_bias = conv2d_weight_gradients(
                grad_preactivation, cache, tuple(self.params["kernel"].shape), self._workspace
            )
        return self._store_gradients(
            grad_kernel, grad_bias, grad_preactivation, cache, need_input_grad
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format="channels_last",
            dilation_rate=(1, 1),
        )
        return config
