"""Loss objects for ``Sequential.compile``; the maths is in :mod:`scratch_cnn.functional.losses`."""

from __future__ import annotations

from typing import Any

from scratch_cnn.functional import losses as F

Array = Any


class Loss:
    """Base class. ``fused_with_softmax`` says whether a softmax output can be fused."""

    class_name = "Loss"
    name = "loss"
    fused_with_softmax = False

    def __call__(self, y_true: Array, y_pred: Array) -> tuple[Array, Array]:
        """Return ``(mean loss, dL/dy_pred)``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Keras-form config."""
        return {
            "module": "keras.losses",
            "class_name": self.class_name,
            "config": {"name": self.name, "reduction": "sum_over_batch_size"},
            "registered_name": None,
        }


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy with Keras's 1e-7 clipping of probabilities.

    Parameters
    ----------
    from_logits : bool
        Treat the model output as logits (no clipping, log-softmax computed stably).
    softmax_logits : bool
        For a model that ends in a softmax, take the loss from the softmax's input (its
        logits) without the clip, as Keras's TensorFlow backend does (its softmax output
        carries its logits and ``categorical_crossentropy`` uses them). The two agree
        unless a target probability is below 1e-7, where the clip zeroes that sample's
        gradient and the logits form does not. Keras's jax and torch backends clip, as
        the default here does (docs/parity.md).
    """

    class_name = "CategoricalCrossentropy"
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, softmax_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)
        self.softmax_logits = bool(softmax_logits) and not self.from_logits
        self.fused_with_softmax = not self.from_logits

    def __call__(self, y_true: Array, y_pred: Array) -> tuple[Array, Array]:
        if self.from_logits:
            return F.categorical_crossentropy_from_logits(y_true, y_pred)
        return F.categorical_crossentropy_from_probabilities(y_true, y_pred)

    def fused(
        self, y_true: Array, probabilities: Array, logits: Array | None = None
    ) -> tuple[Array, Array]:
        """Loss of softmax outputs and its gradient w.r.t. the softmax input.

        Parameters
        ----------
        y_true : array (N, C)
        probabilities : array (N, C)
            The softmax output.
        logits : array (N, C), optional
            The softmax input; required when ``softmax_logits`` is set.

        Returns
        -------
        loss : 0-d array
        grad_logits : array (N, C)
        """
        if self.softmax_logits:
            if logits is None:
                raise RuntimeError(
                    "softmax_logits=True needs the softmax's input; the model keeps it when "
                    "compiled with this loss."
                )
            return F.categorical_crossentropy_from_logits(y_true, logits)
        return F.categorical_crossentropy_from_softmax(y_true, probabilities)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["config"]["from_logits"] = self.from_logits
        if self.softmax_logits:  # not a Keras option: only written when set
            config["config"]["softmax_logits"] = True
        return config


class MeanSquaredError(Loss):
    """Mean squared error (mean over classes and batch)."""

    class_name = "MeanSquaredError"
    name = "mean_squared_error"

    def __call__(self, y_true: Array, y_pred: Array) -> tuple[Array, Array]:
        return F.mean_squared_error(y_true, y_pred)


def get_loss(identifier: str | dict | Loss) -> Loss:
    """Resolve a loss from a Keras name, a Keras config dict or an instance.

    Parameters
    ----------
    identifier : str, dict or Loss
        ``"categorical_crossentropy"``, ``"mse"``/``"mean_squared_error"``, ...

    Returns
    -------
    Loss
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name", "")
        config = identifier.get("config", {})
        from_logits = bool(config.get("from_logits", False))
        if name == "CategoricalCrossentropy":
            return CategoricalCrossentropy(
                from_logits=from_logits, softmax_logits=bool(config.get("softmax_logits", False))
            )
        if name == "MeanSquaredError":
            return MeanSquaredError()
        raise ValueError(f"unsupported loss config {identifier!r}.")
    key = str(identifier).lower()
    if key in ("categorical_crossentropy", "categoricalcrossentropy"):
        return CategoricalCrossentropy()
    if key in ("mse", "mean_squared_error", "meansquarederror"):
        return MeanSquaredError()
    raise ValueError(
        f"unknown loss {identifier!r}: expected 'categorical_crossentropy' or "
        "'mean_squared_error' (or a scratch_cnn.losses object)."
    )
