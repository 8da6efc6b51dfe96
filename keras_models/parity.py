"""Parity measurements between a Keras model and its scratch_cnn twin (SPEC "Parity with Keras").

Every figure is computed with Keras APIs only, so the same measurements run under the
tensorflow, jax and torch Keras backends:

- forward: ``max |keras(x) - scratch(x)|``, also layer by layer;
- gradients: Keras's gradient of (mean loss + L2) w.r.t. every weight comes from one
  ``train_on_batch`` with plain SGD at a learning rate of ``2**20``: the weight change is
  ``-2**20 * gradient``. A power of two scales exactly, and the large rate keeps the
  gradient's digits (at rate 1.0 a float32 ``w - g`` loses them when ``|g| << |w|``);
- training: the same batches, in the same order, through N optimizer steps of each engine,
  in float64. In float32 the engines' different summation orders leave rounding-level
  differences that a max-pooling window with two nearly equal values turns into a different
  winner, and Adam's normalised steps amplify such a switch (docs/parity.md shows lenet2);
  float64 keeps rounding far below any algorithmic difference the check is meant to catch.

Relative differences are per weight array, ``max |a - b| / max |b|`` (``b`` is Keras's
value), and the figure reported is the largest over the arrays: an element-wise ratio
would be dominated by entries that are zero up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: SPEC bounds
FORWARD_BOUND = {"float32": 1e-5, "float64": 1e-10}
GRADIENT_BOUND = 1e-4
TRAINING_BOUND = 1e-3
#: learning rate that turns one SGD step into the gradient (exact power of two)
GRADIENT_PROBE_LEARNING_RATE = 2.0**20


@dataclass(frozen=True)
class Batch:
    """Images and one-hot targets of one batch."""

    x: np.ndarray
    y: np.ndarray

    def astype(self, dtype: str) -> Batch:
        """The batch in another float dtype."""
        return Batch(self.x.astype(dtype), self.y.astype(dtype))


def one_hot(labels: np.ndarray, num_classes: int, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer labels."""
    return np.eye(num_classes, dtype=dtype)[np.asarray(labels, dtype=np.int64)]


def to_numpy(value: Any) -> np.ndarray:
    """A Keras tensor (any backend) or array as a NumPy array."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def weights_identical(first: Sequence[np.ndarray], second: Sequence[np.ndarray]) -> bool:
    """Whether two weight lists have the same shapes, dtypes and bit-identical values."""
    return len(first) == len(second) and all(
        np.asarray(a).shape == np.asarray(b).shape
        and np.asarray(a).dtype == np.asarray(b).dtype
        and np.array_equal(a, b)
        for a, b in zip(first, second, strict=True)
    )


def relative_differences(
    actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]
) -> list[float]:
    """Per array, ``max |actual - expected| / max |expected|`` (0 when both are all zero).

    Parameters
    ----------
    actual, expected : sequence of numpy.ndarray
        Aligned lists (scratch_cnn's and Keras's).

    Returns
    -------
    list of float
    """
    if len(actual) != len(expected):
        raise ValueError(f"{len(actual)} arrays compared with {len(expected)}.")
    result = []
    for a, e in zip(actual, expected, strict=True):
        a64, e64 = np.asarray(a, np.float64), np.asarray(e, np.float64)
        if a64.shape != e64.shape:
            raise ValueError(f"array shapes differ: {a64.shape} vs {e64.shape}.")
        scale = float(np.max(np.abs(e64))) if e64.size else 0.0
        difference = float(np.max(np.abs(a64 - e64))) if e64.size else 0.0
        if scale == 0.0:
            result.append(0.0 if difference == 0.0 else float("inf"))
        else:
            result.append(difference / scale)
    return result


def weight_names(keras_model: Any) -> list[str]:
    """``layer/kernel``-style names of a Keras model's weights, in ``get_weights`` order."""
    names = []
    for layer in keras_model.layers:
        for variable in layer.weights:
            names.append(f"{layer.name}/{variable.name.split('/')[-1]}")
    return names


def keras_forward(keras_model: Any, x: np.ndarray) -> np.ndarray:
    """Inference output of a Keras model (dropout off) as NumPy."""
    return to_numpy(keras_model(x, training=False))


def forward_difference(keras_model: Any, scratch_model: Any, x: np.ndarray) -> float:
    """``max |keras(x) - scratch(x)|`` at inference.

    Parameters
    ----------
    keras_model : keras.Sequential
    scratch_model : scratch_cnn.Sequential
    x : numpy.ndarray
        One batch.

    Returns
    -------
    float
    """
    keras_output = keras_forward(keras_model, x)
    scratch_output = scratch_model.predict(x, batch_size=len(x))
    return float(np.max(np.abs(keras_output.astype(np.float64) - scratch_output)))


def layerwise_forward_differences(
    keras_model: Any, scratch_model: Any, x: np.ndarray
) -> list[tuple[str, float]]:
    """Each layer's ``max |keras - scratch|``, each engine feeding its own previous output.

    Returns
    -------
    list of (layer name, float)
    """
    from scratch_cnn import to_numpy as scratch_to_numpy

    keras_value: Any = x
    scratch_value: Any = scratch_model.device.asarray(x, scratch_model.dtype)
    differences = []
    for keras_layer, scratch_layer in zip(keras_model.layers, scratch_model.layers, strict=True):
        keras_value = keras_layer(keras_value, training=False)
        scratch_value = scratch_layer.forward(scratch_value, training=False)
        scratch_array = np.asarray(scratch_to_numpy(scratch_value), np.float64)
        keras_array = to_numpy(keras_value).astype(np.float64)
        differences.append((keras_layer.name, float(np.max(np.abs(keras_array - scratch_array)))))
    return differences


def without_dropout(keras_model: Any) -> Any:
    """A copy of a Keras Sequential with every Dropout rate set to 0, same weights.

    Parity of gradients and training needs the same function in both engines; dropout
    masks come from different generators, so they are switched off (SPEC).
    """
    import keras

    config = keras_model.get_config()
    for entry in config["layers"]:
        if entry["class_name"] == "Dropout":
            entry["config"]["rate"] = 0.0
    clone = keras.Sequential.from_config(config)
    clone.set_weights(keras_model.get_weights())
    return clone


def as_float64(keras_model: Any) -> Any:
    """A float64 copy of a Keras Sequential (weights converted exactly), uncompiled.

    Call it, and use the copy, with Keras's floatx set to float64
    (:func:`keras_models.builders.keras_floatx`), so inputs and losses stay float64.
    """
    import keras

    config = keras_model.get_config()
    for entry in config["layers"]:
        entry["config"]["dtype"] = "float64"
    copy = keras.Sequential.from_config(config)
    copy.set_weights([np.asarray(w, np.float64) for w in keras_model.get_weights()])
    return copy


def _keras_loss(keras_model: Any, dtype: str) -> Any:
    import keras

    loss = getattr(keras_model, "loss", None)
    if type(loss).__name__ == "MeanSquaredError" or loss in ("mse", "mean_squared_error"):
        return keras.losses.MeanSquaredError(dtype=dtype)
    return keras.losses.CategoricalCrossentropy(dtype=dtype)


def keras_gradients(keras_model: Any, batch: Batch) -> list[np.ndarray]:
    """Keras's gradient of (mean loss + regularization) w.r.t. every weight, backend-neutrally.

    One ``train_on_batch`` of a copy with plain SGD at learning rate ``2**20``:
    ``gradient = (w_before - w_after) / 2**20``. The model itself is left unchanged.

    Parameters
    ----------
    keras_model : keras.Sequential
        Dropout-free (see :func:`without_dropout`); its loss is reused when compiled.
    batch : Batch

    Returns
    -------
    list of numpy.ndarray (float64)
        Aligned with ``keras_model.get_weights()``.
    """
    import keras

    dtype = str(keras_model.weights[0].dtype).replace("torch.", "")
    probe = keras.Sequential.from_config(keras_model.get_config())
    before = keras_model.get_weights()
    probe.set_weights(before)
    probe.compile(
        optimizer=keras.optimizers.SGD(learning_rate=GRADIENT_PROBE_LEARNING_RATE),
        loss=_keras_loss(keras_model, dtype),
    )
    probe.train_on_batch(batch.x, batch.y)
    after = probe.get_weights()
    return [
        (np.asarray(b, np.float64) - np.asarray(a, np.float64)) / GRADIENT_PROBE_LEARNING_RATE
        for b, a in zip(before, after, strict=True)
    ]


def gradient_relative_errors(
    keras_model: Any, scratch_model: Any, batch: Batch
) -> list[tuple[str, float]]:
    """Per weight array, the relative error of scratch_cnn's gradient against Keras's.

    Returns
    -------
    list of (weight name, float)
    """
    expected = keras_gradients(keras_model, batch)
    if scratch_model.loss is None:  # the loss is all compute_gradients needs from compile
        from keras_models.transfer import scratch_crossentropy

        scratch_model.compile(optimizer="sgd", loss=scratch_crossentropy())
    actual = scratch_model.compute_gradients(batch.x, batch.y)
    errors = relative_differences(actual, expected)
    return list(zip(weight_names(keras_model), errors, strict=True))


def float32_representable_betas(optimizer_config: dict[str, Any]) -> dict[str, Any]:
    """An Adam config with ``beta_1``/``beta_2`` rounded to the nearest float32 value.

    Keras's Adam computes its bias correction from ``ops.cast(beta, variable.dtype)``; on
    the TensorFlow backend that cast goes through a float32 constant even for float64
    weights (0.999 becomes 0.99900001287...), while the moment updates use the exact
    ``1 - beta``: the first step comes out 6.7e-6 smaller than the formula. With betas that
    float32 represents exactly, every backend and scratch_cnn compute the same update, so the
    training comparison measures the engines rather than that rounding (docs/parity.md).
    Other optimizers are returned unchanged.
    """
    if optimizer_config.get("class_name") != "Adam":
        return optimizer_config
    config = dict(optimizer_config.get("config", {}))
    for key, default in (("beta_1", 0.9), ("beta_2", 0.999)):
        config[key] = float(np.float32(config.get(key, default)))
    return {**optimizer_config, "config": config}


def saturated_target_count(keras_model: Any, batch: Batch) -> int:
    """How many of a batch's target probabilities are below Keras's clip value 1e-7.

    There the cross-entropy's clip is active: scratch_cnn (like Keras's jax and torch
    backends) gives those samples zero gradient, while Keras's TensorFlow backend computes
    a softmax output's loss from its logits without clipping, so gradients and training
    steps cannot agree under that backend (docs/parity.md).
    """
    probabilities = keras_forward(keras_model, batch.x)
    target_probabilities = np.sum(probabilities * batch.y, axis=-1)
    return int(np.count_nonzero(target_probabilities < 1e-7))


def training_relative_differences(
    keras_model: Any,
    batches: Sequence[Batch],
    optimizer_config: dict[str, Any],
    saturated_counts: list[int] | None = None,
) -> list[tuple[str, float]]:
    """Train a copy in each engine on the same batches; compare the weights at the end.

    Parameters
    ----------
    keras_model : keras.Sequential
        Dropout-free starting point (left unchanged).
    batches : sequence of Batch
        One optimizer step per batch, in this order, no shuffling.
    optimizer_config : dict
        Keras form, e.g. ``{"class_name": "Adam", "config": {"learning_rate": 1e-3}}``;
        Adam's betas are rounded to float32 (:func:`float32_representable_betas`).
    saturated_counts : list, optional
        When given, receives :func:`saturated_target_count` of Keras's model before each
        step (what explains a mismatch under the TensorFlow backend).

    Returns
    -------
    list of (weight name, float)
        Per weight array, ``max |scratch - keras| / max |keras|`` after the last step.
    """
    import keras

    from keras_models.transfer import to_scratch

    dtype = str(keras_model.weights[0].dtype).replace("torch.", "")
    trained = keras.Sequential.from_config(keras_model.get_config())
    trained.set_weights(keras_model.get_weights())
    trained.compile(
        optimizer=keras.optimizers.get(float32_representable_betas(optimizer_config)),
        loss=_keras_loss(keras_model, dtype),
    )
    twin = to_scratch(trained)  # same weights, same optimizer settings, fresh state
    for batch in batches:
        if saturated_counts is not None:
            saturated_counts.append(saturated_target_count(trained, batch))
        trained.train_on_batch(batch.x, batch.y)
        twin.train_on_batch(batch.x, batch.y)
    errors = relative_differences(twin.get_weights(), trained.get_weights())
    return list(zip(weight_names(trained), errors, strict=True))


__all__ = [
    "FORWARD_BOUND",
    "GRADIENT_BOUND",
    "GRADIENT_PROBE_LEARNING_RATE",
    "TRAINING_BOUND",
    "Batch",
    "as_float64",
    "float32_representable_betas",
    "forward_difference",
    "gradient_relative_errors",
    "keras_forward",
    "keras_gradients",
    "layerwise_forward_differences",
    "one_hot",
    "relative_differences",
    "saturated_target_count",
    "to_numpy",
    "training_relative_differences",
    "weight_names",
    "weights_identical",
    "without_dropout",
]
