"""Shared machinery of layers that own a kernel, a bias and an activation (Dense, Conv2D)."""

from __future__ import annotations

from typing import Any

from scratch_cnn.functional.activations import get_activation
from scratch_cnn.initializers import get_initializer
from scratch_cnn.layers.base import BuildContext, Layer
from scratch_cnn.regularizers import get_regularizer

Array = Any


class WeightedLayer(Layer):
    """A layer ``y = activation(linear(x; kernel) + bias)``.

    Subclasses implement ``kernel_shape``, ``linear_forward`` and ``linear_backward``; this
    class adds the bias, the activation, the L2 penalty and the fused-loss entry point
    (``backward(dz, grad_is_preactivation=True)`` skips the activation's derivative, which
    the model uses for softmax followed by cross-entropy).
    """

    def __init__(
        self,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = get_regularizer(kernel_regularizer)
        self.weight_names = ("kernel", "bias") if self.use_bias else ("kernel",)
        self._activation_input: Array | None = None
        self._activation_output: Array | None = None
        #: Keep the activation's input after forward (the model sets it on a softmax output
        #: layer whose loss is taken from the logits).
        self.keep_preactivation = False

    @property
    def preactivation(self) -> Array | None:
        """The activation's input of the last forward pass, where it was kept."""
        return self._activation_input

    @preactivation.setter
    def preactivation(self, value: Array | None) -> None:
        self._activation_input = value

    def kernel_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the kernel for an input sample shape."""
        raise NotImplementedError

    def bias_size(self) -> int:
        """Number of bias values (units or filters)."""
        raise NotImplementedError

    def build_weights(self, context: BuildContext) -> None:
        shape = self.kernel_shape(self.input_shape)
        kernel = self.kernel_initializer(shape, context.dtype, context.rng)
        self.params = {"kernel": context.device.asarray(kernel)}
        if self.use_bias:
            bias = self.bias_initializer((self.bias_size(),), context.dtype, context.rng)
            self.params["bias"] = context.device.asarray(bias)

    def linear_forward(self, x: Array) -> Array:
        """``x`` times the kernel plus the bias (before the activation)."""
        raise NotImplementedError

    def linear_backward(self, grad_preactivation: Array, need_input_grad: bool) -> Array | None:
        """Fill ``grads`` from ``dL/dz`` and return ``dL/dx``.

        Implementations lap ``"weight gradient"`` and ``"input gradient"`` (see
        :meth:`Layer._lap`) after computing each.
        """
        raise NotImplementedError

    def forward(self, x: Array, training: bool = False) -> Array:
        z = self.linear_forward(x)
        self._lap("forward")
        y = self.activation.forward(z)
        self._lap("activation")
        keep = self.activation.needs_input or self.keep_preactivation
        self._activation_input = z if keep else None
        self._activation_output = y
        return y

    def backward(
        self, grad_output: Array, need_input_grad: bool = True, grad_is_preactivation: bool = False
    ) -> Array | None:
        if grad_is_preactivation:
            grad_z = grad_output
        else:
            grad_z = self.activation.backward(
                grad_output, self._activation_input, self._activation_output
            )
            self._lap("activation backward")
        return self.linear_backward(grad_z, need_input_grad)

    def regularization_loss(self) -> Array | float:
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer.penalty(self.params["kernel"])

    def add_regularization_gradients(self) -> None:
        if self.kernel_regularizer is not None:
            # In place: the gradient is this step's own array.
            self.grads["kernel"] += self.kernel_regularizer.gradient(self.params["kernel"])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            activation=self.activation.name,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer.get_config(),
            bias_initializer=self.bias_initializer.get_config(),
            kernel_regularizer=(
                self.kernel_regularizer.get_config() if self.kernel_regularizer else None
            ),
        )
        return config
