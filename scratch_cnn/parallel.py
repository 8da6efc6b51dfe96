"""Batch shards on several CPU threads: the NumPy engine's way to use more than one core.

NumPy runs its element-wise operations, copies and reductions on one thread; only the
BLAS matrix products use more. On two cores that leaves half the machine idle for the
activations, pooling, patch copies and optimizer updates, which are a third to a half of
a training step. :class:`ThreadTeam` splits a batch into contiguous shards and runs the
same (unchanged, Array-API) layer code on each shard in its own thread, with BLAS held to
one thread per shard, so that every part of the step runs on every core. NumPy releases
the GIL inside its loops and BLAS calls, so the threads run in parallel except for the
few microseconds of Python between operations.

The thread count is the BLAS's: whatever the caller gave OpenBLAS (``threadpoolctl``,
``OPENBLAS_NUM_THREADS``, ``cnnbench --threads``) is what the engine uses, so a harness
that pins threads pins the engine too.

How many shards a batch is split into decides the order of the gradient sums, and so
the last bits of every weight. A harness that lowers the thread count while a run goes
on (``suite.thread_policy`` does when another process takes a core) therefore fixes the
split first with :func:`plan_shards_for`: the batch is still cut for the planned number
of threads, and the fewer threads that are running take several shards each. The
numbers a run computes then depend on its plan, not on the machine's load.

This is the engine's NumPy-only fast path (CuPy and the strict Array API namespace run
the plain single-shard path); ``tests/scratch_cnn/test_parallel.py`` checks it against the
plain path.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import numpy as np

Result = TypeVar("Result")

#: Environment variable that switches batch sharding off ("0"), e.g. to compare.
SHARDS_ENV_VAR = "CNNBENCH_SCRATCH_SHARDS"
#: Work (multiply-adds' worth, ``Sequential``'s estimate) below which a shard is not worth
#: a thread: about 5 ms on one core here. Waking a thread costs tens of microseconds on a
#: quiet machine but milliseconds on a busy one, so small steps stay on one thread.
MIN_SHARD_WORK = 5e7


@cache
def _blas_controller() -> Any | None:
    """threadpoolctl's controller of the BLAS NumPy uses (None without threadpoolctl/BLAS).

    A process may hold several BLAS libraries (SciPy ships its own OpenBLAS, loaded first
    once Keras or scikit-learn import SciPy); NumPy's is the one inside NumPy's package.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    numpy_folder = os.path.dirname(os.path.dirname(np.__file__))
    for library in libraries:
        path = os.path.normpath(str(getattr(library, "filepath", "")))
        if os.path.basename(os.path.dirname(path)).startswith("numpy") or path.startswith(
            os.path.join(numpy_folder, "numpy")
        ):
            return library
    return libraries[0] if libraries else None


def blas_architecture() -> str | None:
    """The CPU core NumPy's OpenBLAS chose its kernels for, lower case (``"haswell"``,
    ``"skylakex"``, ...), or None when it cannot be read (another BLAS, no threadpoolctl).
    """
    controller = _blas_controller()
    architecture = getattr(controller, "architecture", None) if controller else None
    return str(architecture).lower() if architecture else None


def blas_threads() -> int:
    """The number of threads NumPy's BLAS may use now (1 when it cannot be read)."""
    controller = _blas_controller()
    if controller is None:
        return 1
    return max(1, int(controller.get_num_threads()))


#: BLAS thread counts saved by the open :func:`blas_threads_limited_to` blocks, outermost
#: first (only the engine's calling thread opens them).
_saved_counts: list[int] = []


@contextmanager
def blas_threads_limited_to(threads: int) -> Iterator[None]:
    """Hold NumPy's BLAS to ``threads`` threads inside the block, then restore it."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    previous = controller.get_num_threads()
    _saved_counts.append(previous)
    try:
        if previous == threads:
            yield
            return
        controller.set_num_threads(threads)
        try:
            yield
        finally:
            controller.set_num_threads(previous)
    finally:
        _saved_counts.pop()


def engine_threads() -> int:
    """Threads the engine may use: the BLAS's count outside any limiting block."""
    return _saved_counts[0] if _saved_counts else blas_threads()


#: Threads the batch is split for, when a harness has fixed it (:func:`plan_shards_for`).
_planned_threads: int | None = None


def plan_shards_for(threads: int | None) -> None:
    """Split batches for ``threads`` threads from now on, whatever the BLAS count is.

    Parameters
    ----------
    threads : int or None
        The thread count the split is planned for; None goes back to following the
        BLAS's count (the default).
    """
    global _planned_threads
    _planned_threads = None if threads is None else max(1, int(threads))


@contextmanager
def shards_planned_for(threads: int | None) -> Iterator[None]:
    """:func:`plan_shards_for` inside the block only; the previous plan comes back after."""
    previous = _planned_threads
    plan_shards_for(threads)
    try:
        yield
    finally:
        plan_shards_for(previous)


def planned_threads() -> int:
    """The thread count a batch is split for: the plan, or the BLAS's count without one."""
    return _planned_threads if _planned_threads is not None else blas_threads()


def shard_slices(size: int, count: int) -> list[slice]:
    """Split ``range(size)`` into ``count`` contiguous slices of near-equal length."""
    bounds = [size * index // count for index in range(count + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(count)]


class ThreadTeam:
    """The calling thread plus ``threads - 1`` workers, running one task per shard.

    Parameters
    ----------
    threads : int
        Size of the team (at least 1).
    """

    def __init__(self, threads: int) -> None:
        self.threads = int(threads)
        self._pool = (
            ThreadPoolExecutor(self.threads - 1, thread_name_prefix="scratch-shard")
            if self.threads > 1
            else None
        )

    def map(self, task: Callable[[int], Result], count: int) -> list[Result]:
        """Run ``task(0) ... task(count - 1)`` on the team; the caller's thread takes part.

        With more tasks than threads, each thread takes the next task nobody has started
        when it finishes one, so a thread the scheduler holds up (another process on its
        core) leaves its share to the others instead of making them wait. Results come
        back in task order, whichever thread ran each. NumPy's floating-point error
        settings are per thread: the caller's apply to every task. The first exception
        is raised once every task has finished.
        """
        if count == 1 or self._pool is None:
            return [task(index) for index in range(count)]
        settings = np.geterr()
        lanes = min(self.threads, count)
        results: list[Any] = [None] * count
        errors: list[BaseException] = []
        # next() on an itertools.count is one C call: atomic under the GIL.
        tickets = itertools.count()

        def run_lane() -> None:
            with np.errstate(**settings):
                while (index := next(tickets)) < count:
                    try:
                        results[index] = task(index)
                    except BaseException as raised:  # the other tasks still run
                        errors.append(raised)

        futures = [self._pool.submit(run_lane) for _ in range(1, lanes)]
        run_lane()
        for future in futures:
            future.result()
        if errors:
            raise errors[0]
        return results


@cache
def thread_team(threads: int) -> ThreadTeam:
    """The process's team of ``threads`` threads (made once, reused by every model)."""
    return ThreadTeam(threads)


def shard_count(batch_size: int, work_per_sample: float, min_work: float = MIN_SHARD_WORK) -> int:
    """How many shards a batch should be split into on the CPU (1: do not split).

    Parameters
    ----------
    batch_size : int
    work_per_sample : float
        Multiply-adds of one sample's forward pass (a cost estimate).
    min_work : float
        Below this much work per shard the threads cost more than they save.

    Returns
    -------
    int
        The planned thread count (:func:`planned_threads`), fewer for small batches or
        light models, 1 when ``CNNBENCH_SCRATCH_SHARDS=0``.
    """
    if os.environ.get(SHARDS_ENV_VAR, "1") == "0":
        return 1
    threads = planned_threads()
    if threads <= 1:
        return 1
    by_work = int(batch_size * work_per_sample // min_work) if work_per_sample > 0 else 1
    by_rows = batch_size // 8  # at least 8 samples per shard
    return max(1, min(threads, by_work, by_rows))


def is_light(batch_size: int, work_per_sample: float, min_work: float = MIN_SHARD_WORK) -> bool:
    """Whether a batch is too little work for more than one thread, BLAS's included.

    Such steps (dense nets on MNIST: products of 128 x 784 x 128) gain nothing from a
    second BLAS thread on a quiet machine, and on a busy one OpenBLAS's threads wait for
    each other for milliseconds per product (a 2 ms step took 150 ms beside a load of
    5 on two cores), so the engine runs them on one thread.
    """
    if os.environ.get(SHARDS_ENV_VAR, "1") == "0":
        return False
    return batch_size * work_per_sample < 2 * min_work


def split_batch(array: Any, slices: Sequence[slice]) -> list[Any]:
    """Views of ``array``'s rows, one per slice."""
    return [array[part] for part in slices]


def matmul_transposed(a: np.ndarray, b: np.ndarray, threads: int) -> np.ndarray:
    """``a.T @ b`` with the rows of the result shared out to ``threads`` threads.

    For the kernel gradient of a dense layer (``x.T @ dz``) inside a sharded step, where
    BLAS is held to one thread.
    """
    out = np.empty((a.shape[1], b.shape[1]), dtype=np.result_type(a, b))
    parts = shard_slices(a.shape[1], max(1, min(threads, a.shape[1])))

    def run(index: int) -> None:
        np.matmul(a[:, parts[index]].T, b, out=out[parts[index]])

    thread_team(len(parts)).map(run, len(parts))
    return out
