"""The layer protocol shared by every scratch_cnn layer.

A layer owns its weights in ``params`` and their gradients in ``grads`` (dicts keyed by
Keras weight names, ``"kernel"`` then ``"bias"``). ``forward(x, training)`` caches what
``backward`` needs; ``backward(dy)`` fills ``grads`` and returns ``dx``. Optimizers only
ever see those dicts. A layer reports the parts of its work to a
:class:`~scratch_cnn.profiler.StepProfiler` when one is attached (``profiler``, ``None``
by default: then a lap costs one attribute test).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from scratch_cnn.backend import Device, to_numpy
from scratch_cnn.profiler import StepProfiler

Array = Any


@dataclass
class BuildContext:
    """Everything a layer needs to create its weights."""

    device: Device
    dtype: str
    rng: np.random.Generator


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower().replace("2_d", "2d")


class Layer:
    """Base class of all layers.

    Parameters
    ----------
    name : str, optional
        Layer name; the model assigns Keras-style unique names (``dense``, ``dense_1``).
    input_shape : tuple of int, optional
        Shape of one sample (without the batch axis), allowed on a model's first layer.
    """

    #: Names of the trainable weights in Keras's order.
    weight_names: tuple[str, ...] = ()
    #: Set by ``Sequential.set_profiler``; None (the default) switches the laps off.
    profiler: StepProfiler | None = None

    def __init__(
        self, name: str | None = None, input_shape: tuple[int, ...] | None = None, **kwargs: Any
    ) -> None:
        unknown = set(kwargs) - {"dtype", "trainable", "batch_input_shape"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unsupported argument(s) {sorted(unknown)}; "
                "see the layer's docstring for what scratch_cnn supports."
            )
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape: tuple[int, ...] | None = None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.built = False
        self.device: Device | None = None
        self.dtype = "float32"

    @property
    def default_name(self) -> str:
        """Keras's base name for this class, e.g. ``max_pooling2d``."""
        return _snake_case(type(self).__name__)

    def build(self, input_shape: tuple[int, ...], context: BuildContext) -> tuple[int, ...]:
        """Create weights for a sample shape and return the output sample shape."""
        self.input_shape = tuple(input_shape)
        self.device = context.device
        self.dtype = context.dtype
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.build_weights(context)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Output sample shape for an input sample shape (identity by default)."""
        return input_shape

    def build_weights(self, context: BuildContext) -> None:
        """Create ``self.params`` (nothing for weightless layers)."""

    def forward(self, x: Array, training: bool = False) -> Array:
        """Compute the layer's output for a batch, caching what backward needs."""
        raise NotImplementedError

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        """Fill ``self.grads`` and return ``dL/dx`` (``None`` when not needed)."""
        raise NotImplementedError

    def _lap(self, part: str) -> None:
        """Tell the attached profiler that ``part`` of this layer's work has finished."""
        if self.profiler is not None:
            self.profiler.lap(self.name, part)

    def replica(self, shard: int) -> Layer:
        """A twin that runs batch shard ``shard`` in another thread (see ``scratch_cnn.parallel``).

        It shares this layer's ``params`` (the same dict) and configuration, and owns its
        caches and ``grads``; it reports to no profiler.
        """
        twin = copy.copy(self)
        twin.grads = {}
        twin.profiler = None
        return twin

    def merge_shard_gradients(self, replicas: list[Layer]) -> None:
        """Add the other shards' gradients to ``grads`` (after a sharded backward pass)."""
        for name in self.grads:
            total = self.grads[name]
            for twin in replicas:
                total += twin.grads[name]

    def regularization_loss(self) -> Array | float:
        """Penalty this layer adds to the loss (0 without a regularizer)."""
        return 0.0

    def add_regularization_gradients(self) -> None:
        """Add the regularizer's gradient to ``self.grads`` (no-op by default)."""

    # -- weights -----------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Weights as host NumPy arrays, in Keras's order and layout."""
        return [to_numpy(self.params[name]).copy() for name in self.weight_names]

    def set_weights(self, weights: list[Any]) -> None:
        """Replace the weights (Keras order and layout); shapes must match exactly."""
        if len(weights) != len(self.weight_names):
            raise ValueError(
                f"layer {self.name!r} has {len(self.weight_names)} weight arrays "
                f"{list(self.weight_names)}, got {len(weights)}."
            )
        for name, value in zip(self.weight_names, weights, strict=True):
            expected = tuple(self.params[name].shape)
            if tuple(np.shape(value)) != expected:
                raise ValueError(
                    f"layer {self.name!r} weight {name!r} has shape {expected}, got "
                    f"{tuple(np.shape(value))}; the layouts are Keras's: Dense (in, out), "
                    "Conv2D (kh, kw, c_in, c_out)."
                )
            self.params[name] = self.device.asarray(to_numpy(value), dtype=self.dtype)

    def count_params(self) -> int:
        """Number of scalar weights."""
        return int(sum(int(np.prod(self.params[n].shape)) for n in self.weight_names))

    def get_config(self) -> dict[str, Any]:
        """Keras-form config of this layer (``name`` plus its own arguments)."""
        return {"name": self.name, "trainable": True, "dtype": self.dtype}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} output_shape={self.output_shape}>"


def normalize_pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    """Turn ``k`` or ``(kh, kw)`` into a pair of positive ints, Keras-style.

    Parameters
    ----------
    value : int or pair of int
    what : str
        Argument name for the error message.

    Returns
    -------
    (int, int)
    """
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{what} must be a positive int or a pair of them, got {value!r}.")
    return int(pair[0]), int(pair[1])


def normalize_padding(padding: str) -> str:
    """Validate ``"valid"``/``"same"`` (case-insensitive)."""
    value = str(padding).lower()
    if value not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    return value
