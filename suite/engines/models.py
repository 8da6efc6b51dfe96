"""Build a catalog architecture for one engine in this process.

The harness builds models inside each engine's worker (``suite.engines.base.Engine``);
this module is for code that wants a model here and now: ``cnnbench validate``,
``cnnbench profile``, tests and tools. It goes through the same two builders
(``scratch_cnn.Sequential.from_config`` and ``keras_models.builders.build_keras_model``)
from the catalog's Keras-form config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suite import catalog

#: ``build`` keyword arguments that are not hyperparameters
BUILD_OPTIONS = ("seed", "dtype", "device", "compile", "name", "keras_backend")


def build(
    name: str,
    engine: str,
    input_shape: Sequence[int],
    num_classes: int,
    **overrides: Any,
) -> Any:
    """Build and compile an architecture for one engine family in this process.

    Parameters
    ----------
    name : str
        Catalog name.
    engine : {"scratch", "keras"}
        The engine family; Keras uses the backend it was imported with.
    input_shape : sequence of int
        One sample's shape, e.g. ``(28, 28, 1)``.
    num_classes : int
    **overrides
        Hyperparameters (see :class:`suite.catalog.Hyperparameters`; ``None`` keeps the
        default), and ``seed`` (weights and dropout), ``dtype`` ("float32"/"float64"),
        ``device`` (scratch only), ``compile`` (default True), ``name`` (the model's name),
        ``keras_backend`` (scratch only: compile with the cross-entropy that Keras computes
        on that backend; the clipped form when omitted).

    Returns
    -------
    scratch_cnn.Sequential or keras.Sequential

    Raises
    ------
    UnknownArchitectureError, ArchitectureShapeError, ValueError
    """
    options = {key: overrides.pop(key) for key in BUILD_OPTIONS if key in overrides}
    if engine not in ("scratch", "keras"):
        raise ValueError(f"unknown engine {engine!r}; expected 'scratch' or 'keras'.")
    seed = options.get("seed")
    dtype = options.get("dtype", "float32")
    config = catalog.model_config(
        name,
        input_shape,
        num_classes,
        dtype=dtype,
        seed=seed,
        model_name=options.get("name"),
        **overrides,
    )
    compiled = catalog.compile_config(name, **overrides) if options.get("compile", True) else None
    if engine == "keras":
        if options.get("keras_backend") is not None:
            raise ValueError(
                "keras_backend applies to the scratch engine only; Keras uses the backend "
                "it was imported with."
            )
        if options.get("device") not in (None, "cpu"):
            raise ValueError(
                f"device {options['device']!r} applies to the scratch engine only; Keras "
                "picks its device from its backend."
            )
        from keras_models.builders import build_keras_model

        return build_keras_model(config, compiled)
    import scratch_cnn as sc

    model = sc.Sequential.from_config(config, seed=seed, device=options.get("device"))
    redraw_initial_weights(model)
    if compiled is not None:
        from keras_models.transfer import BACKENDS_WITH_SOFTMAX_LOGITS

        backend = options.get("keras_backend")
        model.compile(
            optimizer=sc.optimizers.get_optimizer(compiled["optimizer"]),
            loss=sc.losses.CategoricalCrossentropy(
                softmax_logits=backend in BACKENDS_WITH_SOFTMAX_LOGITS
            ),
            metrics=compiled["metrics"],
        )
    return model


def redraw_initial_weights(model: Any) -> None:
    """Draw a scratch model's weights once more from its seeded generator.

    Builds of the catalog in scratch_cnn have always drawn the weights twice from the
    model's generator and kept the second draw (the model was built on construction and
    again explicitly). Every stored result and every seed's start weights depend on that
    stream, so both builders keep it.

    Parameters
    ----------
    model : scratch_cnn.Sequential
        Built from a config (``Sequential.from_config``).
    """
    model.build()


__all__ = ["BUILD_OPTIONS", "build", "redraw_initial_weights"]
