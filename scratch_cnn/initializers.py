"""Weight initializers with Keras 3's exact distributions and names.

All draw on the host with a NumPy ``Generator`` (so a seed gives the same weights on
every device) and return NumPy arrays. Fans follow Keras: a Dense kernel ``(in, out)`` has
``fan_in = in``, ``fan_out = out``; a Conv2D kernel ``(KH, KW, C, F)`` has
``fan_in = KH*KW*C`` and ``fan_out = KH*KW*F``.

=================  =====================================================================
name               distribution
=================  =====================================================================
glorot_uniform     U(-l, l), l = sqrt(6 / (fan_in + fan_out))
glorot_normal      N(0, s) truncated at 2 s, s = sqrt(2 / (fan_in + fan_out)) / 0.8796...
he_uniform         U(-l, l), l = sqrt(6 / fan_in)
he_normal          N(0, s) truncated at 2 s, s = sqrt(2 / fan_in) / 0.8796...
random_normal      N(mean, stddev), stddev 0.05 by default
zeros              0
=================  =====================================================================

The constant 0.87962566103423978 is the standard deviation of a unit normal truncated at
two standard deviations; dividing by it makes the truncated draw have the target variance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Standard deviation of N(0, 1) truncated to [-2, 2] (Keras's correction factor).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a kernel shape, as Keras computes them.

    Parameters
    ----------
    shape : tuple of int
        ``(in, out)`` for Dense, ``(KH, KW, C, F)`` for Conv2D.

    Returns
    -------
    (int, int)
    """
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], stddev: float
) -> np.ndarray:
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():  # rejection sampling: redraw only the values beyond 2 std
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * stddev


class Initializer:
    """Base class: ``initializer(shape, dtype, rng)`` returns a NumPy array."""

    class_name = "Initializer"

    def __call__(self, shape: tuple[int, ...], dtype: str, rng: np.random.Generator) -> np.ndarray:
        return self.sample(tuple(shape), rng).astype(dtype)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw float64 values of ``shape``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Keras-form config: ``{"class_name", "config"}``."""
        return {
            "module": "keras.initializers",
            "class_name": self.class_name,
            "config": self._config(),
            "registered_name": None,
        }

    def _config(self) -> dict[str, Any]:
        return {"seed": None}


class Zeros(Initializer):
    """All zeros."""

    class_name = "Zeros"

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)

    def _config(self) -> dict[str, Any]:
        return {}


class RandomNormal(Initializer):
    """Normal distribution ``N(mean, stddev)``.

    Parameters
    ----------
    mean : float
    stddev : float
    """

    class_name = "RandomNormal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = float(mean)
        self.stddev = float(stddev)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, shape)

    def _config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": None}


class _VarianceScaling(Initializer):
    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"

    def __init__(self, seed: int | None = None) -> None:
        pass

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        fan = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2.0
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        return _truncated_normal(rng, shape, math.sqrt(variance) / TRUNCATED_NORMAL_STD)


class GlorotUniform(_VarianceScaling):
    """Glorot (Xavier) uniform: limit ``sqrt(6 / (fan_in + fan_out))``."""

    class_name = "GlorotUniform"


class GlorotNormal(_VarianceScaling):
    """Glorot normal, truncated at two standard deviations."""

    class_name = "GlorotNormal"
    distribution = "truncated_normal"


class HeUniform(_VarianceScaling):
    """He uniform: limit ``sqrt(6 / fan_in)``."""

    class_name = "HeUniform"
    scale = 2.0
    mode = "fan_in"


class HeNormal(_VarianceScaling):
    """He normal, truncated at two standard deviations."""

    class_name = "HeNormal"
    scale = 2.0
    mode = "fan_in"
    distribution = "truncated_normal"


_BY_NAME: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
}
_BY_CLASS_NAME = {cls.class_name: cls for cls in _BY_NAME.values()}


def get_initializer(identifier: str | dict | Initializer | None) -> Initializer:
    """Resolve an initializer from a Keras name, a Keras config dict or an instance.

    Parameters
    ----------
    identifier : str, dict or Initializer
        e.g. ``"he_normal"``, ``{"class_name": "RandomNormal", "config": {"stddev": 1.0}}``.

    Returns
    -------
    Initializer
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_CLASS_NAME.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(
                f"unknown initializer config {identifier!r}: supported classes are "
                f"{sorted(_BY_CLASS_NAME)}."
            )
        config = {k: v for k, v in identifier.get("config", {}).items() if k != "seed"}
        return cls(**config)
    key = str(identifier).lower()
    if key not in _BY_NAME:
        raise ValueError(f"unknown initializer {identifier!r}: expected one of {sorted(_BY_NAME)}.")
    return _BY_NAME[key]()
