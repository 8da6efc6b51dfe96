"""The scratch_cnn engine: NumPy on the CPU (``scratch``), CuPy on a GPU (``scratch:gpu``).

Imports scratch_cnn only; a scratch worker never loads TensorFlow, Keras, JAX or torch.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from suite.engines.base import INFERENCE_BATCH_SIZE, Engine

#: environment variable naming the BLAS thread policy of scratch runs (suite.thread_policy)
THREAD_POLICY_ENV_VAR = "CNNBENCH_SCRATCH_THREAD_POLICY"


class ScratchEngine(Engine):
    """Builds, trains and queries ``scratch_cnn`` models on the spec's device."""

    _threads: int | None = None
    _policy: Any = None

    @property
    def device(self) -> str:
        """``"cpu"`` or ``"gpu"``."""
        return self.spec.option

    def setup(self, threads: int | None) -> dict[str, Any]:
        """Pin NumPy's BLAS threads (see Engine); remember them for the thread policy."""
        settings = super().setup(threads)
        self._threads = settings.get("threads")
        return settings

    def build(
        self,
        model_config: dict[str, Any],
        compile_config: dict[str, Any],
        *,
        seed: int,
        crossentropy: str | None = None,
    ) -> Any:
        """A compiled ``scratch_cnn.Sequential`` from a Keras-form config (see Engine)."""
        import scratch_cnn as sc
        from suite.engines.models import redraw_initial_weights

        model = sc.Sequential.from_config(model_config, seed=seed, device=self.device)
        redraw_initial_weights(model)
        loss: Any = compile_config.get("loss", "categorical_crossentropy")
        if loss == "categorical_crossentropy":
            loss = sc.losses.CategoricalCrossentropy(softmax_logits=crossentropy == "logits")
        model.compile(
            optimizer=sc.optimizers.get_optimizer(compile_config["optimizer"]),
            loss=loss,
            metrics=list(compile_config.get("metrics", ["accuracy"])),
        )
        self._policy = self._thread_policy()
        return model

    def _thread_policy(self) -> Any:
        """A fresh BLAS thread policy for a run on the CPU (None on a GPU or unset threads)."""
        if self.device != "cpu" or self._threads is None:
            return None
        from suite.thread_policy import BlasThreadPolicy

        return BlasThreadPolicy(self._threads, os.environ.get(THREAD_POLICY_ENV_VAR, "auto"))

    def run_details(self, model: Any) -> dict[str, Any]:
        """What the BLAS thread policy chose in each epoch of the run."""
        if self._policy is None:
            return {}
        return {"blas_thread_policy": self._policy.as_dict()}

    def crossentropy_form(self, model: Any) -> str:
        """``"logits"`` or ``"clipped"``: how a saturated softmax's loss is computed."""
        return "logits" if getattr(model.loss, "softmax_logits", False) else "clipped"

    def synchronize(self, model: Any) -> None:
        """Wait for queued device work (CuPy) before a clock is read."""
        model.device.synchronize()

    def reset_peak_device_memory(self, model: Any) -> None:
        """Start a new GPU peak-memory measurement on the model's device."""
        reset = getattr(model.device, "reset_peak_memory", None)
        if reset is not None:
            reset()

    def peak_device_memory_bytes(self, model: Any) -> int | None:
        """Peak bytes in use on the GPU during the run (the engine tracks it); None on CPU."""
        peak = getattr(model.device, "peak_memory_bytes", None)
        return None if peak is None else int(peak)

    def fit_epoch(
        self, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int
    ) -> tuple[dict[str, float], float]:
        """One epoch over ``x`` in the given order; the batch loop's seconds (see Engine).

        The BLAS thread count for the epoch comes from the run's policy
        (:mod:`suite.thread_policy`: by GEMM size and by the machine's load), set between
        epochs, outside the clock.
        """
        from scratch_cnn import parallel

        planned = None
        if self._policy is not None:
            self._policy.for_epoch(model, batch_size)
            # The batch is split for the run's thread cap, not for the epoch's count: the
            # load-driven count must not change the order of the gradient sums (and so
            # the weights) between two runs of the same task.
            planned = self._policy.cap
        with parallel.shards_planned_for(planned):
            history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        logs = {key: float(values[-1]) for key, values in history.history.items()}
        return logs, float(history.epoch_times[-1])

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on ``(x, y)``."""
        loss, accuracy = model.evaluate(x, y, batch_size=INFERENCE_BATCH_SIZE)
        return float(loss), float(accuracy)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Class probabilities as a NumPy array."""
        return np.asarray(model.predict(x, batch_size=INFERENCE_BATCH_SIZE))

    def get_weights(self, model: Any) -> list[np.ndarray]:
        """Copies of the weights in Keras order, as NumPy arrays."""
        return [np.array(weight, copy=True) for weight in model.get_weights()]

    def set_weights(self, model: Any, weights: list[np.ndarray]) -> None:
        """Load copies of weights in Keras order (training must not alter the originals)."""
        model.set_weights([np.array(weight, copy=True) for weight in weights])

    def environment(self) -> dict[str, Any]:
        """The engine's device."""
        return {"engine_device": self.device}
