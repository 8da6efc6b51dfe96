"""Validation of what users feed the engine, with errors that say what to do."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch_cnn.backend import get_array_module


class InputValidationError(ValueError):
    """Data given to fit/predict/evaluate has the wrong shape, dtype or values."""


class DivergenceError(FloatingPointError):
    """The training loss became NaN or infinite.

    Attributes
    ----------
    epoch, batch : int
        Where it happened (epoch from 1, batch from 0).
    loss : float
        The non-finite value.
    """

    def __init__(self, epoch: int, batch: int, loss: float) -> None:
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(
            f"training diverged: the loss became {loss} at epoch {epoch}, batch {batch}. "
            "Lower the learning rate, check the inputs are scaled (e.g. to [0, 1]), or use "
            "a smaller weight initialisation."
        )


def check_features(
    x: Any, input_shape: tuple[int, ...] | None, name: str = "x", allow_integer: bool = False
) -> Any:
    """Check a feature array's shape and dtype (cheap: no pass over the values).

    Parameters
    ----------
    x : array-like (N, *input_shape)
    input_shape : tuple of int or None
        The model's sample shape; ``None`` when the model is not built yet.
    name : str
        How to call the array in messages.
    allow_integer : bool
        Integer images are fine when a ``preprocess`` callable will scale them.

    Returns
    -------
    array
        ``x`` as an array (NumPy unless it already was a device array).
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    if len(x.shape) < 2:
        raise InputValidationError(
            f"{name} must have a batch axis and sample axes, got shape {tuple(x.shape)}; "
            f"expected (N, {', '.join(map(str, input_shape or ('...',)))})."
        )
    if x.shape[0] == 0:
        raise InputValidationError(f"{name} is empty (shape {tuple(x.shape)}).")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        hint = ""
        if (*x.shape[1:], 1) == tuple(input_shape):
            hint = " Add the channel axis with x[..., None]."
        elif (
            len(input_shape) == 3
            and x.shape[-1] != input_shape[-1]
            and x.shape[1] == input_shape[-1]
        ):
            hint = " The data looks channels-first (NCHW); scratch_cnn is NHWC like Keras."
        raise InputValidationError(
            f"{name} has samples of shape {tuple(x.shape[1:])} but the model expects "
            f"{tuple(input_shape)} (NHWC).{hint}"
        )
    kind = np.dtype(str(x.dtype).split(".")[-1]).kind if isinstance(x, np.ndarray) else None
    if kind is None:
        kind = "f" if "float" in str(x.dtype) else ("i" if "int" in str(x.dtype) else "O")
    if kind == "f":
        return x
    if kind in "iu" and allow_integer:
        return x
    raise InputValidationError(
        f"{name} has dtype {x.dtype}, expected floating point values. Scale integer "
        "images to floats first (e.g. x.astype('float32') / 255) or pass "
        "preprocess=... to fit/predict/evaluate."
    )


def check_finite(batch: Any, name: str = "x") -> None:
    """Raise if a batch holds NaN or infinity.

    Parameters
    ----------
    batch : array
    name : str
    """
    xp = get_array_module(batch)
    finite = xp.isfinite(batch)
    if not bool(xp.all(finite)):
        bad = int(xp.sum(xp.astype(xp.logical_not(finite), xp.int64)))
        raise InputValidationError(
            f"{name} contains {bad} NaN or infinite value(s); clean or impute the data "
            "before training (e.g. numpy.nan_to_num) — the engine cannot learn from them."
        )


def prepare_targets(y: Any, num_samples: int, num_classes: int, name: str = "y") -> np.ndarray:
    """Turn integer labels ``(N,)`` or one-hot targets ``(N, C)`` into one-hot float64.

    Parameters
    ----------
    y : array-like
    num_samples : int
        Must equal ``len(y)``.
    num_classes : int
        The model's output size.
    name : str

    Returns
    -------
    numpy.ndarray (N, C)
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and num_classes > 1:
        y = y[:, 0]
    if y.shape[:1] != (num_samples,):
        raise InputValidationError(
            f"{name} has {y.shape[0] if y.ndim else 0} entries but x has {num_samples} "
            "samples; they must match one to one."
        )
    if y.ndim == 1:
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise InputValidationError(
                    f"{name} holds non-integer labels; give integer class labels "
                    f"0..{num_classes - 1} or one-hot rows."
                )
            y = y.astype(np.int64)
        if y.dtype.kind not in "iu":
            raise InputValidationError(f"{name} has dtype {y.dtype}; expected integer labels.")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= num_classes:
            raise InputValidationError(
                f"{name} has labels in [{low}, {high}] but the model has {num_classes} outputs, "
                f"so labels must lie in [0, {num_classes - 1}]."
            )
        one_hot = np.zeros((num_samples, num_classes))
        one_hot[np.arange(num_samples), y] = 1.0
        return one_hot
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise InputValidationError(
                f"{name} is one-hot with {y.shape[1]} columns but the model has {num_classes} "
                "outputs."
            )
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise InputValidationError(f"{name} contains NaN or infinite targets.")
        return y
    raise InputValidationError(
        f"{name} has shape {y.shape}; expected integer labels (N,) or one-hot targets (N, C)."
    )
