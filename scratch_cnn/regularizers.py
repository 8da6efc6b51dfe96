"""Weight regularizers: Keras's L2, ``penalty = l2 * sum(W**2)``, gradient ``2 * l2 * W``."""

from __future__ import annotations

from typing import Any

from scratch_cnn.backend import get_array_module


class L2:
    """L2 weight penalty added to the loss, exactly as ``keras.regularizers.L2``.

    Parameters
    ----------
    l2 : float
        Strength; the penalty is ``l2 * sum(W ** 2)`` (no factor 1/2, as in Keras).
    """

    def __init__(self, l2: float = 0.01) -> None:
        if l2 < 0:
            raise ValueError(f"L2 strength must be >= 0, got {l2}.")
        self.l2 = float(l2)

    def penalty(self, weight: Any) -> Any:
        """Return ``l2 * sum(weight**2)`` as a 0-d array."""
        xp = get_array_module(weight)
        return self.l2 * xp.sum(weight * weight)

    def gradient(self, weight: Any) -> Any:
        """Return ``2 * l2 * weight``."""
        return (2.0 * self.l2) * weight

    def get_config(self) -> dict[str, Any]:
        """Keras-form config."""
        return {
            "module": "keras.regularizers",
            "class_name": "L2",
            "config": {"l2": self.l2},
            "registered_name": None,
        }


def get_regularizer(identifier: Any) -> L2 | None:
    """Resolve ``None``, an :class:`L2`, a Keras config dict or ``"l2"``.

    Parameters
    ----------
    identifier : None, L2, dict or str

    Returns
    -------
    L2 or None
    """
    if identifier is None or isinstance(identifier, L2):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in ("L2", "l2"):
        return L2(**identifier.get("config", {}))
    if identifier == "l2":
        return L2()
    raise ValueError(
        f"unsupported kernel_regularizer {identifier!r}: scratch_cnn supports L2 only "
        "(scratch_cnn.regularizers.L2(l2) or a Keras L2 config)."
    )
