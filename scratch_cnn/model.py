"""``Sequential``: a stack of layers with Keras's API (compile, fit, predict, weights, config)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from scratch_cnn import parallel, training
from scratch_cnn.backend import Device, check_dtype, get_array_module, resolve_device, to_numpy
from scratch_cnn.functional.activations import ACTIVATIONS
from scratch_cnn.input_checks import InputValidationError, check_features, prepare_targets
from scratch_cnn.layers import LAYER_CLASSES, Activation, Conv2D, Dropout, Layer
from scratch_cnn.layers.base import BuildContext
from scratch_cnn.layers.weighted import WeightedLayer
from scratch_cnn.losses import Loss, get_loss
from scratch_cnn.optimizers import Optimizer, get_optimizer
from scratch_cnn.profiler import StepProfiler

Array = Any

# Keras config keys we accept only at their default ("inert") value.
_INERT_KEYS = {
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "noise_shape": None,
    "groups": 1,
    "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None,
}
_IGNORED_KEYS = {"trainable", "dtype", "seed", "build_config", "batch_input_shape"}


class Input:
    """Declares the sample shape, as ``keras.Input(shape)`` does.

    Parameters
    ----------
    shape : tuple of int
        One sample's shape, e.g. ``(28, 28, 1)``.
    """

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = tuple(int(s) for s in shape)


class Sequential:
    """A linear stack of layers, trained with backpropagation.

    Parameters
    ----------
    layers : sequence of Layer (optionally starting with :class:`Input`)
    name : str
    dtype : {"float32", "float64"}
        Precision of weights and computation.
    seed : int, optional
        Seeds weight initialisation, dropout masks and shuffling.
    device : {"cpu", "gpu"} or Device, optional
        Defaults to ``$CNNBENCH_DEVICE`` or the CPU.
    input_shape : tuple of int, optional
        Alternative to an :class:`Input` first element.
    """

    def __init__(
        self,
        layers: Sequence[Layer | Input] | None = None,
        name: str = "sequential",
        dtype: str = "float32",
        seed: int | None = None,
        device: str | Device | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.dtype = check_dtype(dtype)
        self.seed = seed
        self.device = resolve_device(device)
        self.rng = np.random.default_rng(seed)
        self.layers: list[Layer] = []
        self.input_shape: tuple[int, ...] | None = (
            tuple(input_shape) if input_shape is not None else None
        )
        self.optimizer: Optimizer | None = None
        self.loss: Loss | None = None
        self.metrics: list[str] = []
        self.built = False
        #: Attached by :meth:`set_profiler`; None (the default) switches the laps off.
        self.profiler: StepProfiler | None = None
        for layer in layers or []:
            self.add(layer)
        if self.input_shape is not None and self.layers:
            self.build()  # as Keras does when the input shape is declared up front

    # -- structure -------------------------------------------------------------------------
    def add(self, layer: Layer | Input) -> None:
        """Append a layer (or set the input shape with an :class:`Input`)."""
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError("Input(...) must come before every layer.")
            self.input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential takes scratch_cnn layers, got {type(layer).__name__}; Keras layers "
                "convert with keras_models.to_scratch(keras_model)."
            )
        if not self.layers and self.input_shape is None and layer.input_shape is not None:
            self.input_shape = layer.input_shape
        self.layers.append(layer)
        self.built = False

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Create all weights for a sample shape (done automatically on first use).

        Parameters
        ----------
        input_shape : tuple of int, optional
            One sample's shape; defaults to the declared input shape.
        """
        if input_shape is not None:
            self.input_shape = tuple(int(s) for s in input_shape)
        if self.input_shape is None:
            raise ValueError(
                "the model's input shape is unknown: start with scratch_cnn.Input(shape), pass "
                "input_shape=..., or call fit/predict with data."
            )
        if not self.layers:
            raise ValueError("the model has no layers.")
        context = BuildContext(self.device, self.dtype, self.rng)
        used: dict[str, int] = {}
        shape = self.input_shape
        for index, layer in enumerate(self.layers):
            if layer.name is None or layer.name in used:
                base = layer.name or layer.default_name
                count = used.get(base, 0)
                layer.name = base if count == 0 else f"{base}_{count}"
                while layer.name in used:
                    count += 1
                    layer.name = f"{base}_{count}"
                used[base] = count + 1
            used.setdefault(layer.name, 1)
            try:
                shape = layer.build(shape, context)
            except ValueError as error:
                raise ValueError(
                    f"layer {index} ({layer.name}, {type(layer).__name__}): {error}"
                ) from error
        self.output_shape = shape
        self._work_per_sample = sum(_work_per_sample(layer) for layer in self.layers)
        # A layer needs dL/dx only if some earlier layer has weights to train.
        self._needs_input_grad = [
            any(earlier.weight_names for earlier in self.layers[:index])
            for index in range(len(self.layers))
        ]
        self.built = True

    def set_profiler(self, profiler: StepProfiler | None) -> None:
        """Report every part of a training step to ``profiler`` (``None`` stops it).

        Parameters
        ----------
        profiler : StepProfiler or None
            Laps are charged per layer and part (see :mod:`scratch_cnn.profiler`); ``fit``
            opens and closes one profiler step per batch.
        """
        self.profiler = profiler
        for layer in self.layers:
            layer.profiler = profiler

    def _lap(self, part: str) -> None:
        if self.profiler is not None:
            self.profiler.lap("model", part)

    def _ensure_built(self, x: Any) -> None:
        if not self.built:
            self.build(self.input_shape or tuple(x.shape[1:]))

    @property
    def num_classes(self) -> int:
        """Size of the output layer."""
        return int(math.prod(self.output_shape))

    # -- compile ---------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | dict | Optimizer = "adam",
        loss: str | dict | Loss = "categorical_crossentropy",
        metrics: Sequence[str] | None = None,
    ) -> None:
        """Choose the optimizer, loss and metrics.

        Parameters
        ----------
        optimizer : "sgd", "adam", config dict or Optimizer
        loss : "categorical_crossentropy", "mse", config dict or Loss
        metrics : list of str, optional
            ``["accuracy"]`` is supported.
        """
        self.optimizer = get_optimizer(optimizer)
        self.loss = get_loss(loss)
        logits_loss = self._fused_softmax() and getattr(self.loss, "softmax_logits", False)
        for layer in self.layers:
            if hasattr(layer, "keep_preactivation"):
                layer.keep_preactivation = False
        if logits_loss:
            self.layers[-1].keep_preactivation = True
        self.metrics = [m for m in (metrics or []) if m is not None]
        unknown = [m for m in self.metrics if m not in ("accuracy", "acc")]
        if unknown:
            raise ValueError(f"unsupported metric(s) {unknown}: scratch_cnn computes 'accuracy'.")

    def _fused_softmax(self) -> bool:
        last = self.layers[-1]
        ends_in_softmax = isinstance(last, WeightedLayer | Activation) and (
            last.activation is ACTIVATIONS["softmax"]
        )
        return bool(ends_in_softmax and self.loss is not None and self.loss.fused_with_softmax)

    def output_loss(self, y_true: Array, output: Array) -> tuple[Array, Array]:
        """Loss of the last forward pass's ``output`` and its gradient (no regularization).

        With a softmax output and cross-entropy the gradient is w.r.t. the softmax's input
        (the fused form), otherwise w.r.t. ``output``.
        """
        if self.loss is None:
            raise RuntimeError("call compile(...) before computing a loss.")
        if self._fused_softmax():
            return self.loss.fused(y_true, output, self.layers[-1].preactivation)
        return self.loss(y_true, output)

    # -- passes ----------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Run a device batch through every layer (inference in shards, see :meth:`train_step`)."""
        if not training:
            shards = self._shards(x)
            if len(shards) > 1:
                return self._sharded_forward(x, shards)
            with self._one_thread_if_light(x):
                return _forward_layers(self.layers, x, training)
        return _forward_layers(self.layers, x, training)

    def backward_from_loss(self, y_true: Array, output: Array) -> Array:
        """Compute the loss of ``output`` and backpropagate it; return the loss (0-d).

        The regularization penalty is included in the returned loss and its gradient is
        added to each layer's ``grads``.
        """
        if self.loss is None:
            raise RuntimeError("call compile(...) before training.")
        loss, grad = self.output_loss(y_true, output)
        self._lap("loss")
        self._backward_layers(self.layers, grad)
        return self._add_regularization(loss)

    def _backward_layers(self, layers: list[Layer], grad: Array) -> None:
        fused = self._fused_softmax()
        for index in range(len(layers) - 1, -1, -1):
            layer = layers[index]
            need = self._needs_input_grad[index]
            if fused and index == len(layers) - 1:
                grad = layer.backward(grad, need_input_grad=need, grad_is_preactivation=True)
            else:
                grad = layer.backward(grad, need_input_grad=need)

    def _add_regularization(self, loss: Array) -> Array:
        for layer in self.layers:
            if layer.weight_names:
                loss = loss + layer.regularization_loss()
                layer.add_regularization_gradients()
        self._lap("regularization")
        return loss

    def _weight_slots(self) -> list[tuple[Any, dict, dict, str]]:
        return [
            ((index, name), layer.params, layer.grads, name)
            for index, layer in enumerate(self.layers)
            for name in layer.weight_names
        ]

    def train_step(self, x: Array, y_true: Array) -> tuple[Array, Array]:
        """One optimizer step on a device batch; returns ``(loss, correct count)`` arrays.

        On the CPU with more than one BLAS thread and enough work per sample, the batch is
        split into one shard per thread and each shard runs through the layers in its own
        thread (:mod:`scratch_cnn.parallel`); the loss, the gradient sums, the regularizer
        and the optimizer then run once on the whole batch.
        """
        shards = self._shards(x)
        if len(shards) > 1:
            # BLAS stays at one thread for the whole step: the shards, the gradient sums
            # and the optimizer share their work out to the threads themselves, and a
            # multi-threaded BLAS call between them would wait on spinning threads.
            with parallel.blas_threads_limited_to(1):
                output, loss = self._sharded_forward_backward(x, y_true, shards)
                self.optimizer.apply(self._weight_slots())
        else:
            with self._one_thread_if_light(x):
                output = _forward_layers(self.layers, x, training=True)
                loss = self.backward_from_loss(y_true, output)
                self.optimizer.apply(self._weight_slots())
        self._lap("optimizer update")
        return loss, training.count_correct(output, y_true)

    # -- batch shards on CPU threads (scratch_cnn.parallel) ---------------------------------
    def shard_count(self, batch_size: int) -> int:
        """How many shards a training batch of this size is split into (1: not split).

        On the CPU, for the planned thread count (:mod:`scratch_cnn.parallel`); always 1
        on a GPU or before the model is built.

        Parameters
        ----------
        batch_size : int

        Returns
        -------
        int
        """
        if self.device.name != "cpu" or not self.built:
            return 1
        return parallel.shard_count(int(batch_size), self._work_per_sample)

    def _shards(self, x: Array) -> list[slice]:
        """Row slices of ``x`` to run in parallel; a single slice when not worth it."""
        batch = int(x.shape[0])
        return parallel.shard_slices(batch, self.shard_count(batch))

    def runs_on_one_thread(self, batch_size: int) -> bool:
        """Whether a batch of this size runs with BLAS held to one thread.

        The engine's rule for steps too light to share between threads
        (:func:`scratch_cnn.parallel.is_light`); always False on a GPU or before the model
        is built. The harness records it, since the BLAS thread count it sets does not
        then apply to the training steps.

        Parameters
        ----------
        batch_size : int

        Returns
        -------
        bool
        """
        if self.device.name != "cpu" or not self.built:
            return False
        return parallel.is_light(int(batch_size), self._work_per_sample)

    def _one_thread_if_light(self, x: Array) -> AbstractContextManager:
        """BLAS held to one thread for a step too light to share (``parallel.is_light``)."""
        if self.runs_on_one_thread(int(x.shape[0])):
            return parallel.blas_threads_limited_to(1)
        return nullcontext()

    def _replicas(self, count: int) -> list[list[Layer]]:
        """The layers per shard: shard 0 is the model's own, the others their twins."""
        return [self.layers] + [
            [layer.replica(shard) for layer in self.layers] for shard in range(1, count)
        ]

    def _sharded_forward(self, x: Array, shards: list[slice]) -> Array:
        xp = get_array_module(x)
        replicas = self._replicas(len(shards))
        outputs = self._run_shards(
            lambda r: _forward_layers(replicas[r], x[shards[r]], training=False), len(shards)
        )
        self._gather_preactivation(replicas)
        return xp.concat(outputs, axis=0)

    def _gather_preactivation(self, replicas: list[list[Layer]]) -> None:
        # A loss taken from the logits needs the whole batch's, not shard 0's.
        last = self.layers[-1]
        if getattr(last, "keep_preactivation", False):
            xp = get_array_module(last.preactivation)
            last.preactivation = xp.concat([layers[-1].preactivation for layers in replicas])

    def _run_shards(self, task: Callable[[int], Any], count: int) -> list[Any]:
        # The batch's split is planned (parallel.plan_shards_for); the threads that run
        # it are the ones the engine has now, each taking several shards when fewer.
        threads = min(count, parallel.engine_threads())
        with parallel.blas_threads_limited_to(1):
            results = parallel.thread_team(threads).map(task, count)
        self._lap("shard wait")
        return results

    def _sharded_forward_backward(
        self, x: Array, y_true: Array, shards: list[slice]
    ) -> tuple[Array, Array]:
        if self.loss is None:
            raise RuntimeError("call compile(...) before training.")
        xp = get_array_module(x)
        deferred = [layer for layer in self.layers if hasattr(layer, "defer_weight_gradient")]
        dropouts = [
            (index, layer)
            for index, layer in enumerate(self.layers)
            if isinstance(layer, Dropout) and layer.rate > 0 and layer.frozen_mask is None
        ]
        for layer in deferred:
            layer.defer_weight_gradient = True
        try:
            replicas = self._replicas(len(shards))
            # Dropout masks for the whole batch, drawn here: the same random numbers as
            # an unsharded step, whatever order the threads run in.
            for index, layer in dropouts:
                mask = layer.draw_mask((int(x.shape[0]), *layer.input_shape))
                for layers, rows in zip(replicas, shards, strict=True):
                    layers[index].frozen_mask = mask[rows]
            outputs = self._run_shards(
                lambda r: _forward_layers(replicas[r], x[shards[r]], training=True), len(shards)
            )
            output = xp.concat(outputs, axis=0)
            self._gather_preactivation(replicas)
            loss, grad = self.output_loss(y_true, output)
            self._lap("loss")
            self._run_shards(
                lambda r: self._backward_layers(replicas[r], grad[shards[r]]), len(shards)
            )
            for index, layer in enumerate(self.layers):
                if layer.weight_names:
                    layer.merge_shard_gradients([layers[index] for layers in replicas[1:]])
            self._lap("gradient merge")
        finally:
            for layer in deferred:
                layer.defer_weight_gradient = False
            for _, layer in dropouts:
                layer.frozen_mask = None
        return output, self._add_regularization(loss)

    # -- public training API (see scratch_cnn.training for the loops) ----------------------
    def _device_batch(self, x: Any, preprocess: Callable | None) -> Array:
        return training.to_device_batch(self, x, preprocess)

    def train_on_batch(self, x: Any, y: Any, preprocess: Callable | None = None) -> float:
        """One optimizer step on one batch; returns the loss (with regularization)."""
        x = check_features(x, self.input_shape, allow_integer=preprocess is not None)
        self._ensure_built(x)
        targets = prepare_targets(y, x.shape[0], self.num_classes)
        loss, _ = self.train_step(
            self._device_batch(x, preprocess), self.device.asarray(targets, self.dtype)
        )
        return float(loss)

    def compute_gradients(
        self, x: Any, y: Any, training: bool = False, preprocess: Callable | None = None
    ) -> list[np.ndarray]:
        """Gradients of (mean loss + regularization) w.r.t. every weight, Keras order.

        Parameters
        ----------
        x, y : array-like
            One batch and its labels (integer or one-hot).
        training : bool
            Run dropout (``True``) or not (``False``, the default, for parity checks).

        Returns
        -------
        list of numpy.ndarray
            Aligned with :meth:`get_weights`.
        """
        x = check_features(x, self.input_shape, allow_integer=preprocess is not None)
        self._ensure_built(x)
        targets = self.device.asarray(prepare_targets(y, x.shape[0], self.num_classes), self.dtype)
        output = self.forward(self._device_batch(x, preprocess), training=training)
        self.backward_from_loss(targets, output)
        return [
            to_numpy(layer.grads[name]).copy()
            for layer in self.layers
            for name in layer.weight_names
        ]

    def fit(
        self,
        x: Any,
        y: Any,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        preprocess: Callable | None = None,
        callbacks: Sequence[Callable[[int, dict], None]] | None = None,
    ) -> training.History:
        """Train with mini-batch gradient descent. See :func:`scratch_cnn.training.fit`."""
        return training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            validation_data=validation_data,
            shuffle=shuffle,
            seed=seed,
            preprocess=preprocess,
            callbacks=callbacks,
        )

    def predict(
        self, x: Any, batch_size: int = 256, verbose: int = 0, preprocess: Callable | None = None
    ) -> np.ndarray:
        """Model outputs for ``x`` as a NumPy array, computed batch by batch.

        Memory stays bounded by one batch of activations plus the ``(N, classes)`` result.
        """
        return training.predict(
            self, x, batch_size=batch_size, verbose=verbose, preprocess=preprocess
        )

    def evaluate(
        self,
        x: Any,
        y: Any,
        batch_size: int = 256,
        verbose: int = 0,
        preprocess: Callable | None = None,
        return_dict: bool = False,
    ) -> list[float] | dict[str, float]:
        """Loss (with regularization) and metrics on ``(x, y)``, as Keras returns them."""
        return training.evaluate(
            self,
            x,
            y,
            batch_size=batch_size,
            verbose=verbose,
            preprocess=preprocess,
            return_dict=return_dict,
        )

    # -- weights ---------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays: per layer ``[kernel, bias]``, Keras's order."""
        if not self.built:
            self.build()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace all weights (Keras order and layouts)."""
        if not self.built:
            self.build()
        expected = sum(len(layer.weight_names) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"the model has {expected} weight arrays, got {len(weights)}.")
        position = 0
        for layer in self.layers:
            count = len(layer.weight_names)
            layer.set_weights(list(weights[position : position + count]))
            position += count

    def count_params(self) -> int:
        """Number of scalar weights."""
        if not self.built:
            self.build()
        return sum(layer.count_params() for layer in self.layers)

    # -- description -----------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Print a Keras-like table of layers, output shapes and parameter counts."""
        if not self.built:
            self.build()
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str((None, *layer.output_shape)),
                f"{layer.count_params():,}",
            )
            for layer in self.layers
        ]
        widths = [
            max(len(h), *(len(r[i]) for r in rows))
            for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
        ]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        rule = "-" * (sum(widths) + 4)
        print_fn(f'Model: "{self.name}" ({self.dtype}, {self.device.name})')
        print_fn(rule)
        print_fn(line.format("Layer (type)", "Output Shape", "Param #"))
        print_fn(rule)
        for row in rows:
            print_fn(line.format(*row))
        print_fn(rule)
        print_fn(f"Total params: {self.count_params():,}")

    def get_config(self) -> dict[str, Any]:
        """Keras-form config: ``{"name", "layers": [{"class_name", "config"}, ...]}``."""
        layers = []
        if self.input_shape is not None:
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {
                        "batch_shape": [None, *self.input_shape],
                        "dtype": self.dtype,
                        "sparse": False,
                        "name": "input_layer",
                    },
                    "registered_name": None,
                }
            )
        for layer in self.layers:
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": type(layer).__name__,
                    "config": _plain(layer.get_config()),
                    "registered_name": None,
                }
            )
        config = {"name": self.name, "trainable": True, "dtype": self.dtype, "layers": layers}
        if self.input_shape is not None:
            config["build_input_shape"] = [None, *self.input_shape]
        return config

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        dtype: str | None = None,
        seed: int | None = None,
        device: str | Device | None = None,
    ) -> Sequential:
        """Build a model from a (scratch or Keras) Sequential config.

        Parameters
        ----------
        config : dict
            From :meth:`get_config` or ``keras.Sequential.get_config()``.
        dtype, seed, device : optional
            Override the config's dtype; choose seed and device.

        Returns
        -------
        Sequential
        """
        config_dtype = config.get("dtype", "float32")
        if isinstance(config_dtype, dict):  # Keras 3 DTypePolicy config
            config_dtype = config_dtype.get("config", {}).get("name", "float32")
        model = cls(
            name=config.get("name", "sequential"),
            dtype=dtype or config_dtype,
            seed=seed,
            device=device,
        )
        for entry in config["layers"]:
            class_name = entry["class_name"]
            layer_config = dict(entry.get("config", {}))
            if class_name == "InputLayer":
                shape = layer_config.get("batch_shape") or layer_config.get("batch_input_shape")
                model.input_shape = tuple(shape[1:])
                continue
            model.add(layer_from_config(class_name, layer_config))
        if model.input_shape is None and config.get("build_input_shape"):
            model.input_shape = tuple(config["build_input_shape"][1:])
        if model.input_shape is not None:
            model.build()
        return model

    def save(self, path: str) -> None:
        """Save config, compile settings and weights to one file (see :mod:`serialization`)."""
        from scratch_cnn.serialization import save_model

        save_model(self, path)


def _forward_layers(layers: list[Layer], x: Array, training: bool) -> Array:
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        # A ReLU convolution and the 2x2 max pooling after it run as one, in the
        # convolution's tiles; the pooling layer then passes gradients straight through.
        if isinstance(layer, Conv2D) and layer.pools_in_tiles(x, following):
            x = layer.forward(x, training=training, pooling=following)
            index += 2
            continue
        x = layer.forward(x, training=training)
        index += 1
    return x


#: Element-wise passes a training step makes over a layer's output (activation, pooling,
#: copies, forward and backward), in multiply-adds' worth each: a rough weight that makes
#: the estimate below track the measured step times of the catalog's nets.
_PASSES_PER_OUTPUT = 20


def _work_per_sample(layer: Layer) -> float:
    """A layer's cost for one sample: multiply-adds plus passes over its output values."""
    outputs = math.prod(layer.output_shape)
    kernel = layer.params.get("kernel")
    # Dense: in*out; Conv2D: (KH*KW*C_in) multiply-adds per output value.
    products = 0 if kernel is None else outputs * math.prod(kernel.shape[:-1])
    return float(products + _PASSES_PER_OUTPUT * outputs)


def layer_from_config(class_name: str, config: dict[str, Any]) -> Layer:
    """Instantiate a scratch layer from its Keras class name and config.

    Parameters
    ----------
    class_name : str
        e.g. ``"Conv2D"``.
    config : dict
        Keras layer config; options scratch_cnn cannot honour raise a ``ValueError``.

    Returns
    -------
    Layer
    """
    if class_name not in LAYER_CLASSES:
        raise ValueError(
            f"layer type {class_name!r} is not supported by scratch_cnn; supported: "
            f"{sorted(LAYER_CLASSES)}."
        )
    arguments = {}
    for key, value in config.items():
        if key in _IGNORED_KEYS:
            continue
        if key in _INERT_KEYS:
            if value != _INERT_KEYS[key]:
                raise ValueError(f"{class_name} option {key}={value!r} is not supported.")
            continue
        arguments[key] = value
    return LAYER_CLASSES[class_name](**arguments)


def _plain(value: Any) -> Any:
    """Tuples to lists, so a config is JSON-serialisable and compares equal after a round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = ["Input", "InputValidationError", "Sequential", "get_array_module", "layer_from_config"]
