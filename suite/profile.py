"""One training step of a catalog architecture, part by part, beside TensorFlow's ops.

``cnnbench profile ARCH`` builds the architecture in scratch_cnn, attaches a
:class:`scratch_cnn.profiler.StepProfiler` and trains on random data of the data set's
shape with the engine's own ``fit`` loop, so every layer charges its forward pass,
activation, pooling, weight and input gradients to its own row, and the model charges
the data copy, the loss, the optimizer update and the read-back of the metrics. Each row
is the median over the timed steps (after warm-up steps); its percentage is of the sum of
the rows, so the percentages add up to 100.

Beside each row stands the time of the TensorFlow op that does the same work on tensors
of the same shapes, under the same threads: ``conv2d`` + ``bias_add``, the
``Conv2DBackpropFilter`` / ``Conv2DBackpropInput`` ops that ``tf.GradientTape`` calls for a
convolution's gradients, ``matmul``, ``max_pool2d`` / ``MaxPoolGrad``, the activation ops
and their ``*Grad`` ops, ``SoftmaxCrossEntropyWithLogits`` and ``ResourceApplyAdam`` /
``ResourceApplyGradientDescent``. A convolution that runs its ReLU in tiles has the ReLU
in its laps (and TensorFlow's ``relu`` / ``ReluGrad`` beside them); one that also runs the
2x2 max pooling after it in its tiles has the pooling too (``max_pool2d`` /
``MaxPoolGrad`` beside them), and that pooling layer has no row. And for the whole step:
the Keras twin (the same catalog entry built by Keras on TensorFlow) trained by
``keras.Model.fit`` on the same batches, its step the mean of an epoch of ``S`` batches
clocked from ``on_epoch_begin`` to ``on_epoch_end``, as ``cnnbench run`` clocks it.

The scratch steps are timed twice, with and without the profiler attached, in alternating
rounds with the Keras twin, so a reader can see both what the laps cost (nothing
measurable) and how the engines compare on the same machine load.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: the speed matrix's set-up (matrices/speed.toml), the default of ``cnnbench profile``
DEFAULT_BATCH_SIZE = 128
DEFAULT_OPTIMIZER = "adam"

#: rows that are not a layer's (the model's own work)
MODEL_ROWS = ("input", "model")


@dataclass
class ProfileRow:
    """One part of one layer's work in a training step.

    Attributes
    ----------
    layer : str
        The layer's name (``conv2d_1``), or ``input`` / ``model`` for the model's own work.
    layer_type : str
        ``Conv2D``, ``Dense``... (empty for the model's rows).
    part : str
        One of :data:`scratch_cnn.profiler.PARTS`.
    scratch_ms : float
        Median over the timed steps.
    percent : float
        Share of the step (the sum of all rows' medians).
    tensorflow_ms : float or None
        TensorFlow's equivalent op on the same shapes, where there is one.
    tensorflow_op : str
        What was timed for ``tensorflow_ms``.
    """

    layer: str
    layer_type: str
    part: str
    scratch_ms: float
    percent: float = 0.0
    tensorflow_ms: float | None = None
    tensorflow_op: str = ""


@dataclass
class ProfileResult:
    """Everything ``cnnbench profile`` prints (also as a dict with :meth:`as_dict`)."""

    architecture: str
    dataset: str
    input_shape: tuple[int, ...]
    num_classes: int
    batch_size: int
    dtype: str
    optimizer: str
    threads: int | None
    steps: int
    rows: list[ProfileRow]
    #: sum of the rows' medians
    scratch_step_ms: float
    #: median step of fit without the profiler attached
    scratch_plain_step_ms: float
    #: median step of the Keras twin, or None when it was not timed
    keras_step_ms: float | None = None
    load_average_before: tuple[float, float, float] | None = None
    load_average_after: tuple[float, float, float] | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json``)."""
        return asdict(self)

    def part_totals(self) -> dict[str, float]:
        """Milliseconds per part summed over the layers, largest first."""
        totals: dict[str, float] = {}
        for row in self.rows:
            totals[row.part] = totals.get(row.part, 0.0) + row.scratch_ms
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def format(self) -> str:
        """The report as text: a header, one line per row, totals per part."""
        shape = "x".join(str(size) for size in self.input_shape)
        lines = [
            f"cnnbench profile {self.architecture}: {self.dataset}-shaped random data "
            f"({shape}, {self.num_classes} classes), batch {self.batch_size}, {self.dtype}, "
            f"{self.optimizer}, {self.threads or 'default'} threads, median of "
            f"{self.steps} steps",
        ]
        if self.load_average_before is not None:
            before = " ".join(f"{value:.2f}" for value in self.load_average_before)
            after = " ".join(f"{value:.2f}" for value in self.load_average_after or ())
            lines.append(f"load average before: {before}; after: {after}")
        if self.versions:
            lines.append(", ".join(f"{key} {value}" for key, value in self.versions.items()))
        lines.append("")
        header = ("layer", "part", "scratch ms", "%", "TF op ms", "scratch/TF", "TF op")
        table = [header]
        for row in self.rows:
            name = f"{row.layer} ({row.layer_type})" if row.layer_type else row.layer
            tf_ms = "" if row.tensorflow_ms is None else f"{row.tensorflow_ms:.2f}"
            ratio = (
                f"{row.scratch_ms / row.tensorflow_ms:.2f}"
                if row.tensorflow_ms is not None and row.tensorflow_ms > 0
                else ""
            )
            table.append(
                (
                    name,
                    row.part,
                    f"{row.scratch_ms:.2f}",
                    f"{row.percent:.1f}",
                    tf_ms,
                    ratio,
                    row.tensorflow_op,
                )
            )
        lines += _aligned(table, right=(2, 3, 4, 5))
        lines.append("")
        lines.append("per part (all layers):")
        total = self.scratch_step_ms or 1.0
        part_rows = [("part", "scratch ms", "%")] + [
            (part, f"{ms:.2f}", f"{100 * ms / total:.1f}")
            for part, ms in self.part_totals().items()
        ]
        lines += ["  " + line for line in _aligned(part_rows, right=(1, 2))]
        lines.append("")
        tf_sum = sum(row.tensorflow_ms or 0.0 for row in self.rows)
        lines.append(
            f"scratch step: {self.scratch_step_ms:.2f} ms (sum of the rows); without the "
            f"profiler: {self.scratch_plain_step_ms:.2f} ms"
        )
        if tf_sum:
            lines.append(f"TensorFlow ops of the rows above, summed: {tf_sum:.2f} ms")
        if self.keras_step_ms is not None:
            lines.append(
                f"Keras twin (TensorFlow) step: {self.keras_step_ms:.2f} ms; scratch / Keras: "
                f"{self.scratch_plain_step_ms / self.keras_step_ms:.2f}"
            )
        return "\n".join(lines)


def _aligned(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
    return out


# -- building the models: the one place that knows how the catalog builds --------------------
def build_models(
    architecture: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    dtype: str,
    seed: int,
    overrides: dict[str, Any],
    with_keras: bool,
) -> tuple[Any, Any]:
    """The scratch model and (optionally) its Keras twin from one catalog entry.

    Parameters
    ----------
    architecture : str
    input_shape : tuple of int
    num_classes : int
    dtype : {"float32", "float64"}
    seed : int
    overrides : dict
        Hyperparameter overrides (optimizer, batch size...).
    with_keras : bool
        Also build the Keras twin (imports Keras on TensorFlow).

    Returns
    -------
    (scratch_cnn.Sequential, keras.Sequential or None)
        Both compiled with the set-up's optimizer and categorical cross-entropy (the scratch
        model in the form TensorFlow computes it, from the logits).
    """
    from suite import catalog

    if hasattr(catalog, "model_config"):  # the catalog in Keras-config form
        from suite.engines.base import create_engine

        model_config = catalog.model_config(
            architecture, input_shape, num_classes, dtype=dtype, seed=seed, **overrides
        )
        compile_config = catalog.compile_config(architecture, **overrides)
        scratch = create_engine("scratch").build(
            model_config, compile_config, seed=seed, crossentropy="logits"
        )
        twin = None
        if with_keras:
            twin = create_engine("keras:tensorflow").build(model_config, compile_config, seed=seed)
        return scratch, twin
    scratch = catalog.build(
        architecture,
        "scratch",
        input_shape,
        num_classes,
        seed=seed,
        dtype=dtype,
        keras_backend="tensorflow",
        **overrides,
    )
    twin = None
    if with_keras:
        import keras

        keras.config.set_floatx(dtype)
        twin = catalog.build(
            architecture, "keras", input_shape, num_classes, seed=seed, dtype=dtype, **overrides
        )
    return scratch, twin


def dataset_shape(dataset: str) -> tuple[tuple[int, ...], int]:
    """``(input_shape, num_classes)`` of a data set key, without loading its images."""
    import datasets

    info = datasets.info(dataset)
    return tuple(int(size) for size in info.input_shape), int(info.num_classes)


# -- timing ------------------------------------------------------------------------------------
def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not available on this platform
        return None


def _median_ms(values: Sequence[float]) -> float:
    return 1000.0 * statistics.median(values)


def _keras_epoch_clock() -> Any:
    """A Keras callback that clocks the epoch from ``on_epoch_begin`` to ``on_epoch_end``.

    As ``cnnbench run`` clocks Keras: the batch loop with everything Keras does between
    batches, without the data adapter each ``fit`` call builds first.
    """
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds = 0.0
            self._started = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # The epoch's logs are host values by now: the work is done.
            self.seconds = time.perf_counter() - self._started

    return EpochClock()


def profile_architecture(
    architecture: str,
    dataset: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    optimizer: str | None = DEFAULT_OPTIMIZER,
    dtype: str = "float32",
    threads: int | None = None,
    rounds: int = 3,
    steps_per_round: int = 4,
    warmup_steps: int = 2,
    with_keras: bool = True,
    with_tensorflow_ops: bool = True,
    seed: int = 0,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> ProfileResult:
    """Profile one training step of ``architecture`` (see the module docstring).

    Parameters
    ----------
    architecture : str
        Catalog name.
    dataset : str, optional
        Data set key whose image shape and class count are used (the architecture's
        reference data set when omitted). Only its shape is read: the images are random.
    batch_size : int
    optimizer : {"adam", "sgd"} or None
        None keeps the architecture's own set-up.
    dtype : {"float32", "float64"}
    threads : int, optional
        Pins NumPy's BLAS and TensorFlow's pools to this many threads first (must come
        before TensorFlow runs anything in the process); left as they are when omitted.
    rounds, steps_per_round, warmup_steps : int
        Each round times ``steps_per_round`` steps of scratch with the profiler, scratch
        without it, and the Keras twin, one after the other; warm-up steps come first.
    with_keras, with_tensorflow_ops : bool
        Time the Keras twin's step / TensorFlow's per-row ops (both import TensorFlow).
    seed : int
        Weights and data.
    input_shape, num_classes : optional
        Use these instead of a data set's (e.g. for tests on tiny images).

    Returns
    -------
    ProfileResult
    """
    from scratch_cnn.profiler import StepProfiler
    from suite import catalog

    arch = catalog.get_architecture(architecture)
    dataset = dataset or arch.reference_dataset
    if input_shape is None or num_classes is None:
        input_shape, num_classes = dataset_shape(dataset)
    uses_tensorflow = with_keras or with_tensorflow_ops
    if threads is not None:
        from suite.timing import configure_threads

        configure_threads(
            threads, keras_backend="tensorflow", configure_keras_backend=uses_tensorflow
        )
    overrides: dict[str, Any] = {"batch_size": batch_size}
    if optimizer is not None:
        overrides["optimizer"] = optimizer
    model, twin = build_models(
        architecture,
        tuple(input_shape),
        num_classes,
        dtype=dtype,
        seed=seed,
        overrides=overrides,
        with_keras=with_keras,
    )
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size * steps_per_round, *input_shape), dtype=np.float32).astype(dtype)
    labels = rng.integers(0, num_classes, len(x))
    y = np.eye(num_classes, dtype=dtype)[labels]
    load_before = _load_average()

    profiler = StepProfiler(synchronize=model.device.synchronize)

    def scratch_fit(profiled: bool, count: int) -> list[float]:
        # One fit per step, so that each step has its own clock (fit times its epoch).
        model.set_profiler(profiler if profiled else None)
        seconds = []
        for step in range(count):
            first = (step % steps_per_round) * batch_size
            batch = slice(first, first + batch_size)
            history = model.fit(
                x[batch], y[batch], batch_size=batch_size, epochs=1, shuffle=False, verbose=0
            )
            seconds.append(history.epoch_times[-1])
        model.set_profiler(None)
        return seconds

    keras_seconds: list[float] = []

    def keras_fit(count: int) -> list[float]:
        clock = _keras_epoch_clock()
        twin.fit(
            x[: count * batch_size],
            y[: count * batch_size],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[clock],
        )
        return [clock.seconds / count]  # the round's mean step

    # Warm-up: buffers, thread pools, Keras's tracing.
    scratch_fit(True, warmup_steps)
    scratch_fit(False, warmup_steps)
    if twin is not None:
        keras_fit(min(max(warmup_steps, 1), steps_per_round))
    profiler.steps.clear()
    plain_seconds: list[float] = []
    for _ in range(rounds):
        scratch_fit(True, steps_per_round)
        plain_seconds += scratch_fit(False, steps_per_round)
        if twin is not None:
            keras_seconds += keras_fit(steps_per_round)
    load_after = _load_average()

    rows = _scratch_rows(model, profiler.steps)
    if with_tensorflow_ops:
        _add_tensorflow_times(rows, model, batch_size, dtype)
    step_ms = sum(row.scratch_ms for row in rows)
    for row in rows:
        row.percent = 100.0 * row.scratch_ms / step_ms if step_ms else 0.0
    versions = {"numpy": np.__version__}
    if uses_tensorflow:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
        if with_keras:
            import keras

            versions["keras"] = keras.__version__
    return ProfileResult(
        architecture=architecture,
        dataset=dataset,
        input_shape=tuple(input_shape),
        num_classes=int(num_classes),
        batch_size=batch_size,
        dtype=dtype,
        optimizer=str(getattr(model.optimizer, "class_name", "?")),
        threads=threads,
        steps=len(profiler.steps),
        rows=rows,
        scratch_step_ms=step_ms,
        scratch_plain_step_ms=_median_ms(plain_seconds),
        keras_step_ms=_median_ms(keras_seconds) if keras_seconds else None,
        load_average_before=load_before,
        load_average_after=load_after,
        versions=versions,
    )


def _scratch_rows(model: Any, steps: list[dict[tuple[str, str], float]]) -> list[ProfileRow]:
    """One row per (layer, part) key seen, in step order, with the median over steps."""
    types = {layer.name: type(layer).__name__ for layer in model.layers}
    keys: list[tuple[str, str]] = []
    for laps in steps:
        for key in laps:
            if key not in keys:
                keys.append(key)
    rows = []
    for layer, part in keys:
        values = [laps.get((layer, part), 0.0) for laps in steps]
        rows.append(ProfileRow(layer, types.get(layer, ""), part, _median_ms(values)))
    return rows


# -- TensorFlow's equivalent ops ---------------------------------------------------------------
def _time_tensorflow(function: Callable[[], Any], repeats: int = 7) -> float:
    """Median milliseconds of a ``tf.function`` call (after two warm-up calls)."""
    function()
    function()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()  # eager CPU execution is synchronous: the op has finished on return
        seconds.append(time.perf_counter() - started)
    return _median_ms(seconds)


def _add_tensorflow_times(rows: list[ProfileRow], model: Any, batch_size: int, dtype: str) -> None:
    """Fill ``tensorflow_ms``/``tensorflow_op`` of every row TensorFlow has an op for."""
    import tensorflow as tf

    ops = _tensorflow_ops(model, batch_size, dtype)
    for row in rows:
        entry = ops.get((row.layer, row.part))
        if entry is not None:
            description, function = entry
            row.tensorflow_op = description
            row.tensorflow_ms = _time_tensorflow(tf.function(function))


def _tensorflow_ops(
    model: Any, batch_size: int, dtype: str
) -> dict[tuple[str, str], tuple[str, Callable[[], Any]]]:
    """``(layer, part) -> (description, function)`` of the TensorFlow op doing that work."""
    import tensorflow as tf

    rng = np.random.default_rng(1)

    def tensor(*shape: int, scale: float = 1.0) -> Any:
        return tf.constant((rng.standard_normal(shape) * scale).astype(dtype))

    ops: dict[tuple[str, str], tuple[str, Callable[[], Any]]] = {}
    variables = []
    for index, layer in enumerate(model.layers):
        kind = type(layer).__name__
        in_shape = (batch_size, *layer.input_shape)
        out_shape = (batch_size, *layer.output_shape)
        need_input_grad = bool(model._needs_input_grad[index])
        if kind in ("Conv2D", "Dense"):
            kernel = tf.Variable(np.asarray(layer.params["kernel"]))
            bias = tf.Variable(np.zeros(out_shape[-1], dtype))
            variables += [kernel, bias]
            x, dy = tensor(*in_shape), tensor(*out_shape)
            with_relu = _runs_relu_in_tiles(layer, dtype)
            following = model.layers[index + 1] if index + 1 < len(model.layers) else None
            pooled = with_relu and _pools_in_tiles(layer, following, dtype)
            ops.update(
                _linear_ops(layer, kind, x, dy, kernel, bias, need_input_grad, with_relu, pooled)
            )
            if not with_relu:
                ops.update(_activation_ops(layer, dy))
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            ops.update(_pooling_ops(layer, kind, tensor(*in_shape), tensor(*out_shape)))
        elif kind == "Activation":
            ops.update(_activation_ops(layer, tensor(*out_shape)))
    logits = tensor(batch_size, *model.output_shape)
    labels = tf.one_hot(rng.integers(0, model.output_shape[-1], batch_size), model.output_shape[-1])
    labels = tf.cast(labels, dtype)
    ops[("model", "loss")] = (
        "SoftmaxCrossEntropyWithLogits",
        lambda: tf.raw_ops.SoftmaxCrossEntropyWithLogits(features=logits, labels=labels),
    )
    ops[("model", "optimizer update")] = _optimizer_op(model, variables, dtype)
    return ops


def _pools_in_tiles(layer: Any, following: Any, dtype: str) -> bool:
    """Whether a scratch Conv2D runs the max pooling after it in its tiles.

    Its ``forward`` lap then includes the ReLU and the pooling, its ``weight gradient``
    lap their backward passes, and the pooling layer has no laps of its own
    (:meth:`scratch_cnn.layers.Conv2D.pools_in_tiles`).
    """
    sample = np.empty((1, *layer.input_shape), dtype=dtype)
    return bool(layer.pools_in_tiles(sample, following))


def _runs_relu_in_tiles(layer: Any, dtype: str) -> bool:
    """Whether a scratch Conv2D runs its ReLU with the convolution, in tiles.

    Its ``forward`` lap then includes the ReLU and its ``weight gradient`` lap the ReLU's
    derivative (:meth:`scratch_cnn.layers.Conv2D.runs_relu_in_tiles`).
    """
    if type(layer).__name__ != "Conv2D":
        return False
    return layer.runs_relu_in_tiles(np.empty((1, *layer.input_shape), dtype=dtype))


def _linear_ops(
    layer: Any,
    kind: str,
    x: Any,
    dy: Any,
    kernel: Any,
    bias: Any,
    need_input_grad: bool,
    with_relu: bool = False,
    pooled: bool = False,
) -> dict[tuple[str, str], tuple[str, Callable[[], Any]]]:
    import tensorflow as tf

    name = layer.name
    ops: dict[tuple[str, str], tuple[str, Callable[[], Any]]] = {}
    if kind == "Dense":
        ops[(name, "forward")] = (
            "matmul + bias_add",
            lambda: tf.nn.bias_add(tf.matmul(x, kernel), bias),
        )
        ops[(name, "weight gradient")] = (
            "matmul(x^T, dz) + BiasAddGrad",
            lambda: (tf.matmul(x, dy, transpose_a=True), tf.raw_ops.BiasAddGrad(out_backprop=dy)),
        )
        if need_input_grad:
            ops[(name, "input gradient")] = (
                "matmul(dz, W^T)",
                lambda: tf.matmul(dy, kernel, transpose_b=True),
            )
        return ops
    strides = [1, *layer.strides, 1]
    padding = layer.padding.upper()

    def conv() -> Any:
        return tf.nn.bias_add(tf.nn.conv2d(x, kernel, strides, padding), bias)

    def weight_gradient(grad: Any) -> Any:
        return (
            tf.raw_ops.Conv2DBackpropFilter(
                input=x,
                filter_sizes=tf.shape(kernel),
                out_backprop=grad,
                strides=strides,
                padding=padding,
            ),
            tf.raw_ops.BiasAddGrad(out_backprop=grad),
        )

    if pooled:  # the scratch laps include the ReLU and the 2x2 max pooling
        window = [1, 2, 2, 1]
        features = tf.nn.relu(dy)
        pooled_features = tf.nn.max_pool2d(features, window, window, "VALID")
        pooled_grad = tf.constant(
            np.random.default_rng(2).standard_normal(pooled_features.shape).astype(dy.dtype.name)
        )
        ops[(name, "forward")] = (
            "conv2d + bias_add + relu + max_pool2d",
            lambda: tf.nn.max_pool2d(tf.nn.relu(conv()), window, window, "VALID"),
        )

        def pooled_weight_gradient() -> Any:
            grad = tf.raw_ops.MaxPoolGrad(
                orig_input=features,
                orig_output=pooled_features,
                grad=pooled_grad,
                ksize=window,
                strides=window,
                padding="VALID",
            )
            return weight_gradient(tf.raw_ops.ReluGrad(gradients=grad, features=features))

        ops[(name, "weight gradient")] = (
            "MaxPoolGrad + ReluGrad + Conv2DBackpropFilter + BiasAddGrad",
            pooled_weight_gradient,
        )
    elif with_relu:  # the scratch laps include the ReLU: so do TensorFlow's ops here
        ops[(name, "forward")] = ("conv2d + bias_add + relu", lambda: tf.nn.relu(conv()))
        ops[(name, "weight gradient")] = (
            "ReluGrad + Conv2DBackpropFilter + BiasAddGrad",
            lambda: weight_gradient(tf.raw_ops.ReluGrad(gradients=dy, features=dy)),
        )
    else:
        ops[(name, "forward")] = ("conv2d + bias_add", conv)
        ops[(name, "weight gradient")] = (
            "Conv2DBackpropFilter + BiasAddGrad",
            lambda: weight_gradient(dy),
        )
    if need_input_grad:
        ops[(name, "input gradient")] = (
            "Conv2DBackpropInput",
            lambda: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x),
                filter=kernel,
                out_backprop=dy,
                strides=strides,
                padding=padding,
            ),
        )
    return ops


def _activation_ops(layer: Any, z: Any) -> dict[tuple[str, str], tuple[str, Callable[[], Any]]]:
    """Forward and backward of the layer's activation on its output's shape."""
    import tensorflow as tf

    name = layer.activation.name
    forward = {"relu": tf.nn.relu, "tanh": tf.tanh, "sigmoid": tf.sigmoid, "elu": tf.nn.elu}
    backward = {
        "relu": ("ReluGrad", lambda: tf.raw_ops.ReluGrad(gradients=z, features=z)),
        "tanh": ("TanhGrad", lambda: tf.raw_ops.TanhGrad(y=z, dy=z)),
        "sigmoid": ("SigmoidGrad", lambda: tf.raw_ops.SigmoidGrad(y=z, dy=z)),
        "elu": ("EluGrad", lambda: tf.raw_ops.EluGrad(gradients=z, outputs=z)),
    }
    ops: dict[tuple[str, str], tuple[str, Callable[[], Any]]] = {}
    if name in forward:
        function = forward[name]
        ops[(layer.name, "activation")] = (function.__name__, lambda: function(z))
        ops[(layer.name, "activation backward")] = backward[name]
    elif name == "softmax":
        ops[(layer.name, "activation")] = ("softmax", lambda: tf.nn.softmax(z))
    return ops


def _pooling_ops(
    layer: Any, kind: str, x: Any, dy: Any
) -> dict[tuple[str, str], tuple[str, Callable[[], Any]]]:
    import tensorflow as tf

    ksize = [1, *layer.pool_size, 1]
    strides = [1, *layer.strides, 1]
    padding = layer.padding.upper()
    if kind == "MaxPooling2D":
        y = tf.nn.max_pool2d(x, ksize, strides, padding)
        return {
            (layer.name, "pooling forward"): (
                "max_pool2d",
                lambda: tf.nn.max_pool2d(x, ksize, strides, padding),
            ),
            (layer.name, "pooling backward"): (
                "MaxPoolGrad",
                lambda: tf.raw_ops.MaxPoolGrad(
                    orig_input=x,
                    orig_output=y,
                    grad=dy,
                    ksize=ksize,
                    strides=strides,
                    padding=padding,
                ),
            ),
        }
    return {
        (layer.name, "pooling forward"): (
            "avg_pool2d",
            lambda: tf.nn.avg_pool2d(x, ksize, strides, padding),
        ),
        (layer.name, "pooling backward"): (
            "AvgPoolGrad",
            lambda: tf.raw_ops.AvgPoolGrad(
                orig_input_shape=tf.shape(x),
                grad=dy,
                ksize=ksize,
                strides=strides,
                padding=padding,
            ),
        ),
    }


def _optimizer_op(model: Any, variables: list[Any], dtype: str) -> tuple[str, Callable[[], Any]]:
    """One fused TensorFlow update op per weight, the optimizer's kind, in one function."""
    import tensorflow as tf

    gradients = [tf.constant(np.full(v.shape, 1e-3, dtype)) for v in variables]
    scalar = tf.constant(np.asarray(1e-3, dtype))
    if getattr(model.optimizer, "class_name", "") == "Adam":
        moments = [
            (tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables
        ]

        def adam() -> None:
            for variable, gradient, (m, v) in zip(variables, gradients, moments, strict=True):
                tf.raw_ops.ResourceApplyAdam(
                    var=variable.handle,
                    m=m.handle,
                    v=v.handle,
                    beta1_power=scalar,
                    beta2_power=scalar,
                    lr=scalar,
                    beta1=scalar,
                    beta2=scalar,
                    epsilon=scalar,
                    grad=gradient,
                )

        return "ResourceApplyAdam per weight", adam

    def sgd() -> None:
        for variable, gradient in zip(variables, gradients, strict=True):
            tf.raw_ops.ResourceApplyGradientDescent(
                var=variable.handle, alpha=scalar, delta=gradient
            )

    return "ResourceApplyGradientDescent per weight", sgd


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_OPTIMIZER",
    "ProfileResult",
    "ProfileRow",
    "build_models",
    "dataset_shape",
    "profile_architecture",
]
