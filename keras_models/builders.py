"""Keras 3 builds of catalog entries, using only Keras APIs (any backend).

``build_keras_model`` turns the catalog's engine-neutral layer specs into a compiled
``keras.Sequential``; the helpers map the catalog's optimizer and initializer names to
Keras objects. Nothing here calls TensorFlow, JAX or PyTorch directly, so the twins run
under ``KERAS_BACKEND`` tensorflow, jax or torch alike.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from suite.catalog import Hyperparameters, LayerSpec

#: catalog initializer name -> Keras initializer class name
KERAS_INITIALIZER_CLASSES = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "random_normal": "RandomNormal",
    "zeros": "Zeros",
}


@contextlib.contextmanager
def keras_floatx(dtype: str) -> Iterator[None]:
    """Set Keras's default float type for the duration of a block, then restore it.

    Keras casts float inputs, losses and metrics to ``floatx``; float64 parity needs it.

    Parameters
    ----------
    dtype : {"float32", "float64"}
    """
    import keras

    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def keras_initializer(initializer: tuple[str, dict[str, float]], seed: int | None) -> Any:
    """A seeded Keras initializer from a catalog ``(name, arguments)`` pair.

    Parameters
    ----------
    initializer : (str, dict)
        From :func:`suite.catalog.parse_initializer`.
    seed : int, optional

    Returns
    -------
    keras.initializers.Initializer
    """
    import keras

    name, arguments = initializer
    class_name = KERAS_INITIALIZER_CLASSES[name]
    config = dict(arguments)
    if class_name != "Zeros":
        config["seed"] = seed
    return keras.initializers.get({"class_name": class_name, "config": config})


def keras_optimizer(hp: Hyperparameters) -> Any:
    """A fresh Keras optimizer for a catalog set-up (no weight decay, no clipping).

    Parameters
    ----------
    hp : Hyperparameters

    Returns
    -------
    keras.optimizers.SGD or keras.optimizers.Adam
    """
    import keras

    if hp.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate=hp.learning_rate, momentum=hp.momentum, nesterov=hp.nesterov
        )
    return keras.optimizers.Adam(
        learning_rate=hp.learning_rate, beta_1=hp.beta_1, beta_2=hp.beta_2, epsilon=hp.epsilon
    )


def _layer_name(spec: LayerSpec, used: dict[str, int]) -> str:
    """Per-model names as Keras gives a fresh model (``dense``, ``dense_1``...) and as
    scratch_cnn does, instead of Keras's process-wide counters: the records of two runs
    name the same weights alike."""
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", spec.class_name).lower().replace("2_d", "2d")
    count = used.get(base, 0)
    used[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def keras_layer(spec: LayerSpec, *, dtype: str, seed: int | None, name: str | None = None) -> Any:
    """One Keras layer from a resolved catalog layer spec.

    Parameters
    ----------
    spec : LayerSpec
        From :func:`suite.catalog.layer_specs`.
    dtype : str
        The layer's dtype (weights and computation).
    seed : int, optional
        Seeds the kernel initializer (or the dropout mask).
    name : str, optional
        The layer's name.

    Returns
    -------
    keras.layers.Layer
    """
    import keras

    options = dict(spec.options)
    if spec.class_name in ("Dense", "Conv2D"):
        options["kernel_initializer"] = keras_initializer(options["kernel_initializer"], seed)
        options["bias_initializer"] = keras_initializer(options["bias_initializer"], None)
        l2 = options.pop("l2", 0.0)
        options["kernel_regularizer"] = keras.regularizers.L2(l2) if l2 else None
    elif spec.class_name == "Dropout":
        options["seed"] = seed
    layer_class = getattr(keras.layers, spec.class_name)
    return layer_class(dtype=dtype, name=name, **options)


def build_keras_model(
    specs: Sequence[LayerSpec],
    input_shape: tuple[int, ...],
    hp: Hyperparameters,
    *,
    name: str,
    seed: int | None = None,
    dtype: str = "float32",
    compile_model: bool = True,
) -> Any:
    """Build (and compile) a ``keras.Sequential`` from resolved catalog layer specs.

    Parameters
    ----------
    specs : sequence of LayerSpec
    input_shape : tuple of int
        One sample's shape.
    hp : Hyperparameters
        Supplies the optimizer when compiling.
    name : str
        The model's name.
    seed : int, optional
        Layer ``i`` gets seed ``seed * 1000 + i``: deterministic and distinct per layer.
    dtype : {"float32", "float64"}
    compile_model : bool
        Compile with the set-up's optimizer, categorical cross-entropy and accuracy.

    Returns
    -------
    keras.Sequential
    """
    import keras

    layers = [keras.Input(shape=tuple(input_shape), dtype=dtype)]
    used: dict[str, int] = {}
    for index, spec in enumerate(specs):
        layer_seed = None if seed is None else int(seed) * 1000 + index
        layer = keras_layer(spec, dtype=dtype, seed=layer_seed, name=_layer_name(spec, used))
        layers.append(layer)
    model = keras.Sequential(layers, name=name)
    if compile_model:
        model.compile(
            optimizer=keras_optimizer(hp),
            loss=keras.losses.CategoricalCrossentropy(dtype=dtype),
            metrics=["accuracy"],
        )
    return model
