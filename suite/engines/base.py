"""The interface every engine implements, and how an engine is made from its spec.

An engine object lives in its own worker process (``suite.run.worker``): it is created
once per worker with :func:`create_engine`, its :meth:`Engine.setup` imports the engine's
libraries and fixes their threads, and then it builds and trains one model per run. Models
are opaque handles that only the engine touches; everything that crosses the process
boundary is plain data (Keras-form configs, NumPy arrays, floats).
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from suite.engines import registry
from suite.engines.spec import EngineSpec, parse_engine_spec

#: batch size of test-set and validation inference, the same for every engine
INFERENCE_BATCH_SIZE = 256


class MissingEngineError(RuntimeError):
    """An engine whose library is not installed; the message names the pip extra."""


class Engine(ABC):
    """One engine: builds models from Keras-form configs and trains them on given arrays.

    Parameters
    ----------
    spec : EngineSpec
        Which engine (family and option: device or backend).
    """

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        """The canonical spec string (what records store as ``engine``)."""
        return self.spec.name

    def setup(self, threads: int | None) -> dict[str, Any]:
        """Import the engine's libraries with ``threads`` threads; describe what was set.

        Called once per worker process, before anything else imports the libraries.

        Parameters
        ----------
        threads : int, optional
            Threads for the engine; all usable cores when omitted.

        Returns
        -------
        dict
            The thread settings (``suite.timing.ThreadSettings.as_dict``) and notes.
        """
        from suite.timing import configure_threads

        settings = configure_threads(threads)
        return settings.as_dict()

    @abstractmethod
    def build(
        self,
        model_config: dict[str, Any],
        compile_config: dict[str, Any],
        *,
        seed: int,
        crossentropy: str | None = None,
    ) -> Any:
        """A compiled model from a Keras-form config.

        Parameters
        ----------
        model_config : dict
            ``Sequential.get_config()`` form (``suite.catalog.model_config``).
        compile_config : dict
            ``{"optimizer": {...}, "loss": ..., "metrics": [...]}``
            (``suite.catalog.compile_config``).
        seed : int
            Seeds weights, dropout and anything else random in the engine.
        crossentropy : {"logits", "clipped"}, optional
            How a saturated softmax's cross-entropy is computed, where the engine can choose
            (scratch_cnn matches the Keras backend it is compared with).

        Returns
        -------
        object
            The engine's model handle.
        """

    @abstractmethod
    def get_weights(self, model: Any) -> list[np.ndarray]:
        """Copies of the weights in Keras order, as NumPy arrays."""

    @abstractmethod
    def set_weights(self, model: Any, weights: list[np.ndarray]) -> None:
        """Load weights in Keras order (the caller's arrays must not be altered)."""

    @abstractmethod
    def fit_epoch(
        self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int
    ) -> tuple[dict[str, float], float]:
        """One epoch over ``x`` in the given order, without shuffling.

        Returns
        -------
        (dict, float)
            The epoch's ``loss`` and ``accuracy``, and the seconds of its batch loop as the
            engine clocks them (after the device has finished).
        """

    @abstractmethod
    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on ``(x, y)`` (one-hot ``y``)."""

    @abstractmethod
    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class probabilities as a NumPy array."""

    def synchronize(self, model: Any) -> None:
        """Wait for queued device work before a clock is read (nothing by default)."""
        return None

    def reset_peak_device_memory(self, model: Any) -> None:
        """Start a new device peak-memory measurement (nothing by default)."""
        return None

    def peak_device_memory_bytes(self, model: Any) -> int | None:
        """Peak device bytes since the reset; None on the CPU."""
        return None

    def crossentropy_form(self, model: Any) -> str | None:
        """``"logits"`` or ``"clipped"``: how a saturated softmax's loss is computed."""
        return None

    def run_details(self, model: Any) -> dict[str, Any]:
        """Engine-specific figures of the run just trained, merged into its timings."""
        return {}

    def environment(self) -> dict[str, Any]:
        """What this engine adds to the run's environment block (libraries, backend)."""
        return {}


def check_engine_available(spec: EngineSpec) -> None:
    """Raise when the library an engine spec needs is not installed.

    Parameters
    ----------
    spec : EngineSpec

    Raises
    ------
    MissingEngineError
        Naming the missing module and the pip extra that installs it.
    """
    entry = registry.ENGINES[spec.family]
    module = entry.requires.get(spec.option)
    if module and importlib.util.find_spec(module) is None:
        extra = entry.extras.get(spec.option)
        remedy = f"pip install 'cnnbench[{extra}]'" if extra else f"pip install {module}"
        raise MissingEngineError(
            f"engine {spec.name} needs the Python package {module!r}, which is not installed "
            f"here; install it with {remedy}"
        )


def create_engine(spec: str | EngineSpec, **spec_defaults: Any) -> Engine:
    """The engine object for a spec (imports its module, not yet its libraries).

    Parameters
    ----------
    spec : str or EngineSpec
        e.g. ``"keras:jax"``.
    **spec_defaults
        ``keras_backend`` / ``device`` for bare ``keras`` / ``scratch`` specs.

    Returns
    -------
    Engine
    """
    parsed = spec if isinstance(spec, EngineSpec) else parse_engine_spec(spec, **spec_defaults)
    check_engine_available(parsed)
    module_name, _, class_name = registry.ENGINES[parsed.family].implementation.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(parsed)


__all__ = [
    "INFERENCE_BATCH_SIZE",
    "Engine",
    "MissingEngineError",
    "check_engine_available",
    "create_engine",
]
