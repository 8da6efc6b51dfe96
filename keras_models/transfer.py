"""Move a network between Keras and scratch_cnn: architecture, weights, optionally training set-up.

Both engines use NHWC data, ``(kh, kw, c_in, c_out)`` conv kernels, ``(in, out)`` dense
kernels and the same weight order per layer (kernel, then bias), so weights move without
any permutation. Every Keras option is checked against what scratch_cnn implements; an
option scratch_cnn would silently compute differently is an error that names the layer,
the option, its value and what is supported.

``to_scratch(keras_model)`` and ``to_keras(scratch_model)`` are the public entry points.
"""

from __future__ import annotations

from typing import Any

#: Keras layer classes scratch_cnn implements
SUPPORTED_LAYERS = (
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dropout",
    "Activation",
)
SUPPORTED_ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "elu", "softmax")
#: Keras initializer class -> the arguments scratch_cnn honours
SUPPORTED_INITIALIZERS = {
    "GlorotUniform": (),
    "GlorotNormal": (),
    "HeUniform": (),
    "HeNormal": (),
    "RandomNormal": ("mean", "stddev"),
    "Zeros": (),
}
SUPPORTED_DTYPES = ("float32", "float64")

# Options accepted only at the value given here (their Keras default); anything else would
# be computed differently by scratch_cnn, so it is refused.
_FIXED_OPTIONS: dict[str, Any] = {
    "data_format": "channels_last",
    "dilation_rate": (1, 1),
    "groups": 1,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "noise_shape": None,
    "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None,
}
# Options that describe the Keras object rather than the computation.
_DESCRIPTIVE_OPTIONS = ("name", "trainable", "dtype", "seed", "build_config")

_LAYER_OPTIONS = {
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias",
               "kernel_initializer", "bias_initializer", "kernel_regularizer"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "Flatten": (),
    "Dropout": ("rate",),
    "Activation": ("activation",),
}  # fmt: skip


class UnsupportedKerasFeatureError(ValueError):
    """A Keras model uses a layer or option scratch_cnn does not implement."""


def _fail(where: str, what: str, value: Any, supported: str) -> UnsupportedKerasFeatureError:
    return UnsupportedKerasFeatureError(
        f"{where}: {what} {value!r} is not supported by scratch_cnn (supported: {supported}); "
        "change the Keras model or leave this model out of the transfer."
    )


def _same_value(value: Any, expected: Any) -> bool:
    if isinstance(expected, tuple) and isinstance(value, list | tuple):
        return tuple(value) == expected
    if isinstance(expected, tuple) and isinstance(value, int):
        return all(value == item for item in expected)
    return value == expected


def _activation_name(where: str, value: Any) -> str:
    name = "linear" if value is None else value
    if not isinstance(name, str) or name not in SUPPORTED_ACTIVATIONS:
        raise _fail(where, "activation", value, ", ".join(SUPPORTED_ACTIVATIONS))
    return name


def _initializer_config(where: str, option: str, value: Any) -> dict[str, Any]:
    """Validate a serialized Keras initializer; return scratch_cnn's config form."""
    if isinstance(value, str):
        value = {"class_name": _initializer_class_name(value), "config": {}}
    class_name = value.get("class_name") if isinstance(value, dict) else None
    if class_name not in SUPPORTED_INITIALIZERS:
        raise _fail(where, option, class_name or value, ", ".join(SUPPORTED_INITIALIZERS))
    config = dict(value.get("config") or {})
    kept = {}
    for key, item in config.items():
        if key in SUPPORTED_INITIALIZERS[class_name]:
            kept[key] = item
        elif key == "seed" or (key in ("input_axes", "output_axes") and item is None):
            continue
        else:
            raise _fail(where, f"{option} {class_name} argument {key}=", item, "defaults only")
    return {"class_name": class_name, "config": kept}


def _initializer_class_name(name: str) -> str:
    """Keras's class name of an initializer given by its short name (``he_normal``...)."""
    from scratch_cnn.initializers import get_initializer

    try:
        return get_initializer(name).class_name
    except ValueError:
        return name


def _l2_strength(where: str, value: Any) -> float | None:
    """The L2 strength of a serialized Keras regularizer (None for no regularizer)."""
    if value is None:
        return None
    class_name = value.get("class_name") if isinstance(value, dict) else value
    config = value.get("config", {}) if isinstance(value, dict) else {}
    if class_name in ("L2", "l2"):
        return float(config.get("l2", 0.01))
    if class_name in ("L1L2", "l1_l2") and not config.get("l1"):
        return float(config.get("l2", 0.0)) or None
    raise _fail(where, "kernel_regularizer", class_name, "L2, or L1L2 with l1=0")


def _scratch_layer(keras_layer: Any, index: int) -> Any:
    """The scratch_cnn twin of one Keras layer (weights not yet copied)."""
    import scratch_cnn as sc

    class_name = type(keras_layer).__name__
    where = f"layer {index} {keras_layer.name!r} ({class_name})"
    if class_name not in SUPPORTED_LAYERS:
        raise _fail(where, "layer type", class_name, ", ".join(SUPPORTED_LAYERS))
    config = keras_layer.get_config()
    arguments: dict[str, Any] = {"name": keras_layer.name}
    for key, value in config.items():
        if key in _DESCRIPTIVE_OPTIONS:
            continue
        if key in _FIXED_OPTIONS:
            if not _same_value(value, _FIXED_OPTIONS[key]):
                raise _fail(where, f"option {key}=", value, repr(_FIXED_OPTIONS[key]))
            continue
        if key not in _LAYER_OPTIONS[class_name]:
            raise _fail(where, "option", key, ", ".join(_LAYER_OPTIONS[class_name]) or "none")
        if key == "activation":
            arguments[key] = _activation_name(where, value)
        elif key in ("kernel_initializer", "bias_initializer"):
            arguments[key] = sc.initializers.get_initializer(_initializer_config(where, key, value))
        elif key == "kernel_regularizer":
            strength = _l2_strength(where, value)
            arguments[key] = sc.regularizers.L2(strength) if strength else None
        elif key == "padding":
            if str(value).lower() not in ("valid", "same"):
                raise _fail(where, "padding", value, "'valid', 'same'")
            arguments[key] = str(value).lower()
        else:
            arguments[key] = tuple(value) if isinstance(value, list) else value
    return getattr(sc.layers, class_name)(**arguments)


def _keras_dtype(keras_model: Any) -> str:
    """The one float dtype of a Keras model's weights and computation."""
    dtypes = {str(variable.dtype) for variable in keras_model.weights}
    for layer in keras_model.layers:
        policy = getattr(layer, "dtype_policy", None)
        compute = getattr(policy, "compute_dtype", None)
        variable = getattr(policy, "variable_dtype", None)
        if compute is not None and compute != variable:
            raise _fail(
                f"layer {layer.name!r}", "mixed-precision dtype policy", policy.name,
                "one float dtype for weights and computation",
            )  # fmt: skip
        if compute is not None:
            dtypes.add(compute)
    dtypes = {dtype.replace("torch.", "") for dtype in dtypes}
    if len(dtypes) > 1 or not dtypes <= set(SUPPORTED_DTYPES):
        raise _fail("the model", "dtypes", sorted(dtypes), "float32 or float64 throughout")
    return dtypes.pop() if dtypes else "float32"


def scratch_optimizer_from_keras(keras_optimizer: Any) -> Any:
    """The scratch_cnn optimizer with a Keras optimizer's settings.

    Parameters
    ----------
    keras_optimizer : keras.optimizers.SGD or keras.optimizers.Adam

    Returns
    -------
    scratch_cnn.optimizers.SGD or scratch_cnn.optimizers.Adam

    Raises
    ------
    UnsupportedKerasFeatureError
        For another optimizer class, a learning-rate schedule, weight decay, clipping,
        EMA, gradient accumulation, loss scaling or AMSGrad.
    """
    import scratch_cnn as sc

    class_name = type(keras_optimizer).__name__
    where = f"optimizer {class_name}"
    if class_name not in ("SGD", "Adam"):
        raise _fail("the model's optimizer", "class", class_name, "SGD, Adam")
    config = keras_optimizer.get_config()
    learning_rate = config.get("learning_rate")
    if not isinstance(learning_rate, int | float):
        raise _fail(where, "learning_rate", learning_rate, "a constant number")
    inert = {
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "amsgrad": False,
    }
    for key, default in inert.items():
        if config.get(key, default) not in (default, 0, 0.0) or (
            key == "use_ema" and config.get(key)
        ):
            raise _fail(where, f"option {key}=", config[key], repr(default))
    if class_name == "SGD":
        return sc.optimizers.SGD(
            learning_rate=float(learning_rate),
            momentum=float(config.get("momentum", 0.0)),
            nesterov=bool(config.get("nesterov", False)),
        )
    return sc.optimizers.Adam(
        learning_rate=float(learning_rate),
        beta_1=float(config["beta_1"]),
        beta_2=float(config["beta_2"]),
        epsilon=float(config["epsilon"]),
    )


#: Keras backends whose softmax output carries its logits into categorical cross-entropy,
#: which then skips the 1e-7 clip (docs/parity.md).
BACKENDS_WITH_SOFTMAX_LOGITS = frozenset({"tensorflow"})


def scratch_crossentropy(backend: str | None = None, from_logits: bool = False) -> Any:
    """The scratch_cnn cross-entropy that computes what Keras computes on ``backend``.

    Parameters
    ----------
    backend : str, optional
        ``"tensorflow"``, ``"jax"`` or ``"torch"``; Keras's active backend when omitted
        (which imports Keras).
    from_logits : bool
        Keras's own ``from_logits`` option.

    Returns
    -------
    scratch_cnn.losses.CategoricalCrossentropy
        With ``softmax_logits=True`` on the TensorFlow backend, where a softmax output's
        loss is taken from its logits without the clip; clipping elsewhere.
    """
    import scratch_cnn as sc

    if backend is None:
        import keras

        backend = keras.backend.backend()
    return sc.losses.CategoricalCrossentropy(
        from_logits=from_logits, softmax_logits=backend in BACKENDS_WITH_SOFTMAX_LOGITS
    )


def _scratch_loss_from_keras(loss: Any) -> Any:
    if loss is None or loss == "categorical_crossentropy":
        return scratch_crossentropy()
    if isinstance(loss, str):
        if loss in ("mse", "mean_squared_error"):
            return loss
        raise _fail("the model's loss", "name", loss, "categorical_crossentropy, mse")
    class_name = type(loss).__name__
    if class_name == "CategoricalCrossentropy":
        config = loss.get_config()
        if config.get("label_smoothing") or config.get("axis", -1) != -1:
            raise _fail("the model's loss", "option", config, "label_smoothing=0, axis=-1")
        return scratch_crossentropy(from_logits=bool(config.get("from_logits")))
    if class_name == "MeanSquaredError":
        return "mse"
    raise _fail("the model's loss", "class", class_name, "CategoricalCrossentropy, MSE")


def to_scratch(
    keras_model: Any,
    *,
    seed: int | None = None,
    device: Any = None,
    compile_model: bool = True,
) -> Any:
    """Build the scratch_cnn twin of a Keras ``Sequential``, weights included.

    Parameters
    ----------
    keras_model : keras.Sequential
        Built (it must know its input shape) and made of supported layers.
    seed : int, optional
        Seeds the scratch model's dropout masks and shuffling.
    device : str, optional
        scratch_cnn device ("cpu" or "gpu").
    compile_model : bool
        When the Keras model is compiled, compile the twin with the same optimizer
        settings (a fresh state) and loss.

    Returns
    -------
    scratch_cnn.Sequential
        Same layers, names, dtype and (bit-identical) weights.

    Raises
    ------
    UnsupportedKerasFeatureError
        Naming the first layer or option scratch_cnn does not implement.
    """
    import scratch_cnn as sc

    if type(keras_model).__name__ != "Sequential":
        raise _fail("the model", "model class", type(keras_model).__name__, "keras.Sequential")
    try:
        input_shape = tuple(keras_model.input_shape[1:])
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "the Keras model has no input shape yet; start it with keras.Input(shape) or call "
            f"it on data before transferring ({error})."
        ) from error
    dtype = _keras_dtype(keras_model)
    layers = [_scratch_layer(layer, index) for index, layer in enumerate(keras_model.layers)]
    model = sc.Sequential(
        [sc.Input(input_shape), *layers],
        name=keras_model.name,
        dtype=dtype,
        seed=seed,
        device=device,
    )
    model.build()
    model.set_weights([_to_numpy(weight) for weight in keras_model.get_weights()])
    if compile_model and getattr(keras_model, "optimizer", None) is not None:
        if getattr(keras_model, "compiled", True):
            model.compile(
                optimizer=scratch_optimizer_from_keras(keras_model.optimizer),
                loss=_scratch_loss_from_keras(getattr(keras_model, "loss", None)),
                metrics=["accuracy"],
            )
    return model


def _to_numpy(array: Any) -> Any:
    import numpy as np

    return np.asarray(array)


def _keras_initializer(scratch_initializer: Any) -> Any:
    import keras

    config = scratch_initializer.get_config()
    return keras.initializers.get(
        {"class_name": config["class_name"], "config": dict(config["config"])}
    )


def _keras_layer(scratch_layer: Any, dtype: str) -> Any:
    """The Keras twin of one scratch_cnn layer (weights not yet copied)."""
    import keras

    class_name = type(scratch_layer).__name__
    if class_name not in SUPPORTED_LAYERS:
        raise ValueError(
            f"scratch layer {scratch_layer.name!r} of type {class_name} has no Keras twin here; "
            f"supported: {', '.join(SUPPORTED_LAYERS)}."
        )
    config = scratch_layer.get_config()
    arguments: dict[str, Any] = {"name": scratch_layer.name, "dtype": dtype}
    for key in _LAYER_OPTIONS[class_name]:
        if key not in config:
            continue
        value = config[key]
        if key in ("kernel_initializer", "bias_initializer"):
            value = _keras_initializer(getattr(scratch_layer, key))
        elif key == "kernel_regularizer":
            regularizer = scratch_layer.kernel_regularizer
            value = keras.regularizers.L2(regularizer.l2) if regularizer is not None else None
        elif isinstance(value, list):
            value = tuple(value)
        arguments[key] = value
    return getattr(keras.layers, class_name)(**arguments)


def keras_optimizer_from_scratch(scratch_optimizer: Any) -> Any:
    """The Keras optimizer with a scratch_cnn optimizer's settings (fresh state).

    Parameters
    ----------
    scratch_optimizer : scratch_cnn.optimizers.SGD or scratch_cnn.optimizers.Adam

    Returns
    -------
    keras.optimizers.SGD or keras.optimizers.Adam
    """
    import keras

    config = scratch_optimizer.get_config()
    return keras.optimizers.get({"class_name": config["class_name"], "config": config["config"]})


def to_keras(scratch_model: Any, *, compile_model: bool = True) -> Any:
    """Build the Keras twin of a scratch_cnn ``Sequential``, weights included.

    Parameters
    ----------
    scratch_model : scratch_cnn.Sequential
        With a known input shape.
    compile_model : bool
        When the scratch model is compiled, compile the twin with the same optimizer
        settings (fresh state), categorical cross-entropy or MSE, and accuracy.

    Returns
    -------
    keras.Sequential
        Same layers, names, dtype and (bit-identical) weights.
    """
    import keras

    if not scratch_model.built:
        scratch_model.build()
    dtype = scratch_model.dtype
    layers = [keras.Input(shape=tuple(scratch_model.input_shape), dtype=dtype)]
    layers += [_keras_layer(layer, dtype) for layer in scratch_model.layers]
    model = keras.Sequential(layers, name=scratch_model.name)
    model.set_weights(scratch_model.get_weights())
    if compile_model and scratch_model.optimizer is not None:
        loss_config = scratch_model.loss.get_config()
        if loss_config["class_name"] == "CategoricalCrossentropy":
            loss = keras.losses.CategoricalCrossentropy(
                from_logits=bool(loss_config["config"].get("from_logits", False)), dtype=dtype
            )
        else:
            loss = keras.losses.MeanSquaredError(dtype=dtype)
        model.compile(
            optimizer=keras_optimizer_from_scratch(scratch_model.optimizer),
            loss=loss,
            metrics=["accuracy"],
        )
    return model


__all__ = [
    "SUPPORTED_ACTIVATIONS",
    "SUPPORTED_INITIALIZERS",
    "SUPPORTED_LAYERS",
    "UnsupportedKerasFeatureError",
    "keras_optimizer_from_scratch",
    "scratch_optimizer_from_keras",
    "to_keras",
    "to_scratch",
]
