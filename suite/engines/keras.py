"""Keras 3 on the spec's backend: ``keras:tensorflow``, ``keras:jax``, ``keras:torch``.

The backend is fixed when Keras is imported, so :meth:`KerasEngine.setup` sets
``KERAS_BACKEND`` and the backend's threads before the first ``import keras`` of its
worker process; one worker process runs one backend.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from suite.engines.base import INFERENCE_BATCH_SIZE, Engine


class KerasEngine(Engine):
    """Builds, trains and queries the Keras twins on one Keras backend."""

    @property
    def backend(self) -> str:
        """``"tensorflow"``, ``"jax"`` or ``"torch"``."""
        return self.spec.option

    def setup(self, threads: int | None) -> dict[str, Any]:
        """Set ``KERAS_BACKEND``, pin the backend's threads, import Keras (see Engine)."""
        from suite.timing import configure_threads

        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != self.backend:
            raise RuntimeError(
                f"Keras is already imported with backend {sys.modules['keras'].backend.backend()!r}"
                f" in this process; {self.name} needs its own worker process"
            )
        os.environ["KERAS_BACKEND"] = self.backend
        settings = configure_threads(
            threads, keras_backend=self.backend, configure_keras_backend=True
        )
        import keras  # noqa: F401  (the backend is now fixed for this process)

        return settings.as_dict()

    def build(
        self,
        model_config: dict[str, Any],
        compile_config: dict[str, Any],
        *,
        seed: int,
        crossentropy: str | None = None,
    ) -> Any:
        """A compiled ``keras.Sequential`` from a Keras-form config (see Engine)."""
        import keras

        from keras_models.builders import build_keras_model

        keras.utils.set_random_seed(seed)  # dropout masks and anything left unseeded
        # Keras casts inputs, losses and metrics to floatx: it must match the model's dtype.
        keras.config.set_floatx(str(model_config.get("dtype", "float32")))
        return build_keras_model(model_config, compile_config)

    def crossentropy_form(self, model: Any) -> str:
        """``"logits"`` or ``"clipped"``: how a saturated softmax's loss is computed."""
        from keras_models.transfer import BACKENDS_WITH_SOFTMAX_LOGITS

        return "logits" if self.backend in BACKENDS_WITH_SOFTMAX_LOGITS else "clipped"

    def reset_peak_device_memory(self, model: Any) -> None:
        """Reset TensorFlow's GPU peak-memory counter (other backends: nothing)."""
        if self.backend == "tensorflow" and "tensorflow" in sys.modules:
            try:
                sys.modules["tensorflow"].config.experimental.reset_memory_stats("GPU:0")
            except (ValueError, RuntimeError):  # no GPU visible to TensorFlow
                pass

    def peak_device_memory_bytes(self, model: Any) -> int | None:
        """TensorFlow's GPU peak since the reset; None on the CPU or other backends."""
        if self.backend != "tensorflow" or "tensorflow" not in sys.modules:
            return None
        try:
            info = sys.modules["tensorflow"].config.experimental.get_memory_info("GPU:0")
        except (ValueError, RuntimeError):
            return None
        return int(info["peak"])

    def fit_epoch(
        self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int
    ) -> tuple[dict[str, float], float]:
        """One epoch over ``x`` in the given order, ``verbose=0``.

        The seconds run from ``on_epoch_begin`` to ``on_epoch_end``: the batch loop (with
        the first epoch's tracing and compilation) without the data adapter ``fit`` builds
        per call, which the harness's one-call-per-epoch design adds and Keras's own epochs
        would not pay.
        """
        clock = _keras_epoch_clock()
        history = model.fit(
            x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[clock]
        )
        logs = {key: float(values[-1]) for key, values in history.history.items()}
        return logs, clock.seconds

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on ``(x, y)``."""
        loss, accuracy = model.evaluate(x, y, batch_size=INFERENCE_BATCH_SIZE, verbose=0)
        return float(loss), float(accuracy)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class probabilities as a NumPy array."""
        return np.asarray(model.predict(x, batch_size=INFERENCE_BATCH_SIZE, verbose=0))

    def get_weights(self, model: Any) -> list[np.ndarray]:
        """Copies of the weights in Keras order."""
        return [np.array(weight, copy=True) for weight in model.get_weights()]

    def set_weights(self, model: Any, weights: list[np.ndarray]) -> None:
        """Load weights in Keras order (layouts are shared, so no permutation)."""
        model.set_weights(weights)

    def environment(self) -> dict[str, Any]:
        """The backend and its library's version."""
        import keras

        backend_module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[self.backend]
        version = getattr(sys.modules.get(backend_module), "__version__", None)
        return {
            "keras_backend": keras.backend.backend(),
            "keras": keras.__version__,
            "backend_version": version,
        }


def _keras_epoch_clock() -> Any:
    """A Keras callback that clocks each epoch from ``on_epoch_begin`` to ``on_epoch_end``."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.started = 0.0
            self.seconds = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # the epoch's logs are host floats by now, so the device has finished
            self.seconds = time.perf_counter() - self.started

    return EpochClock()
