"""Prove, model by model, that scratch_cnn computes what Keras computes.

The measurements behind ``cnnbench validate`` (``suite/commands/validate.py``, which
builds the catalog's twins). For each Keras ``Sequential``:

1. transfer: Keras twin -> ``to_scratch`` -> ``to_keras``; weights bit-identical both ways;
2. forward: ``max |keras(x) - scratch(x)|`` in float32 (bound 1e-5) and float64 (1e-10);
3. gradients of (mean loss + L2) w.r.t. every weight, relative error (1e-4, float32);
4. 50 SGD and 50 Adam steps on the same batches, dropout off, in float64 (see
   :mod:`keras_models.parity` for why): weights relative (1e-3).

Images are real where the data set's files can be read without downloading (digits8x8
always; mnist with ``CNNBENCH_DATA``), random otherwise; the table says which. One table
row per architecture is printed and written as Markdown and JSON (``--out``). The exit
code is 1 when any check fails. Keras is imported only when a check runs, under
whatever ``KERAS_BACKEND`` is set. This module does not import the harness (``suite``).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: image shape of each known data set (no files needed)
DATASET_SHAPES = {
    "digits8x8": ((8, 8, 1), 10),
    "mnist": ((28, 28, 1), 10),
    "svhn": ((32, 32, 3), 10),
    "cifar10": ((32, 32, 3), 10),
}
DEFAULT_BATCH_SIZE = 4
#: the thesis-sized nets (96/192 filters of 5x5, 2048-wide dense layers) use smaller batches
BIG_ARCHITECTURE_BATCH_SIZE = {"vgg_b": 2, "vgg_c": 2}
DEFAULT_STEPS = 50
DEFAULT_OUT = "results/validate"


@dataclass
class ParityRecord:
    """The figures of one validated model (one table row)."""

    name: str
    input: str
    input_shape: tuple[int, ...]
    batch_size: int
    steps: int
    transfer_ok: bool = False
    transfer_detail: str = ""
    forward_float32: float = math.nan
    forward_float64: float = math.nan
    gradient_relative: float = math.nan
    sgd_relative: float = math.nan
    adam_relative: float = math.nan
    sgd_learning_rate: float = math.nan
    adam_learning_rate: float = math.nan
    layer_forward_float32: list[tuple[str, float]] = field(default_factory=list)
    gradient_per_weight: list[tuple[str, float]] = field(default_factory=list)
    sgd_per_weight: list[tuple[str, float]] = field(default_factory=list)
    adam_per_weight: list[tuple[str, float]] = field(default_factory=list)
    saturated_targets: int = 0
    saturated_during_sgd: list[int] = field(default_factory=list)
    saturated_during_adam: list[int] = field(default_factory=list)
    keras_float64_output: str = "float64"
    error: str = ""
    seconds: float = 0.0

    def failures(self) -> list[str]:
        """Names of the checks that failed (or could not run)."""
        from keras_models.parity import FORWARD_BOUND, GRADIENT_BOUND, TRAINING_BOUND

        failed = []
        if self.error:
            failed.append("error")
        if not self.transfer_ok:
            failed.append("transfer")
        checks = (
            ("forward32", self.forward_float32, FORWARD_BOUND["float32"]),
            ("forward64", self.forward_float64, FORWARD_BOUND["float64"]),
            ("gradient", self.gradient_relative, GRADIENT_BOUND),
            ("sgd", self.sgd_relative, TRAINING_BOUND),
            ("adam", self.adam_relative, TRAINING_BOUND),
        )
        failed += [name for name, value, bound in checks if not value <= bound]
        return failed

    @property
    def passed(self) -> bool:
        """Every check ran and is within its bound."""
        return not self.failures()


# -- inputs -------------------------------------------------------------------------------
def load_real_images(
    dataset: str, count: int, data_dir: str | None
) -> tuple[np.ndarray, np.ndarray] | str:
    """The first ``count`` images (scaled to 0..1) and labels of a data set, or why not.

    Never downloads: only files already in ``data_dir``, ``CNNBENCH_DATA`` or the cache.

    Returns
    -------
    (images float64, labels) or str
        The reason, when the files cannot be read.
    """
    import datasets  # the loaders ship with cnnbench; imported here to keep startup light

    try:
        data = datasets.load_dataset(dataset, data_dir=data_dir, download=False)
    except datasets.DataFileNotFoundError as error:
        # Its message goes on to list the searched places, which a table cell cannot hold.
        return f"{dataset} files not readable: {error.summary} (validate never downloads)"
    except Exception as error:  # a bad file: fall back to random images
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"{dataset} files not readable: {first_line}"
    images, labels = data.images, data.labels
    if len(images) < count:
        return f"{dataset} has only {len(images)} images, {count} needed"
    return np.asarray(images[:count], np.float64) / data.pixel_max, np.asarray(labels[:count])


def make_inputs(
    input_shape: tuple[int, ...],
    num_classes: int,
    batch_size: int,
    steps: int,
    dataset: str | None,
    data_dir: str | None,
    seed: int,
) -> tuple[list[Any], str]:
    """``steps`` batches (float32) and a description of where they come from.

    Real images of ``dataset`` when its shape matches and its files are readable, uniform
    random images in [0, 1) with random labels otherwise.
    """
    from keras_models.parity import Batch, one_hot

    count = batch_size * steps
    reason = "no data set of this shape"
    if dataset is not None and DATASET_SHAPES.get(dataset, (None,))[0] == tuple(input_shape):
        loaded = load_real_images(dataset, count, data_dir)
        if not isinstance(loaded, str):
            images, labels = loaded
            batches = [
                Batch(
                    images[i : i + batch_size].astype(np.float32),
                    one_hot(labels[i : i + batch_size], num_classes),
                )
                for i in range(0, count, batch_size)
            ]
            return batches, f"{dataset} (real)"
        reason = loaded
    elif dataset is not None:
        reason = f"{dataset} images are {DATASET_SHAPES.get(dataset, ('?',))[0]}"
    rng = np.random.default_rng(seed)
    images = rng.random((count, *input_shape), dtype=np.float64).astype(np.float32)
    labels = rng.integers(0, num_classes, count)
    batches = [
        Batch(images[i : i + batch_size], one_hot(labels[i : i + batch_size], num_classes))
        for i in range(0, count, batch_size)
    ]
    shape_text = "x".join(str(size) for size in input_shape)
    return batches, f"random {shape_text} ({reason})"


# -- the checks ---------------------------------------------------------------------------
def _check_transfer(keras_model: Any) -> tuple[Any, str]:
    """Keras -> scratch -> Keras; returns the scratch twin and '' or what differs."""
    from keras_models.parity import weights_identical
    from keras_models.transfer import to_keras, to_scratch

    scratch_model = to_scratch(keras_model)
    problems = []
    if not weights_identical(keras_model.get_weights(), scratch_model.get_weights()):
        problems.append("weights differ after to_scratch")
    back = to_keras(scratch_model)
    if not weights_identical(keras_model.get_weights(), back.get_weights()):
        problems.append("weights differ after to_keras")
    classes = [type(layer).__name__ for layer in keras_model.layers]
    if classes != [type(layer).__name__ for layer in back.layers]:
        problems.append("layer classes differ after the round trip")
    for original, returned in zip(keras_model.layers, back.layers, strict=False):
        first, second = original.get_config(), returned.get_config()
        for key in ("units", "filters", "kernel_size", "strides", "padding", "activation",
                    "pool_size", "rate", "use_bias", "kernel_regularizer"):  # fmt: skip
            if first.get(key) != second.get(key):
                problems.append(f"{original.name}.{key}: {first.get(key)} -> {second.get(key)}")
    return scratch_model, "; ".join(problems)


def _float64_forward(scratch_model: Any, x: np.ndarray) -> tuple[float, str]:
    """Forward difference with both engines in float64 (Keras's floatx set to float64).

    Returns
    -------
    (float, str)
        The largest difference, and the dtype of Keras's output (which should be float64).
    """
    import scratch_cnn as sc
    from keras_models.builders import keras_floatx
    from keras_models.parity import forward_difference, to_numpy
    from keras_models.transfer import to_keras

    with keras_floatx("float64"):
        twin64 = sc.Sequential.from_config(scratch_model.get_config(), dtype="float64")
        twin64.set_weights([np.asarray(w, np.float64) for w in scratch_model.get_weights()])
        keras64 = to_keras(twin64, compile_model=False)
        output_dtype = str(to_numpy(keras64(x[:1].astype(np.float64))).dtype)
        uses_tanh = any(
            getattr(getattr(layer, "activation", None), "name", "") == "tanh"
            for layer in twin64.layers
        )
        if uses_tanh and output_dtype == "float64":
            # A float32 tanh inside the net is hidden when later layers cast back up.
            output_dtype = _keras_tanh_dtype_of_float64()
        if output_dtype == "float64":
            # So is a float32 matmul inside a float64 Dense or Conv2D.
            output_dtype = _keras_matmul_dtype_of_float64()
        return forward_difference(keras64, twin64, x.astype(np.float64)), output_dtype


def _keras_tanh_dtype_of_float64() -> str:
    """``"float64"``, or what ``keras.ops.tanh`` turns float64 input into (with "tanh")."""
    import keras

    probe = keras.ops.convert_to_tensor(np.array([0.3]), "float64")
    dtype = keras.backend.standardize_dtype(keras.ops.tanh(probe).dtype)
    return "float64" if dtype == "float64" else f"{dtype} (from its tanh layers)"


def _keras_matmul_dtype_of_float64() -> str:
    """``"float64"``, or the dtype ``keras.ops.matmul`` computes float64 operands in."""
    import keras

    probe = keras.ops.convert_to_tensor(np.eye(2), "float64")
    dtype = keras.backend.standardize_dtype(keras.ops.matmul(probe, probe).dtype)
    return "float64" if dtype == "float64" else f"{dtype} (in its matmuls)"


def count_saturated_targets(keras_model: Any, batch: Any) -> int:
    """See :func:`keras_models.parity.saturated_target_count`."""
    from keras_models.parity import saturated_target_count

    return saturated_target_count(keras_model, batch)


def validate_keras_model(
    keras_model: Any,
    *,
    name: str,
    batches: Sequence[Any],
    input_description: str,
    sgd_learning_rate: float,
    adam_config: dict[str, float],
) -> ParityRecord:
    """Run every parity check on one Keras Sequential and its scratch twin.

    Parameters
    ----------
    keras_model : keras.Sequential
        float32, built.
    name : str
        Row label.
    batches : sequence of Batch
        The first is used for forward and gradients, all of them for the training steps.
    input_description : str
        Where the images come from (shown in the table).
    sgd_learning_rate : float
    adam_config : dict
        Keras Adam config (learning_rate, beta_1, beta_2, epsilon).

    Returns
    -------
    ParityRecord
    """
    from keras_models.builders import keras_floatx
    from keras_models.parity import (
        as_float64,
        forward_difference,
        gradient_relative_errors,
        layerwise_forward_differences,
        training_relative_differences,
        without_dropout,
    )
    from keras_models.transfer import to_scratch

    start = time.perf_counter()
    first = batches[0]
    record = ParityRecord(
        name=name,
        input=input_description,
        input_shape=tuple(first.x.shape[1:]),
        batch_size=len(first.x),
        steps=len(batches),
        sgd_learning_rate=float(sgd_learning_rate),
        adam_learning_rate=float(adam_config["learning_rate"]),
    )
    try:
        scratch_model, detail = _check_transfer(keras_model)
        record.transfer_ok = not detail
        record.transfer_detail = detail or "weights bit-identical both ways"
        record.forward_float32 = forward_difference(keras_model, scratch_model, first.x)
        record.saturated_targets = count_saturated_targets(keras_model, first)
        record.layer_forward_float32 = layerwise_forward_differences(
            keras_model, scratch_model, first.x
        )
        record.forward_float64, record.keras_float64_output = _float64_forward(
            scratch_model, first.x
        )
        plain = without_dropout(keras_model)
        record.gradient_per_weight = gradient_relative_errors(plain, to_scratch(plain), first)
        record.gradient_relative = max((e for _, e in record.gradient_per_weight), default=0.0)
        sgd = {"class_name": "SGD", "config": {"learning_rate": sgd_learning_rate}}
        adam = {"class_name": "Adam", "config": dict(adam_config)}
        with keras_floatx("float64"):
            plain64 = as_float64(plain)
            batches64 = [batch.astype("float64") for batch in batches]
            record.sgd_per_weight = training_relative_differences(
                plain64, batches64, sgd, record.saturated_during_sgd
            )
            record.adam_per_weight = training_relative_differences(
                plain64, batches64, adam, record.saturated_during_adam
            )
        record.sgd_relative = max((e for _, e in record.sgd_per_weight), default=0.0)
        record.adam_relative = max((e for _, e in record.adam_per_weight), default=0.0)
    except Exception as error:  # one failing model must not hide the others' figures
        record.error = f"{type(error).__name__}: {error}"
    record.seconds = time.perf_counter() - start
    return record


def validate_saved_model(
    path: str,
    *,
    dataset: str | None,
    batch_size: int | None,
    steps: int,
    seed: int,
    data_dir: str | None,
) -> ParityRecord:
    """Validate a saved Keras Sequential (``.keras`` file); SGD 0.01 and Adam 1e-3 steps."""
    import keras

    model = keras.saving.load_model(path, compile=False)
    input_shape = tuple(model.input_shape[1:])
    num_classes = int(model.output_shape[-1])
    if dataset is None:
        dataset = next(
            (key for key, (shape, _) in DATASET_SHAPES.items() if shape == input_shape), None
        )
    batches, description = make_inputs(
        input_shape, num_classes, batch_size or DEFAULT_BATCH_SIZE, steps, dataset, data_dir, seed
    )
    return validate_keras_model(
        model,
        name=Path(path).name,
        batches=batches,
        input_description=description,
        sgd_learning_rate=0.01,
        adam_config={"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    )


# -- output -------------------------------------------------------------------------------
def _figure(value: float, bound: float) -> str:
    if math.isnan(value):
        return "-"
    mark = "" if value <= bound else " FAIL"
    return f"{value:.1e}{mark}"


def _saturation_note(record: ParityRecord, backend: str) -> str:
    """A sentence when target probabilities fell below Keras's 1e-7 clip, else ''."""
    parts = []
    if record.saturated_targets:
        parts.append(f"{record.saturated_targets} of {record.batch_size} at the start")
    for optimizer, counts in (("SGD", record.saturated_during_sgd),
                              ("Adam", record.saturated_during_adam)):  # fmt: skip
        steps = [step for step, count in enumerate(counts) if count]
        if steps:
            total = sum(counts)
            parts.append(f"{total} during the {optimizer} steps (from step {steps[0] + 1})")
    if not parts:
        return ""
    note = f"- {record.name}: target probabilities below 1e-7: " + ", ".join(parts)
    if backend == "tensorflow":
        note += (
            "; there the TensorFlow backend takes a softmax output's cross-entropy from its "
            "logits without the 1e-7 clip, and the scratch twin does the same "
            "(CategoricalCrossentropy(softmax_logits=True), docs/parity.md)"
        )
    else:
        note += "; there both engines clip (zero gradient for those samples)"
    return note


def _float64_note(record: ParityRecord, backend: str) -> str:
    """A sentence when Keras's float64 model did not compute in float64, else ''."""
    if record.keras_float64_output in ("float64", ""):
        return ""
    note = (
        f"- {record.name}: Keras's float64 model computed in {record.keras_float64_output}, "
        "so the float64 forward row compares against a lower-precision result"
    )
    if backend == "jax" and "tanh" in record.keras_float64_output:
        note += (
            " (Keras 3 on jax: `keras.ops.tanh` casts float64 input to "
            "`dtypes.result_type('float64', float)`, which is float32 on that backend; "
            "docs/parity.md)"
        )
    elif "matmul" in record.keras_float64_output:
        note += (
            f" (Keras 3 on {backend}: `keras.ops.matmul` casts both operands to "
            "`dtypes.result_type(float64, float64)`, which Keras maps to float32 on every "
            "backend but TensorFlow (`BIT64_TO_BIT32_DTYPE`); docs/parity.md)"
        )
    return note


def markdown_table(records: Sequence[ParityRecord], backend: str) -> str:
    """The validate table as Markdown (what is printed and written to ``.md``)."""
    from keras_models.parity import FORWARD_BOUND, GRADIENT_BOUND, TRAINING_BOUND

    steps = records[0].steps if records else DEFAULT_STEPS
    header = (
        "| architecture | input | batch | transfer "
        f"| forward f32 (<= {FORWARD_BOUND['float32']:g}) "
        f"| forward f64 (<= {FORWARD_BOUND['float64']:g}) | gradient rel (<= {GRADIENT_BOUND:g}) "
        f"| {steps} SGD rel f64 (<= {TRAINING_BOUND:g}) "
        f"| {steps} Adam rel f64 (<= {TRAINING_BOUND:g}) "
        "| result | s |"
    )
    lines = [f"Keras backend: {backend}", "", header, "|" + "---|" * 11]
    for record in records:
        failures = record.failures()
        result = "pass" if not failures else "FAIL: " + ", ".join(failures)
        lines.append(
            f"| {record.name} | {record.input} | {record.batch_size} | "
            f"{'ok' if record.transfer_ok else 'FAIL'} | "
            f"{_figure(record.forward_float32, FORWARD_BOUND['float32'])} | "
            f"{_figure(record.forward_float64, FORWARD_BOUND['float64'])} | "
            f"{_figure(record.gradient_relative, GRADIENT_BOUND)} | "
            f"{_figure(record.sgd_relative, TRAINING_BOUND)} | "
            f"{_figure(record.adam_relative, TRAINING_BOUND)} | {result} | "
            f"{record.seconds:.0f} |"
        )
    errors = [f"- {r.name}: {r.error}" for r in records if r.error]
    if errors:
        lines += ["", "Errors:", *errors]
    saturated = [_saturation_note(record, backend) for record in records]
    saturated += [_float64_note(record, backend) for record in records]
    saturated = [note for note in saturated if note]
    if saturated:
        lines += ["", "Notes:", *saturated]
    return "\n".join(lines) + "\n"


def _environment(backend: str) -> dict[str, Any]:
    import keras

    import scratch_cnn

    return {
        "keras_backend": backend,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
        "scratch_cnn_version": getattr(scratch_cnn, "__version__", "?"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_reports(records: Sequence[ParityRecord], out_dir: str, backend: str) -> list[Path]:
    """Write ``validate-<backend>.json`` and ``.md`` into ``out_dir``; return the paths."""
    from keras_models.parity import FORWARD_BOUND, GRADIENT_BOUND, TRAINING_BOUND

    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "environment": _environment(backend),
        "bounds": {
            "forward_float32": FORWARD_BOUND["float32"],
            "forward_float64": FORWARD_BOUND["float64"],
            "gradient_relative": GRADIENT_BOUND,
            "training_relative": TRAINING_BOUND,
        },
        "passed": all(record.passed for record in records),
        "models": [
            {**asdict(record), "passed": record.passed, "failures": record.failures()}
            for record in records
        ],
    }
    json_path = directory / f"validate-{backend}.json"
    markdown_path = directory / f"validate-{backend}.md"
    temporary = json_path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    temporary.replace(json_path)
    markdown_path.write_text(markdown_table(records, backend), encoding="utf-8")
    return [json_path, markdown_path]


__all__ = [
    "BIG_ARCHITECTURE_BATCH_SIZE",
    "DATASET_SHAPES",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_OUT",
    "DEFAULT_STEPS",
    "ParityRecord",
    "make_inputs",
    "markdown_table",
    "validate_keras_model",
    "validate_saved_model",
    "write_reports",
]
