"""Run a benchmark matrix: both engines, identical data, fair clocks, one record per run.

For every cell (data set x architecture) and seed the runner

1. loads the data set once (uint8, cached for the process) and draws the seeded split;
   every engine run re-draws it and its fingerprint must equal the first engine's, so
   "identical splits" is checked, not assumed;
2. builds the initial weights once from the catalog's scratch model (seeded); with
   ``same_init = true`` the Keras twin starts from exactly these values;
3. trains each engine, alternating which goes first from seed to seed, on the same
   batches in the same order: each epoch's order comes from ``datasets.epoch_order``
   (seed, epoch) and both engines receive the same pre-ordered, pre-scaled float arrays
   with their own shuffling off, so data preparation stays outside the clock;
4. times a warm-up (one prediction batch: kernels, thread pools, the Keras predict graph),
   each epoch's batch loop with the engine's own clock (the first epoch, where Keras
   traces and compiles its train function, reported apart from the steady state), and
   the second of two passes of test-set inference; validation is evaluated after each
   epoch outside the clock, for both engines;
5. computes the test metrics with :mod:`suite.metrics` from each engine's probabilities
   and appends one record (``docs/results-schema.md``) to the results store at once.

A run that raises is stored as ``failed`` with its error, a run whose loss becomes NaN
or infinite as ``diverged``, and the matrix goes on. A cell whose data files are absent
is stored as ``skipped`` with the reason. Ctrl-C stops at once; every stored record is
whole, and ``resume=True`` skips the runs whose key is already stored (see
:mod:`suite.results`).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from scratch_cnn.host_memory import release_freed_memory, retain_freed_memory
from suite import metrics as metrics_module
from suite.environment import environment_block
from suite.matrix import Cell, Matrix
from suite.results import (
    DONE_STATUSES,
    RESULTS_FILE_NAME,
    ResultsStore,
    new_record_fields,
    run_key,
)
from suite.timing import (
    Stopwatch,
    ThreadSettings,
    configure_threads,
    keras_backend_name,
    peak_rss_bytes,
    reset_peak_rss,
)

#: largest first-layer kernel (number of values) stored in a record
MAX_STORED_FILTER_VALUES = 20_000

#: batch size of test-set and validation inference, the same for both engines
INFERENCE_BATCH_SIZE = 256

#: split fingerprint stored for cells whose data could not be loaded
UNAVAILABLE_FINGERPRINT = "unavailable"


@dataclass
class RunOptions:
    """Command-line choices that apply to every run of a matrix."""

    out_dir: Path = Path("results")
    only: Sequence[str] = ()
    resume: bool = False
    threads: int | None = None
    device: str = "cpu"
    keras_backend: str | None = None
    quiet: bool = False
    data_dir: str | None = None
    download: bool = False

    @property
    def results_path(self) -> Path:
        """The results file inside the output folder."""
        return Path(self.out_dir) / RESULTS_FILE_NAME


@dataclass
class RunSummary:
    """What a matrix run did, counted by outcome."""

    planned: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    already_stored: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    results_path: str = ""

    def count(self, status: str) -> None:
        """Count one stored record of ``status``."""
        self.stored[status] = self.stored.get(status, 0) + 1

    @property
    def failed(self) -> int:
        """Number of runs stored as failed."""
        return self.stored.get("failed", 0)


# ---------------------------------------------------------------------------------------
# Data: one load per data set, one split per seed, the same arrays for both engines.


@dataclass
class PreparedData:
    """A seeded split of a loaded data set, and the float arrays both engines share."""

    dataset: Any
    split: Any
    scaler: Any
    dtype: str
    num_classes: int
    class_names: list[str]
    x_validation: np.ndarray
    y_validation: np.ndarray
    x_test: np.ndarray
    y_test_labels: np.ndarray

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image."""
        return tuple(int(size) for size in self.dataset.images.shape[1:])  # type: ignore[return-value]

    def epoch_arrays(
        self, epoch: int, seed: int, shuffle: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training images (scaled floats), one-hot targets and indices, in epoch order."""
        import datasets

        order = datasets.epoch_order(self.split.train, seed if shuffle else None, epoch)
        x = self.scaler(self.dataset.images[order], np.dtype(self.dtype))
        y = one_hot(self.dataset.labels[order], self.num_classes, self.dtype)
        return x, y, order


def one_hot(labels: np.ndarray, num_classes: int, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer labels (both engines get the same targets)."""
    return np.eye(num_classes, dtype=dtype)[np.asarray(labels, dtype=np.int64)]


class DataCache:
    """Loads each data set once per process and draws splits from it."""

    def __init__(self, data_dir: str | None, download: bool) -> None:
        self.data_dir = data_dir
        self.download = download
        self._loaded: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}

    def load(self, name: str) -> Any:
        """The loaded data set, or raise the (remembered) loading error."""
        if name in self._errors:
            raise self._errors[name]
        if name not in self._loaded:
            import datasets

            try:
                self._loaded[name] = datasets.load_dataset(
                    name, data_dir=self.data_dir, download=self.download
                )
            except (OSError, datasets.DatasetError) as error:
                self._errors[name] = error
                raise
        return self._loaded[name]

    def prepare(self, cell: Cell, seed: int) -> PreparedData:
        """Split, scaler and the shared validation/test arrays of one cell and seed."""
        import datasets

        dataset = self.load(cell.dataset)
        split = datasets.make_split(
            dataset, seed=seed, validation_size=cell.settings["validation_size"]
        )
        if cell.settings["scaling"] == "standardize":
            scaler = datasets.PixelScaler.standardize(dataset, split.train)
        else:
            scaler = datasets.PixelScaler.unit(dataset)
        dtype = cell.settings["dtype"]
        return PreparedData(
            dataset=dataset,
            split=split,
            scaler=scaler,
            dtype=dtype,
            num_classes=dataset.num_classes,
            class_names=[str(name) for name in dataset.class_names],
            x_validation=scaler(dataset.images[split.validation], np.dtype(dtype)),
            y_validation=one_hot(dataset.labels[split.validation], dataset.num_classes, dtype),
            x_test=scaler(dataset.images[split.test], np.dtype(dtype)),
            y_test_labels=np.asarray(dataset.labels[split.test]),
        )


def _split_fingerprint(cache: DataCache, cell: Cell, seed: int) -> str:
    import datasets

    dataset = cache.load(cell.dataset)
    split = datasets.make_split(
        dataset, seed=seed, validation_size=cell.settings["validation_size"]
    )
    return split.fingerprint


# ---------------------------------------------------------------------------------------
# Engines: the same five operations on a scratch_cnn model and on a Keras model.


class ScratchEngine:
    """Builds, trains and queries ``scratch_cnn`` models."""

    name = "scratch"
    needs_keras_backend = False

    def __init__(self, device: str, keras_backend: str | None = None) -> None:
        self.device = device
        #: The Keras backend of the comparison: the scratch model's cross-entropy computes
        #: what Keras computes there (keras_models.transfer.scratch_crossentropy).
        self.keras_backend = keras_backend_name(keras_backend)

    def build(self, cell: Cell, data: PreparedData, seed: int) -> Any:
        """The cell's architecture as a compiled scratch model, initialised from ``seed``."""
        from suite import catalog

        return catalog.build(
            cell.architecture,
            "scratch",
            data.input_shape,
            data.num_classes,
            seed=seed,
            dtype=cell.settings["dtype"],
            device=self.device,
            keras_backend=self.keras_backend,
            **cell.overrides(),
        )

    def crossentropy_form(self, model: Any) -> str:
        """``"logits"`` or ``"clipped"``: how a saturated softmax's loss is computed."""
        return "logits" if getattr(model.loss, "softmax_logits", False) else "clipped"

    def synchronize(self, model: Any) -> None:
        """Wait for queued device work (CuPy) before a clock is read."""
        model.device.synchronize()

    def reset_peak_device_memory(self, model: Any) -> None:
        """Start a new GPU peak-memory measurement on the model's device."""
        reset = getattr(model.device, "reset_peak_memory", None)
        if reset is not None:
            reset()

    def peak_device_memory_bytes(self, model: Any) -> int | None:
        """Peak bytes in use on the GPU during the run (the engine tracks it); None on CPU."""
        peak = getattr(model.device, "peak_memory_bytes", None)
        return None if peak is None else int(peak)

    def fit_epoch(
        self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int
    ) -> tuple[dict[str, float], float]:
        """One epoch over ``x`` in the given order.

        Returns the epoch's ``loss``/``accuracy`` and the seconds of its batch loop as the
        engine clocks them (after a device synchronisation), without ``fit``'s set-up.
        """
        history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        logs = {key: float(values[-1]) for key, values in history.history.items()}
        return logs, float(history.epoch_times[-1])

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on ``(x, y)``."""
        loss, accuracy = model.evaluate(x, y, batch_size=INFERENCE_BATCH_SIZE)
        return float(loss), float(accuracy)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class probabilities as a NumPy array."""
        return np.asarray(model.predict(x, batch_size=INFERENCE_BATCH_SIZE))

    def get_weights(self, model: Any) -> list[np.ndarray]:
        """Copies of the weights in Keras order, as NumPy arrays."""
        return [np.array(weight, copy=True) for weight in model.get_weights()]

    def set_weights(self, model: Any, weights: list[np.ndarray]) -> None:
        """Load copies of weights in Keras order (training must not alter the originals)."""
        model.set_weights([np.array(weight, copy=True) for weight in weights])


class KerasEngine:
    """Builds, trains and queries the Keras twins (any Keras 3 backend)."""

    name = "keras"
    needs_keras_backend = True

    def __init__(self, device: str) -> None:
        self.device = device

    def crossentropy_form(self, model: Any) -> str:
        """``"logits"`` or ``"clipped"``: how a saturated softmax's loss is computed."""
        import keras

        from keras_models.transfer import BACKENDS_WITH_SOFTMAX_LOGITS

        return "logits" if keras.backend.backend() in BACKENDS_WITH_SOFTMAX_LOGITS else "clipped"

    def build(self, cell: Cell, data: PreparedData, seed: int) -> Any:
        """The cell's architecture as a compiled Keras model, initialised from ``seed``."""
        import keras

        from suite import catalog

        keras.utils.set_random_seed(seed)  # dropout masks and anything left unseeded
        # Keras casts inputs, losses and metrics to floatx: it must match the model's dtype.
        keras.config.set_floatx(cell.settings["dtype"])
        return catalog.build(
            cell.architecture,
            "keras",
            data.input_shape,
            data.num_classes,
            seed=seed,
            dtype=cell.settings["dtype"],
            **cell.overrides(),
        )

    def synchronize(self, model: Any) -> None:
        """Keras calls return host values, which already waits for the device."""

    def reset_peak_device_memory(self, model: Any) -> None:
        """Reset TensorFlow's GPU peak-memory counter (other backends: nothing)."""
        if self.device == "gpu" and "tensorflow" in sys.modules:
            try:
                sys.modules["tensorflow"].config.experimental.reset_memory_stats("GPU:0")
            except (ValueError, RuntimeError):  # no GPU visible to TensorFlow
                pass

    def peak_device_memory_bytes(self, model: Any) -> int | None:
        """TensorFlow's GPU peak since the reset; None on the CPU or other backends."""
        if self.device != "gpu" or "tensorflow" not in sys.modules:
            return None
        try:
            info = sys.modules["tensorflow"].config.experimental.get_memory_info("GPU:0")
        except (ValueError, RuntimeError):
            return None
        return int(info["peak"])

    def fit_epoch(
        self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int
    ) -> tuple[dict[str, float], float]:
        """One epoch over ``x`` in the given order, ``verbose=0``.

        Returns the epoch's ``loss``/``accuracy`` and the seconds from ``on_epoch_begin`` to
        ``on_epoch_end``: the batch loop (with the first epoch's tracing and compilation)
        without the data adapter ``fit`` builds per call, which the harness's one-call-per-
        epoch design adds and Keras's own epochs would not pay.
        """
        clock = _keras_epoch_clock()
        history = model.fit(
            x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[clock]
        )
        logs = {key: float(values[-1]) for key, values in history.history.items()}
        return logs, clock.seconds

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on ``(x, y)``."""
        loss, accuracy = model.evaluate(x, y, batch_size=INFERENCE_BATCH_SIZE, verbose=0)
        return float(loss), float(accuracy)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class probabilities as a NumPy array."""
        return np.asarray(model.predict(x, batch_size=INFERENCE_BATCH_SIZE, verbose=0))

    def get_weights(self, model: Any) -> list[np.ndarray]:
        """Copies of the weights in Keras order."""
        return [np.array(weight, copy=True) for weight in model.get_weights()]

    def set_weights(self, model: Any, weights: list[np.ndarray]) -> None:
        """Load weights in Keras order (layouts are shared, so no permutation)."""
        model.set_weights(weights)


def _keras_epoch_clock() -> Any:
    """A Keras callback that clocks each epoch from ``on_epoch_begin`` to ``on_epoch_end``."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.started = 0.0
            self.seconds = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # the epoch's logs are host floats by now, so the device has finished
            self.seconds = time.perf_counter() - self.started

    return EpochClock()


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    """sha256 over the weights' float32 bytes: equal initial digests mean same init."""
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(np.ascontiguousarray(weight, dtype="<f4").tobytes())
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


# ---------------------------------------------------------------------------------------
# One run: one engine, one cell, one seed.


class RunDiverged(Exception):
    """The training loss became NaN or infinite."""


def _base_record(cell: Cell, engine: str, seed: int, options: RunOptions, family: Any) -> dict:
    record = new_record_fields()
    record.update(
        {
            "matrix_cell": cell.name,
            "experiment": cell.experiment,
            "dataset": cell.dataset,
            "architecture": cell.architecture,
            "family": family,
            "engine": engine,
            "keras_backend": keras_backend_name(options.keras_backend)
            if engine == "keras"
            else None,
            "device": options.device,
            "seed": seed,
            "hyperparameters": cell.run_settings(),
            "configuration_hash": cell.configuration_hash(),
            "error": None,
            "metrics": None,
            "timings": None,
            "curves": None,
            "training": None,
            "first_layer_filters": None,
        }
    )
    return record


def _architecture_family(name: str) -> str | None:
    from suite import catalog

    try:
        return catalog.get_architecture(name).family
    except KeyError:  # a test engine's stand-in architecture: no family to report
        return None


def train_one(
    engine: ScratchEngine | KerasEngine,
    cell: Cell,
    data: PreparedData,
    seed: int,
    initial_weights: list[np.ndarray] | None,
    progress: tqdm | None = None,
) -> dict[str, Any]:
    """Train and evaluate one engine on one cell; return the record's measured fields.

    Parameters
    ----------
    engine : ScratchEngine or KerasEngine
        Which engine.
    cell : Cell
        Data set, architecture and settings.
    data : PreparedData
        The split and shared arrays.
    seed : int
        Seed of initialisation (when not shared), dropout and batch order.
    initial_weights : list of numpy.ndarray, optional
        Start from these (``same_init``); the engine's own seeded init when None.
    progress : tqdm, optional
        Advanced once per epoch.

    Returns
    -------
    dict
        ``status``, ``error``, ``metrics``, ``timings``, ``curves``, ``training``,
        ``first_layer_filters``.
    """
    settings = cell.settings
    # Both engines run under the same host-allocator policy (freed memory kept for reuse,
    # scratch_cnn.host_memory); what earlier runs retained is handed back first, so that
    # this run's peak RSS counts only what it uses.
    retain_freed_memory()
    release_freed_memory()
    peak_scope = "run" if reset_peak_rss() else "process"
    model = engine.build(cell, data, seed)
    if initial_weights is not None:
        engine.set_weights(model, initial_weights)
    start_digest = weights_digest(engine.get_weights(model))
    engine.reset_peak_device_memory(model)

    def synchronize() -> None:
        engine.synchronize(model)

    # Warm-up: one inference batch loads kernels, starts thread pools and (Keras) traces the
    # predict function, without touching the weights both engines start from.
    with Stopwatch(synchronize) as warmup:
        engine.predict(model, data.x_test[: min(len(data.x_test), cell.batch_size)])

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
    order_digest = hashlib.sha256()
    stopped_early = None
    status, error = "success", None
    budget = settings["time_budget_seconds"]
    train_images = 0
    for epoch in range(cell.epochs):
        started = time.perf_counter()
        x_epoch, y_epoch, order = data.epoch_arrays(epoch, seed, settings["shuffle"])
        order_digest.update(np.ascontiguousarray(order, dtype="<i8").tobytes())
        preparation_seconds += time.perf_counter() - started
        try:
            with Stopwatch(synchronize) as watch:
                logs, loop_seconds = engine.fit_epoch(model, x_epoch, y_epoch, cell.batch_size)
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
            progress.set_postfix(
                loss=f"{logs['loss']:.4f}", acc=f"{logs.get('accuracy', 0):.3f}", refresh=False
            )
            progress.update(1)
        if budget is not None and sum(epoch_seconds) >= budget and epoch + 1 < cell.epochs:
            stopped_early = "time_budget"
            break

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
        "peak_gpu_bytes": engine.peak_device_memory_bytes(model),
    }
    result["curves"] = curves
    result["training"] = {
        "epochs_planned": cell.epochs,
        "epochs_completed": len(curves["epoch"]),
        "stopped_early": stopped_early,
        "initial_weights_sha256": start_digest,
        "batch_order_sha256": order_digest.hexdigest(),
        "same_init": initial_weights is not None,
        # how a softmax output's cross-entropy treats target probabilities below 1e-7
        "softmax_crossentropy": getattr(engine, "crossentropy_form", lambda _: None)(model),
        "parameters": int(sum(weight.size for weight in final_weights)),
    }
    result["first_layer_filters"] = first_layer_filters(final_weights)
    return result


# ---------------------------------------------------------------------------------------
# The matrix loop.


class DeviceUnavailableError(RuntimeError):
    """``--device gpu`` on a machine where an engine cannot reach a GPU."""


def _check_gpu(engines: set[str], keras_backend: str | None) -> None:
    """Refuse a GPU run that would quietly train on the CPU (its timings would mislead)."""
    problems = []
    if "scratch" in engines:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # ImportError, or a CUDA runtime error
            problems.append(
                f"scratch_cnn needs CuPy with a CUDA device ({type(error).__name__}: {error}); "
                "install the gpu extra (pip install 'cnnbench[gpu]')"
            )
    if "keras" in engines and (keras_backend or "tensorflow") == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            problems.append("TensorFlow sees no GPU (check the CUDA build and drivers)")
    if problems:
        raise DeviceUnavailableError(
            "--device gpu cannot run here: " + "; ".join(problems) + ". Use --device cpu."
        )


def _failure_text(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    tail = "".join(lines[-6:]).strip()
    return f"{type(error).__name__}: {error}\n{tail}"


class MatrixRunner:
    """Runs the selected cells of a matrix and appends one record per run.

    Parameters
    ----------
    matrix : Matrix
        The validated matrix.
    options : RunOptions
        Output folder, selection, resume, threads, device, backend, quiet, data folder.
    engines : dict, optional
        Engine name -> engine object (tests inject fakes); the real engines by default.
    """

    def __init__(
        self,
        matrix: Matrix,
        options: RunOptions,
        engines: dict[str, Any] | None = None,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.matrix = matrix
        self.options = options
        self.cells = matrix.select(list(options.only))
        self.store = ResultsStore(options.results_path)
        self.engines = engines or {
            "scratch": ScratchEngine(options.device, options.keras_backend),
            "keras": KerasEngine(options.device),
        }
        self.data = DataCache(options.data_dir, options.download)
        self.out = out or (lambda text: tqdm.write(text, file=sys.stderr))
        self.thread_settings: ThreadSettings | None = None
        self.environment: dict[str, Any] = {}

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            self.out(text)

    def setup(self) -> None:
        """Pin threads (before TensorFlow starts), hide GPUs on cpu, describe the machine."""
        used = {name for cell in self.cells for name in cell.engines}
        uses_keras = any(getattr(self.engines[name], "needs_keras_backend", False) for name in used)
        if self.options.device == "cpu" and uses_keras:
            # TensorFlow/JAX/torch would otherwise place the Keras runs on a GPU.
            os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        self.thread_settings = configure_threads(
            self.options.threads,
            keras_backend=self.options.keras_backend,
            configure_keras_backend=uses_keras,
        )
        for note in self.thread_settings.notes:
            self._say(f"note: {note}")
        if self.options.device == "gpu":
            _check_gpu(used, self.thread_settings.keras_backend)
        self.environment = environment_block(
            self.thread_settings, self.options.device, self.options.keras_backend
        )

    def run(self) -> RunSummary:
        """Run every selected cell; return the summary (``interrupted`` after Ctrl-C)."""
        started = time.perf_counter()
        summary = RunSummary(
            planned=self.matrix.run_count(self.cells), results_path=str(self.store.path)
        )
        done_keys: set[str] = set()
        if self.options.resume:
            stored = self.store.read()
            for problem in stored.problems:
                self._say(f"warning: {problem}")
            done_keys = {
                record["key"]
                for record in stored.records
                if record.get("status") in DONE_STATUSES and isinstance(record.get("key"), str)
            }
        self.setup()
        overall = tqdm(
            total=summary.planned,
            desc=f"matrix {self.matrix.name}",
            unit="run",
            disable=self.options.quiet,
            position=0,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        try:
            for cell in self.cells:
                self._run_cell(cell, done_keys, summary, overall)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            overall.close()
            summary.seconds = time.perf_counter() - started
        return summary

    def _store(self, record: dict[str, Any], summary: RunSummary) -> None:
        record["environment"] = self.environment
        self.store.append(record)
        summary.count(record["status"])

    def _run_cell(
        self, cell: Cell, done_keys: set[str], summary: RunSummary, overall: tqdm
    ) -> None:
        family = _architecture_family(cell.architecture)
        for seed_position, seed in enumerate(cell.seeds):
            engines = list(cell.engines)
            if seed_position % 2 == 1:  # alternate which engine goes first
                engines.reverse()
            try:
                fingerprint = _split_fingerprint(self.data, cell, seed)
            except KeyboardInterrupt:
                raise
            except Exception as error:
                self._skip_or_fail(cell, seed, engines, error, summary, overall, family)
                continue
            keys = {
                name: run_key(cell.configuration(), fingerprint, self._engine_label(name), seed)
                for name in engines
            }
            pending = [name for name in engines if keys[name] not in done_keys]
            for name in engines:
                if name not in pending:
                    summary.already_stored += 1
                    overall.update(1)
            if not pending:
                continue
            data = self.data.prepare(cell, seed)
            initial = (
                self._initial_weights(cell, data, seed) if cell.settings["same_init"] else None
            )
            for name in pending:
                record = _base_record(cell, name, seed, self.options, family)
                record["key"] = keys[name]
                record["engine_order"] = engines
                self._run_engine(name, cell, data, seed, initial, record, fingerprint)
                self._store(record, summary)
                overall.update(1)
                self._report_line(record)

    def _engine_label(self, name: str) -> str:
        if name == "keras":
            backend = keras_backend_name(self.options.keras_backend)
            return f"keras/{backend}/{self.options.device}"
        return f"scratch/{self.options.device}"

    def _initial_weights(self, cell: Cell, data: PreparedData, seed: int) -> list[np.ndarray]:
        engine = self.engines["scratch"]
        model = engine.build(cell, data, seed)
        return engine.get_weights(model)

    def _run_engine(
        self,
        name: str,
        cell: Cell,
        data: PreparedData,
        seed: int,
        initial: list[np.ndarray] | None,
        record: dict[str, Any],
        fingerprint: str,
    ) -> None:
        bar = tqdm(
            total=cell.epochs,
            desc=f"{cell.dataset}/{cell.architecture} {name} seed {seed}",
            unit="epoch",
            leave=False,
            disable=self.options.quiet,
            position=1,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        record["split"] = data.split.to_record()
        try:
            redrawn = _split_fingerprint(self.data, cell, seed)
            if redrawn != fingerprint or data.split.fingerprint != fingerprint:
                raise RuntimeError(
                    f"split fingerprint {redrawn} differs from {fingerprint} drawn for the "
                    "other engine; the engines would not see identical data"
                )
            record.update(train_one(self.engines[name], cell, data, seed, initial, bar))
        except KeyboardInterrupt:
            raise
        except Exception as error:
            record["status"] = "failed"
            record["error"] = _failure_text(error)
        finally:
            bar.close()

    def _skip_or_fail(
        self,
        cell: Cell,
        seed: int,
        engines: list[str],
        error: Exception,
        summary: RunSummary,
        overall: tqdm,
        family: Any,
    ) -> None:
        # absent files are expected (seeds.toml names every data set); anything else failed
        absent = isinstance(error, FileNotFoundError)
        for name in engines:
            record = _base_record(cell, name, seed, self.options, family)
            record["key"] = run_key(
                cell.configuration(), UNAVAILABLE_FINGERPRINT, self._engine_label(name), seed
            )
            record["status"] = "skipped" if absent else "failed"
            record["error"] = f"{type(error).__name__}: {error}"
            record["split"] = {"fingerprint": UNAVAILABLE_FINGERPRINT}
            self._store(record, summary)
            overall.update(1)
            self._report_line(record)

    def _report_line(self, record: dict[str, Any]) -> None:
        head = (
            f"{record['status']:>8}  {record['dataset']}/{record['architecture']} "
            f"{record['engine']} seed {record['seed']}"
        )
        metrics = record.get("metrics") or {}
        timings = record.get("timings") or {}
        if record["status"] == "success":
            self._say(
                f"{head}: accuracy {metrics['accuracy']:.4f}, weighted F1 "
                f"{metrics['weighted_f1']:.4f}, train {timings['train_seconds']:.2f} s "
                f"(first epoch {timings['first_epoch_seconds']:.2f} s)"
            )
        else:
            first_line = (record.get("error") or "").splitlines()[:1]
            self._say(f"{head}: {first_line[0] if first_line else ''}")
