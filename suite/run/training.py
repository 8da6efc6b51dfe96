"""One run: train, time and evaluate one engine on one cell and seed (inside its worker).

:func:`execute_run` takes a :class:`~suite.run.plan.RunTask` (plain data from the driver)
and returns the record's measured fields. It

1. checks the handed-over split against the worker's own data and scales the arrays;
2. builds the model from the task's Keras-form config and, with ``same_init``, loads the
   driver's initial weights (their digest is stored, so "same start" is checkable);
3. times a warm-up (one prediction batch: kernels, thread pools, the Keras predict graph),
   then each epoch's batch loop with the engine's own clock, on the epoch orders the
   driver handed over (the first epoch, where Keras traces and compiles, reported apart
   from the steady state); validation is evaluated after each epoch outside the clock;
4. times the second of two passes of test-set inference and computes the test metrics;
5. measures this worker's peak RSS for the run alone (the import baseline is stored
   apart) and the machine's contention while it ran.
"""

from __future__ import annotations

import hashlib
import statistics
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratch_cnn.host_memory import release_freed_memory, retain_freed_memory
from suite import metrics as metrics_module
from suite.contention import ContentionProbe, classify_timing, usable_cpus
from suite.engines.base import Engine
from suite.run.data import DataCache
from suite.timing import Stopwatch, current_rss_bytes, peak_rss_bytes, reset_peak_rss

#: largest first-layer kernel (number of values) stored in a record
MAX_STORED_FILTER_VALUES = 20_000


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    """sha256 over the weights' float32 bytes: equal initial digests mean same init."""
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(np.ascontiguousarray(weight, dtype="<f4").tobytes())
    return digest.hexdigest()


def order_digest(orders: Sequence[np.ndarray]) -> str:
    """sha256 over the epoch orders: equal digests mean the same batches in the same order."""
    digest = hashlib.sha256()
    for order in orders:
        digest.update(np.ascontiguousarray(order, dtype="<i8").tobytes())
    return digest.hexdigest()


def first_layer_filters(weights: Sequence[np.ndarray]) -> dict[str, Any] | None:
    """The first 4-D (Conv2D) kernel, rounded, when small enough to store; else None."""
    for weight in weights:
        if weight.ndim == 4:
            if weight.size > MAX_STORED_FILTER_VALUES:
                return {"shape": list(weight.shape), "values": None}
            return {
                "shape": list(weight.shape),
                "values": np.round(weight.astype(np.float64), 6).ravel().tolist(),
            }
    return None


def failure_text(error: BaseException) -> str:
    """The error and the last lines of its traceback, for a ``failed`` record."""
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    tail = "".join(lines[-6:]).strip()
    return f"{type(error).__name__}: {error}\n{tail}"


def _contention_probe(threads: int | None) -> ContentionProbe:
    """The contention probe of :mod:`suite.contention` for a run given ``threads``."""
    return ContentionProbe(threads=threads or len(usable_cpus()))


def execute_run(
    engine: Engine,
    task: Any,
    cache: DataCache,
    progress: Callable[[dict[str, Any]], None] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run one task; never raises for a failure of the run itself.

    Parameters
    ----------
    engine : Engine
        This worker's engine (set up).
    task : RunTask
        What to run (see :mod:`suite.run.plan`).
    cache : DataCache
        This process's data sets.
    progress : callable, optional
        Called after each epoch with ``{"epoch", "loss", "accuracy"}``.
    threads : int, optional
        The threads the engine was given (for the contention verdict).

    Returns
    -------
    dict
        ``status``, ``error``, ``metrics``, ``timings``, ``curves``, ``training``,
        ``first_layer_filters``, ``split``, ``timing_quality``, ``timing_quality_reason``.
    """
    try:
        data = cache.prepare(task.dataset, task.split, task.settings, task.fingerprint)
        result = train_one(engine, task, data, progress, threads)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        return {"status": "failed", "error": failure_text(error)}
    result["split"] = task.split.to_record()
    return result


def train_one(
    engine: Engine,
    task: Any,
    data: Any,
    progress: Callable[[dict[str, Any]], None] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train and evaluate one engine on one task's data; return the measured fields.

    Parameters
    ----------
    engine : Engine
    task : RunTask
    data : PreparedData
    progress : callable, optional
        Called after each epoch.
    threads : int, optional
        The threads the engine was given.

    Returns
    -------
    dict
        See :func:`execute_run`.
    """
    settings = task.settings
    # Every engine runs under the same host-allocator policy (freed memory kept for reuse,
    # scratch_cnn.host_memory); what earlier runs retained is handed back first, so that
    # this run's peak RSS counts only what it uses.
    retain_freed_memory()
    release_freed_memory()
    rss_before = current_rss_bytes()
    peak_scope = "run" if reset_peak_rss() else "process"
    model = engine.build(
        task.model_config, task.compile_config, seed=task.seed, crossentropy=task.crossentropy
    )
    if task.initial_weights is not None:
        engine.set_weights(model, task.initial_weights)
    start_digest = weights_digest(engine.get_weights(model))
    engine.reset_peak_device_memory(model)

    def synchronize() -> None:
        engine.synchronize(model)

    # Warm-up: one inference batch loads kernels, starts thread pools and (Keras) traces the
    # predict function, without touching the weights every engine starts from.
    with Stopwatch(synchronize) as warmup:
        engine.predict(model, data.x_test[: min(len(data.x_test), task.batch_size)])

    curves: dict[str, list[float]] = {
        "epoch": [],
        "loss": [],
        "accuracy": [],
        "val_loss": [],
        "val_accuracy": [],
        "elapsed_seconds": [],
    }
    epoch_seconds: list[float] = []
    epoch_call_seconds: list[float] = []
    preparation_seconds = 0.0
    stopped_early = None
    status, error = "success", None
    budget = settings["time_budget_seconds"]
    train_images = 0
    probe = _contention_probe(threads)
    probe.begin_run()
    for epoch, order in enumerate(task.epoch_orders):
        started = time.perf_counter()
        x_epoch, y_epoch = data.epoch_arrays(order)
        preparation_seconds += time.perf_counter() - started
        try:
            with probe.epoch(), Stopwatch(synchronize) as watch:
                logs, loop_seconds = engine.fit_epoch(model, x_epoch, y_epoch, task.batch_size)
        except FloatingPointError as caught:  # scratch_cnn.DivergenceError
            epoch_seconds.append(watch.seconds)  # the stopwatch stops on the way out too
            epoch_call_seconds.append(watch.seconds)
            status, error = "diverged", f"{type(caught).__name__}: {caught}"
            stopped_early = "diverged"
            break
        del x_epoch, y_epoch
        epoch_seconds.append(loop_seconds)
        epoch_call_seconds.append(watch.seconds)
        train_images += len(order)
        if not np.isfinite(logs.get("loss", np.nan)):
            status = "diverged"
            error = f"training loss became {logs.get('loss')} in epoch {epoch + 1}"
            stopped_early = "diverged"
            break
        curves["epoch"].append(epoch + 1)
        curves["loss"].append(logs["loss"])
        curves["accuracy"].append(logs.get("accuracy"))
        if len(data.x_validation):
            val_loss, val_accuracy = engine.evaluate(model, data.x_validation, data.y_validation)
            curves["val_loss"].append(val_loss)
            curves["val_accuracy"].append(val_accuracy)
        curves["elapsed_seconds"].append(float(sum(epoch_seconds)))
        if progress is not None:
            progress({"epoch": epoch + 1, "loss": logs["loss"], "accuracy": logs.get("accuracy")})
        if budget is not None and sum(epoch_seconds) >= budget and epoch + 1 < task.epochs:
            stopped_early = "time_budget"
            break
    contention = probe.end_run()

    result: dict[str, Any] = {"status": status, "error": error, "metrics": None}
    inference_seconds = None
    first_inference_seconds = None
    if status == "success":
        # Two passes over the test split: the first may still trace/compile for its batch
        # shapes (Keras), the second is the steady-state inference that is reported.
        with Stopwatch(synchronize) as first_inference:
            engine.predict(model, data.x_test)
        first_inference_seconds = first_inference.seconds
        with Stopwatch(synchronize) as inference:
            probabilities = engine.predict(model, data.x_test)
        inference_seconds = inference.seconds
        if not np.all(np.isfinite(probabilities)):
            result["status"] = "diverged"
            result["error"] = "test-set probabilities contain NaN or infinite values"
        else:
            result["metrics"] = metrics_module.classification_metrics(
                data.y_test_labels, probabilities, data.class_names
            )
    train_seconds = float(sum(epoch_seconds))
    steady = epoch_seconds[1:]
    final_weights = engine.get_weights(model)
    result["timings"] = {
        "train_seconds": train_seconds,
        "warmup_seconds": warmup.seconds,
        "first_epoch_seconds": epoch_seconds[0] if epoch_seconds else None,
        "seconds_per_epoch": statistics.median(steady)
        if steady
        else (epoch_seconds[0] if epoch_seconds else None),
        "steady_state_seconds": float(sum(steady)) if steady else None,
        "epoch_seconds": epoch_seconds,
        "epoch_call_seconds": epoch_call_seconds,
        "train_images_per_second": train_images / train_seconds if train_seconds else None,
        "steady_state_images_per_second": (len(data.split.train) * len(steady)) / sum(steady)
        if steady and sum(steady) > 0
        else None,
        "first_inference_seconds": first_inference_seconds,
        "inference_seconds": inference_seconds,
        "inference_images_per_second": len(data.x_test) / inference_seconds
        if inference_seconds
        else None,
        "data_preparation_seconds": preparation_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_rss_scope": peak_scope,
        "rss_before_run_bytes": rss_before,
        "peak_gpu_bytes": engine.peak_device_memory_bytes(model),
    }
    result["timings"].update(engine.run_details(model))
    result["timings"]["contention"] = contention
    quality, reason = classify_timing(contention, probe.threads, len(probe.cpus))
    result["timing_quality"] = quality
    result["timing_quality_reason"] = reason
    result["curves"] = curves
    result["training"] = {
        "epochs_planned": task.epochs,
        "epochs_completed": len(curves["epoch"]),
        "stopped_early": stopped_early,
        "initial_weights_sha256": start_digest,
        "batch_order_sha256": order_digest(task.epoch_orders[: max(1, len(epoch_seconds))]),
        "same_init": task.initial_weights is not None,
        # how a softmax output's cross-entropy treats target probabilities below 1e-7
        "softmax_crossentropy": engine.crossentropy_form(model),
        "parameters": int(sum(weight.size for weight in final_weights)),
    }
    result["first_layer_filters"] = first_layer_filters(final_weights)
    return result
