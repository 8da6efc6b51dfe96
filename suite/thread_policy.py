"""How many OpenBLAS threads the scratch engine's GEMMs get: by GEMM size and machine load.

Why the scratch engine collapsed on a busy machine (docs/performance.md, "Threads under
contention"): OpenBLAS splits every GEMM above a small size statically between its
threads and the caller waits for the slowest part. A worker thread whose core another
process is using runs only when the scheduler gives it a time slice, so each GEMM of a
few hundred microseconds waits up to a slice (milliseconds); OpenBLAS's idle workers also
spin (``sched_yield``) for up to 2^28 cycles, so they stay runnable and never get the
priority of a thread that wakes up. Training steps run thousands of such GEMMs: beside
one busy process, ``dnn_128_128_64`` ran 4.6x slower with 2 threads, while the same net
with 1 thread ran as fast as quiet. TensorFlow's pool degrades less because its
scheduler lets idle threads steal the parts of a descheduled one and runs small ops
inline. ``OPENBLAS_THREAD_TIMEOUT`` (let idle workers sleep sooner) recovers only a
quarter of the loss in measurements here, and must be set before NumPy loads.

The policy (:class:`BlasThreadPolicy`), applied to the scratch engine's runs:

* **never oversubscribe**: at most as many BLAS threads as cores this process may use
  (``os.sched_getaffinity``), whatever ``--threads`` says;
* **by GEMM size** (:func:`model_gemm_sizes`): a model whose GEMMs per training step
  add up to fewer than :data:`SMALL_STEP_MNK` multiply-adds (``sum of m * n * k``) trains
  with 1 thread: OpenBLAS's own splitting of each GEMM would be its only parallelism,
  and for GEMMs that small it buys nothing on a quiet machine (the dense nets: measured
  in docs/performance.md) and costs a collapse on a busy one. (The engine has a rule of
  its own, set higher since this one was written: it splits a batch into shards only
  from 2 x :data:`scratch_cnn.parallel.MIN_SHARD_WORK` multiply-adds a step of its own
  estimate, and below that holds BLAS to one thread, :func:`scratch_cnn.parallel.is_light`;
  so a step between the two sizes keeps a cap of 2 here and runs on 1 thread, which the
  record says: ``one_thread_steps`` and ``epoch_step_threads``.) The engine reads its
  thread count from the BLAS (:func:`scratch_cnn.parallel.blas_threads`), so the count
  set here is the engine's, outside such steps; the scratch engine plans its batch split for
  the cap (:func:`scratch_cnn.parallel.plan_shards_for`), so the count the load rule
  chooses changes how many threads run the shards, never the numbers;
* **by load** (:meth:`BlasThreadPolicy.before_epoch`): before each epoch, the cores other
  processes used on this process's cores since the previous epoch
  (:class:`suite.contention.OtherWorkMeter`); when that exceeds a quarter of a core, the
  BLAS threads drop to the cores left idle (at least 1), and come back when the
  neighbour has gone. This is for the steps OpenBLAS splits; a model whose batches the
  engine splits into shards (``model.shard_count(batch_size) > 1``) keeps its threads,
  because its own threads hold BLAS to one thread each and join by sleeping, so they do
  not collapse, and a thread given up is CPU time given up where the scheduler shares
  the cores thread by thread (beside 2 busy processes of the same session, cnn1_32,
  vgg12_32 and lenet5 took 2.41, 2.38 and 2.57 s/epoch with 2 threads against 3.10,
  3.57 and 3.98 s with 1). Where it shares them session by session (busy processes
  started elsewhere, Linux's autogroup), the process gets the same CPU time either way
  and the second thread's overhead costs 1-12% (3.95, 3.95, 4.18 s against 3.91, 3.52,
  3.80 s).

The thread count changes only between epochs, on the training thread (OpenBLAS's
``openblas_set_num_threads`` is not safe while a GEMM runs), so a load that starts in the
middle of an epoch slows the rest of that epoch; the run is then flagged by
:func:`suite.contention.classify_timing` anyway. Keras keeps the harness's thread count:
its own pool already degrades gracefully. What the policy chose per epoch goes into the
record (:meth:`BlasThreadPolicy.as_dict`), so a reader sees when scratch ran with fewer
threads than Keras.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from suite.contention import OTHER_CORES_MARGIN, OtherWorkMeter, usable_cpus

#: Policy names: ``auto`` = size and load, ``size``, ``load``, ``off`` = the fixed count.
POLICIES = ("auto", "size", "load", "off")

#: A model whose GEMMs per training step add up to fewer multiply-adds than this trains
#: with one BLAS thread (see the module docstring and docs/performance.md). Below the
#: engine's own light-step size (``2 * scratch_cnn.parallel.MIN_SHARD_WORK``, 1e8).
SMALL_STEP_MNK = 40_000_000

#: Shortest interval over which other processes' use is judged; shorter ones are
#: extended by a short wait (10 ms ``/proc/stat`` ticks make them too coarse).
MIN_METER_SECONDS = 0.1


def model_gemm_sizes(model: Any, batch_size: int) -> list[tuple[int, int, int]]:
    """``(m, n, k)`` of each forward GEMM in a training step of a built scratch model.

    Dense: ``(batch, units, inputs)``; Conv2D (im2col): ``(batch * output pixels,
    filters, kh * kw * channels)``. The two backward GEMMs of each layer have the same
    ``m * n * k``.

    Parameters
    ----------
    model : scratch_cnn.Sequential
        Built (it has its layers' shapes).
    batch_size : int

    Returns
    -------
    list of (int, int, int)
    """
    sizes = []
    for layer in getattr(model, "layers", []):
        kernel = getattr(layer, "params", {}).get("kernel")
        output_shape = getattr(layer, "output_shape", None)
        if kernel is None or not output_shape:
            continue
        n = int(kernel.shape[-1])
        k = int(math.prod(kernel.shape)) // max(n, 1)
        m = int(batch_size) * int(math.prod(output_shape[:-1]))
        sizes.append((m, n, k))
    return sizes


def _batch_shards(model: Any, batch_size: int, threads: int) -> int:
    """Shards per training batch of a scratch model planned for ``threads`` (1 if none)."""
    shard_count = getattr(model, "shard_count", None)
    if shard_count is None:
        return 1
    from scratch_cnn import parallel

    with parallel.shards_planned_for(threads):
        return int(shard_count(batch_size))


def _set_blas_threads(count: int) -> list[int]:
    """Limit NumPy's BLAS pools; return their thread counts now."""
    import numpy  # noqa: F401  (loads OpenBLAS, so threadpoolctl finds it)
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=count, user_api="blas")
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


class BlasThreadPolicy:
    """BLAS threads for a scratch run, by GEMM size and load (see the module docstring).

    Parameters
    ----------
    threads : int
        The run's thread count (both engines').
    policy : {"auto", "size", "load", "off"}
        ``off`` keeps ``threads`` BLAS threads throughout (the old behaviour).
    cpus : sequence of int, optional
        The CPUs this process may use; its affinity when omitted.

    Examples
    --------
    >>> policy = BlasThreadPolicy(threads=2)           # doctest: +SKIP
    >>> for epoch in range(epochs):                    # doctest: +SKIP
    ...     policy.for_epoch(model, batch_size=128)
    ...     model.fit(x, y, batch_size=128, epochs=1)
    >>> record["timings"]["blas_thread_policy"] = policy.as_dict()   # doctest: +SKIP
    """

    def __init__(
        self, threads: int, policy: str = "auto", cpus: Sequence[int] | None = None
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown thread policy {policy!r}; expected one of {POLICIES}")
        if threads < 1:
            raise ValueError(f"threads is {threads}; expected 1 or more")
        self.policy = policy
        self.requested = int(threads)
        self.cpus = list(cpus) if cpus is not None else usable_cpus()
        self.cores = len(self.cpus)
        # never more BLAS threads than cores the process may use (unless the policy is off)
        self.cap = self.requested if policy == "off" else min(self.requested, self.cores)
        self.largest_gemm_mnk: int | None = None
        self.step_mnk: int | None = None
        #: Shards per training batch at the cap (1: OpenBLAS splits the step's GEMMs).
        self.batch_shards = 1
        #: Whether the engine holds the training steps to one BLAS thread whatever the
        #: count set here (``model.runs_on_one_thread``; None for a model without the rule).
        self.one_thread_steps: bool | None = None
        self.epoch_threads: list[int] = []
        #: Threads the training steps run on per epoch (1 where ``one_thread_steps``).
        self.epoch_step_threads: list[int] = []
        self.epoch_other_cores: list[float | None] = []
        self.current: int | None = None
        self._sized_for: tuple[int, int] | None = None
        self._meter = OtherWorkMeter(self.cpus) if policy in ("auto", "load") else None
        self._apply(self.cap)

    def _apply(self, count: int) -> int:
        if count != self.current:
            _set_blas_threads(count)
            self.current = count
        return count

    def for_model(self, model: Any, batch_size: int) -> int:
        """Cap the threads by the model's GEMM sizes (policies ``auto``, ``size``).

        Returns
        -------
        int
            The BLAS thread count now.
        """
        products = [m * n * k for m, n, k in model_gemm_sizes(model, batch_size)]
        self.largest_gemm_mnk = max(products, default=0)
        self.step_mnk = sum(products)
        if self.policy in ("auto", "size") and self.step_mnk < SMALL_STEP_MNK:
            self.cap = 1
        self.batch_shards = _batch_shards(model, batch_size, self.cap)
        runs_on_one_thread = getattr(model, "runs_on_one_thread", None)
        self.one_thread_steps = (
            None if runs_on_one_thread is None else bool(runs_on_one_thread(batch_size))
        )
        return self._apply(self.cap)

    def threads_for_load(self, other_cores: float | None) -> int:
        """The thread count for other processes using ``other_cores`` of the run's cores.

        The cap whatever the load for a model whose batches are split into shards.
        """
        if other_cores is None or other_cores <= OTHER_CORES_MARGIN or self.batch_shards > 1:
            return self.cap
        taken = math.ceil(other_cores - OTHER_CORES_MARGIN)
        return max(1, min(self.cap, self.cores - taken))

    def before_epoch(self) -> int:
        """Choose the epoch's BLAS threads from the load since the last call; apply them.

        Returns
        -------
        int
            The BLAS thread count for the coming epoch.
        """
        other = None
        if self._meter is not None:
            wait = MIN_METER_SECONDS - self._meter.seconds_since_read()
            if wait > 0:
                time.sleep(wait)
            other = self._meter.read()
            count = self.threads_for_load(other)
        else:
            count = self.cap
        self.epoch_threads.append(count)
        self.epoch_step_threads.append(1 if self.one_thread_steps else count)
        self.epoch_other_cores.append(None if other is None else round(other, 3))
        return self._apply(count)

    def for_epoch(self, model: Any, batch_size: int) -> int:
        """:meth:`for_model` once per model, then :meth:`before_epoch` (one call per epoch).

        The one line an engine's ``fit_epoch`` needs, right before ``model.fit``.
        """
        if self._sized_for != (id(model), int(batch_size)):
            self._sized_for = (id(model), int(batch_size))
            self.cap = self.requested if self.policy == "off" else min(self.requested, self.cores)
            self.for_model(model, batch_size)
        return self.before_epoch()

    def as_dict(self) -> dict[str, Any]:
        """What the policy chose, for the run's record (JSON-able)."""
        return {
            "policy": self.policy,
            "requested_threads": self.requested,
            "usable_cores": self.cores,
            "cap": self.cap,
            "step_mnk": self.step_mnk,
            "largest_gemm_mnk": self.largest_gemm_mnk,
            "small_step_mnk": SMALL_STEP_MNK,
            "batch_shards": self.batch_shards,
            "epoch_blas_threads": list(self.epoch_threads),
            "one_thread_steps": self.one_thread_steps,
            "epoch_step_threads": list(self.epoch_step_threads),
            "epoch_other_cores_before": list(self.epoch_other_cores),
        }
