"""Where a training step spends its time: a lap timer the layers report to when asked.

Layers, the model and the training step carry a ``profiler`` attribute that is ``None``
by default; the engine then does nothing but test it. When a :class:`StepProfiler` is
attached (:meth:`scratch_cnn.Sequential.set_profiler`), every instrumented point calls
:meth:`StepProfiler.lap` with the layer's name and the part of the work that just
finished; the wall time since the previous lap is charged to that ``(layer, part)``.
Laps follow each other with no gap, so the parts of a step add up to the whole step.

Parts (:data:`PARTS`): ``data copy`` (batch slicing, casting and the finiteness check),
``forward`` (a layer's linear map: the convolution or matrix product plus bias),
``activation`` and ``activation backward``, ``pooling forward`` and
``pooling backward``, ``weight gradient`` (kernel and bias), ``input gradient``,
``loss`` (the loss and its gradient), ``optimizer update`` and ``metrics`` (the loss
and hit count read back to the host). A convolution that runs with its ReLU in tiles
(:mod:`scratch_cnn.functional.conv_relu_tiles`) has no activation laps: its ``forward``
includes the ReLU and its ``weight gradient`` the ReLU's derivative. When a batch runs
in shards on several threads (:mod:`scratch_cnn.parallel`), the layers' laps are those of
shard 0, which runs in the calling thread while the others run beside it; ``shard wait``
is the time spent waiting for the other shards after that, and ``gradient merge`` adds
their weight gradients up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: every part a lap may name, in the order a step runs them
PARTS = (
    "data copy",
    "forward",
    "activation",
    "pooling forward",
    "loss",
    "activation backward",
    "pooling backward",
    "weight gradient",
    "input gradient",
    "shard wait",
    "gradient merge",
    "regularization",
    "optimizer update",
    "metrics",
)


@dataclass
class StepProfiler:
    """Charge the wall time between consecutive laps to ``(layer, part)`` keys.

    Parameters
    ----------
    synchronize : callable, optional
        Called before every clock read (``Device.synchronize`` on a GPU, where work is
        queued asynchronously and a clock read alone would time only the launch).
    clock : callable
        Seconds as a float; wall time by default. ``time.process_time`` gives the CPU time
        of the whole process instead, which a busy machine inflates less (meaningful with
        one BLAS thread: idle BLAS threads spin and count too).

    Attributes
    ----------
    steps : list of dict
        One dict per finished step: ``(layer, part) -> seconds``, in the order the laps
        came.
    """

    synchronize: Callable[[], None] | None = None
    clock: Callable[[], float] = time.perf_counter
    steps: list[dict[tuple[str, str], float]] = field(default_factory=list)
    _current: dict[tuple[str, str], float] | None = field(default=None, repr=False)
    _last: float = field(default=0.0, repr=False)

    def begin_step(self) -> None:
        """Start timing a step (the next lap measures from here)."""
        if self.synchronize is not None:
            self.synchronize()
        self._current = {}
        self._last = self.clock()

    def lap(self, layer: str, part: str) -> None:
        """Charge the time since the previous lap (or the step's start) to ``(layer, part)``.

        Outside a step (before :meth:`begin_step`) a lap is ignored, so a model with a
        profiler attached can still predict or evaluate.
        """
        if self._current is None:
            return
        if self.synchronize is not None:
            self.synchronize()
        now = self.clock()
        key = (layer, part)
        self._current[key] = self._current.get(key, 0.0) + (now - self._last)
        self._last = now

    def end_step(self) -> dict[tuple[str, str], float]:
        """Finish the step and return its laps (also appended to :attr:`steps`)."""
        if self._current is None:
            raise RuntimeError("end_step() without begin_step(): start a step first.")
        laps, self._current = self._current, None
        self.steps.append(laps)
        return laps
