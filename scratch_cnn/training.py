"""Training, prediction and evaluation loops over host data, one device batch at a time.

Data stays where the user keeps it (NumPy, possibly uint8); each batch is sliced on the
host, passed through the optional ``preprocess`` callable (e.g. scaling to [0, 1]),
checked for NaN/inf and moved to the model's device. So a whole data set is never copied
to floats or to the device at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from scratch_cnn.backend import get_array_module
from scratch_cnn.host_memory import retain_freed_memory
from scratch_cnn.input_checks import (
    DivergenceError,
    InputValidationError,
    check_features,
    check_finite,
    prepare_targets,
)

if TYPE_CHECKING:
    from scratch_cnn.model import Sequential

Array = Any


@dataclass
class History:
    """What :func:`fit` returns, shaped like Keras's ``History``.

    Attributes
    ----------
    history : dict of str -> list of float
        Per-epoch ``loss``, ``accuracy`` and, with validation data, ``val_loss`` and
        ``val_accuracy``.
    epoch : list of int
        Epoch indices (from 0, as Keras).
    epoch_times : list of float
        Wall seconds of each epoch's training (validation excluded).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def record(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        """Append one epoch's logs."""
        self.epoch.append(epoch)
        self.epoch_times.append(seconds)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


def count_correct(output: Array, y_true: Array) -> Array:
    """Number of rows whose arg-max prediction equals the arg-max target (0-d array)."""
    xp = get_array_module(output)
    hits = xp.argmax(output, axis=-1) == xp.argmax(y_true, axis=-1)
    return xp.sum(xp.astype(hits, xp.int64))


def to_device_batch(model: Sequential, x: Any, preprocess: Callable | None) -> Array:
    """Preprocess a batch, check it, and move it to the model's device and dtype.

    ``x`` is a host batch on the CPU and already a device batch on other devices (see
    :func:`stage`); ``preprocess`` receives it as it is, so it must use the array's own
    namespace (as the scalers of :mod:`datasets` do) to run on a GPU.
    """
    if preprocess is not None:
        x = preprocess(x)
        check_features(x, model.input_shape, name="preprocess(x)")
    batch = model.device.asarray(x, dtype=model.dtype)
    check_finite(batch)
    return batch


def stage(model: Sequential, array: Any) -> Any:
    """Put a whole data array where batches are sliced from.

    On the CPU the data stay as they are (NumPy, any dtype: no float copy). On a GPU they
    are copied to the device once per call, in their own dtype (uint8 images stay uint8),
    so every batch is sliced on the device instead of crossing the bus.
    """
    if model.device.name == "cpu":
        return array
    return model.device.asarray(array)


def take_batch(data: Any, index: Any) -> Any:
    """Rows ``index`` (a slice or an index array) of host or device data."""
    if isinstance(index, slice) or isinstance(data, np.ndarray):
        return data[index, ...]
    xp = get_array_module(data)
    return xp.take(data, xp.asarray(index), axis=0)


def _batches(num_samples: int, batch_size: int, order: np.ndarray | None) -> list[Any]:
    starts = range(0, num_samples, batch_size)
    if order is None:  # contiguous slices: no copy of the data
        return [slice(s, min(s + batch_size, num_samples)) for s in starts]
    return [order[s : s + batch_size] for s in starts]


def _check_batch_size(batch_size: int) -> int:
    if int(batch_size) != batch_size or batch_size < 1:
        raise InputValidationError(f"batch_size must be a positive int, got {batch_size!r}.")
    return int(batch_size)


def _use_warm_host_memory(model: Sequential) -> None:
    # NumPy temporaries are large and short-lived: keep freed pages for the next step
    # (scratch_cnn.host_memory explains why; process-wide, once).
    if model.device.name == "cpu":
        retain_freed_memory()


def fit(
    model: Sequential,
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
) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        Compiled.
    x : array (N, *input_shape)
        Floating features, or integers together with ``preprocess``.
    y : array
        Integer labels ``(N,)`` or one-hot targets ``(N, C)``.
    batch_size, epochs : int
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    validation_data : (x_val, y_val), optional
        Evaluated after every epoch (not timed as training).
    shuffle : bool
        Reshuffle the sample order every epoch.
    seed : int, optional
        Seeds the shuffling (defaults to the model's generator).
    preprocess : callable, optional
        Applied to every host batch of ``x`` before it enters the engine.
    callbacks : list of callable, optional
        Each is called as ``callback(epoch, logs)`` after every epoch.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        At the first batch whose loss is NaN or infinite.
    InputValidationError
        For data of the wrong shape, dtype or values.
    """
    if model.optimizer is None or model.loss is None:
        raise RuntimeError("call model.compile(optimizer, loss) before fit().")
    batch_size = _check_batch_size(batch_size)
    x = check_features(x, model.input_shape, allow_integer=preprocess is not None)
    model._ensure_built(x)
    _use_warm_host_memory(model)
    num_samples = x.shape[0]
    targets = stage(model, prepare_targets(y, num_samples, model.num_classes).astype(model.dtype))
    x = stage(model, x)
    rng = np.random.default_rng(seed) if seed is not None else model.rng
    history = History(params={"batch_size": batch_size, "epochs": epochs, "samples": num_samples})
    for epoch in range(epochs):
        order = rng.permutation(num_samples) if shuffle else None
        batches = _batches(num_samples, batch_size, order)
        progress = tqdm(
            batches,
            desc=f"Epoch {epoch + 1}/{epochs}",
            unit="batch",
            disable=verbose != 1,
            leave=True,
        )
        loss_sum, correct, seen = 0.0, 0, 0
        profiler = model.profiler  # None unless a StepProfiler is attached
        started = time.perf_counter()
        for batch_number, index in enumerate(progress):
            if profiler is not None:
                profiler.begin_step()
            xb = model._device_batch(take_batch(x, index), preprocess)
            yb = take_batch(targets, index)
            if profiler is not None:
                profiler.lap("input", "data copy")
            # Overflow while diverging is reported once, as a DivergenceError, not as a
            # stream of NumPy warnings.
            with np.errstate(over="ignore", invalid="ignore"):
                loss, hits = model.train_step(xb, yb)
            model.device.update_peak_memory()
            loss_value = float(loss)  # one sync per step: needed to stop at the first NaN
            if not np.isfinite(loss_value):
                progress.close()
                raise DivergenceError(epoch + 1, batch_number, loss_value)
            size = int(yb.shape[0])
            loss_sum += loss_value * size
            correct += int(hits)
            seen += size
            if profiler is not None:
                profiler.lap("model", "metrics")
                profiler.end_step()
            if verbose == 1 and batch_number % 10 == 0:
                progress.set_postfix(
                    loss=f"{loss_sum / seen:.4f}", accuracy=f"{correct / seen:.4f}"
                )
        model.device.synchronize()
        seconds = time.perf_counter() - started
        progress.close()
        logs = {"loss": loss_sum / seen, "accuracy": correct / seen}
        if validation_data is not None:
            val_loss, val_accuracy = evaluate(
                model, *validation_data, batch_size=max(batch_size, 256), preprocess=preprocess
            )
            logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
        history.record(epoch, logs, seconds)
        if verbose == 2 or (verbose == 1 and validation_data is not None):
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {shown}")
        for callback in callbacks or []:
            callback(epoch, logs)
    return history


def predict(
    model: Sequential,
    x: Any,
    batch_size: int = 256,
    verbose: int = 0,
    preprocess: Callable | None = None,
) -> np.ndarray:
    """Outputs for every sample of ``x``, as a NumPy array, one batch at a time.

    Parameters
    ----------
    model : Sequential
    x : array (N, *input_shape)
    batch_size : int
    verbose : int
        1 shows a progress bar.
    preprocess : callable, optional

    Returns
    -------
    numpy.ndarray (N, *output_shape)
    """
    from scratch_cnn.backend import to_numpy

    batch_size = _check_batch_size(batch_size)
    x = check_features(x, model.input_shape, allow_integer=preprocess is not None)
    model._ensure_built(x)
    _use_warm_host_memory(model)
    result = np.empty((x.shape[0], *model.output_shape), dtype=model.dtype)
    data = stage(model, x)
    for index in tqdm(
        _batches(x.shape[0], batch_size, None), disable=verbose != 1, desc="predict", unit="batch"
    ):
        output = model.forward(model._device_batch(take_batch(data, index), preprocess))
        result[index] = to_numpy(output)
    return result


def evaluate(
    model: Sequential,
    x: Any,
    y: Any,
    batch_size: int = 256,
    verbose: int = 0,
    preprocess: Callable | None = None,
    return_dict: bool = False,
) -> list[float] | dict[str, float]:
    """Mean loss (plus regularization, as Keras reports it) and accuracy on ``(x, y)``.

    Returns
    -------
    [loss, accuracy] or {"loss": ..., "accuracy": ...}
    """
    if model.loss is None:
        raise RuntimeError("call model.compile(optimizer, loss) before evaluate().")
    batch_size = _check_batch_size(batch_size)
    x = check_features(x, model.input_shape, allow_integer=preprocess is not None)
    model._ensure_built(x)
    _use_warm_host_memory(model)
    targets = stage(model, prepare_targets(y, x.shape[0], model.num_classes).astype(model.dtype))
    data = stage(model, x)
    loss_sum, correct = 0.0, 0
    for index in tqdm(
        _batches(x.shape[0], batch_size, None), disable=verbose != 1, desc="evaluate", unit="batch"
    ):
        output = model.forward(model._device_batch(take_batch(data, index), preprocess))
        yb = take_batch(targets, index)
        loss, _ = model.output_loss(yb, output)
        loss_sum += float(loss) * int(yb.shape[0])
        correct += int(count_correct(output, yb))
    penalty = sum(float(layer.regularization_loss()) for layer in model.layers)
    results = {"loss": loss_sum / x.shape[0] + penalty, "accuracy": correct / x.shape[0]}
    return results if return_dict else [results["loss"], results["accuracy"]]
