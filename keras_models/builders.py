"""Keras 3 models from Keras-form configs, using only Keras APIs (any backend).

The catalog (``suite.catalog.model_config`` / ``compile_config``) writes each architecture
down once in Keras's own ``Sequential.get_config()`` form; ``build_keras_model`` is the
Keras side's one builder: ``keras.Sequential.from_config`` and a compile with the
optimizer config. Nothing here calls TensorFlow, JAX or PyTorch directly, so the twins run
under ``KERAS_BACKEND`` tensorflow, jax or torch alike. This module does not import the
harness.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any


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


def build_keras_model(
    model_config: dict[str, Any], compile_config: dict[str, Any] | None = None
) -> Any:
    """Build (and compile) a ``keras.Sequential`` from a Keras-form config.

    Parameters
    ----------
    model_config : dict
        ``Sequential.get_config()`` form, e.g. from ``suite.catalog.model_config``.
    compile_config : dict, optional
        ``{"optimizer": {"class_name", "config"}, "loss": ..., "metrics": [...]}``;
        the model is returned uncompiled when omitted.

    Returns
    -------
    keras.Sequential
    """
    import keras

    model = keras.Sequential.from_config(copy.deepcopy(model_config))
    if compile_config is not None:
        dtype = str(model_config.get("dtype", "float32"))
        loss: Any = compile_config.get("loss", "categorical_crossentropy")
        if loss == "categorical_crossentropy":
            loss = keras.losses.CategoricalCrossentropy(dtype=dtype)
        model.compile(
            optimizer=keras.optimizers.get(copy.deepcopy(compile_config["optimizer"])),
            loss=loss,
            metrics=list(compile_config.get("metrics", ["accuracy"])),
        )
    return model
