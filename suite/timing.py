"""Fair timing: one thread count for both engines, clocks that wait for the device, peak RSS.

The thread count must be fixed before TensorFlow starts its thread pools (it cannot be
changed afterwards), so :func:`configure_threads` is called once, at the start of a run,
before anything imports TensorFlow. It

* sets ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` for libraries that read them
  when they load;
* limits the BLAS and OpenMP pools NumPy has already loaded, with threadpoolctl;
* and, only when asked to (``configure_keras_backend=True``), imports the Keras backend
  library and sets its own thread counts (TensorFlow: intra-op = N, inter-op = 1, so one
  op at a time as NumPy does; torch: ``set_num_threads``). TensorFlow is never imported
  at module import time.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: environment variables that thread pools read when their library loads
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)

_active_limits: list[Any] = []  # keeps the threadpoolctl limiter referenced for the process


@dataclass
class ThreadSettings:
    """The thread counts a run asked for and what each library was actually given."""

    threads: int
    blas_threads: list[int] = field(default_factory=list)
    keras_backend: str | None = None
    keras_intra_op_threads: int | None = None
    keras_inter_op_threads: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dictionary (for the environment block)."""
        return asdict(self)


def default_thread_count() -> int:
    """Number of CPU cores this process may use (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def keras_backend_name(requested: str | None = None) -> str:
    """The Keras backend a run uses: ``requested``, else ``$KERAS_BACKEND``, else tensorflow.

    Parameters
    ----------
    requested : str, optional
        ``--keras-backend`` as given.

    Returns
    -------
    str
    """
    return requested or os.environ.get("KERAS_BACKEND", "tensorflow")


def configure_threads(
    threads: int | None = None,
    keras_backend: str | None = None,
    configure_keras_backend: bool = False,
) -> ThreadSettings:
    """Give NumPy's BLAS and the Keras backend the same number of threads.

    Parameters
    ----------
    threads : int, optional
        Threads for both engines; the usable core count when omitted.
    keras_backend : str, optional
        ``"tensorflow"``, ``"jax"`` or ``"torch"``; sets ``KERAS_BACKEND`` when Keras is not
        imported yet. The current ``KERAS_BACKEND`` (default tensorflow) when omitted.
    configure_keras_backend : bool, default False
        Also import the backend library now and set its thread counts. Call with True
        once, before the first Keras model is built.

    Returns
    -------
    ThreadSettings
        What was set, with a note for every setting that could not be applied.
    """
    if threads is None:
        threads = default_thread_count()
    if threads < 1:
        raise ValueError(f"thread count is {threads}; expected 1 or more (or omit it)")
    settings = ThreadSettings(threads=threads)
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"

    from threadpoolctl import threadpool_info, threadpool_limits

    _active_limits.clear()
    _active_limits.append(threadpool_limits(limits=threads))
    settings.blas_threads = [pool["num_threads"] for pool in threadpool_info()]

    backend = keras_backend_name(keras_backend)
    if keras_backend is not None:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
            settings.notes.append(
                f"Keras was already imported with backend {os.environ.get('KERAS_BACKEND')!r};"
                f" {backend!r} needs a fresh process"
            )
        else:
            os.environ["KERAS_BACKEND"] = backend
    settings.keras_backend = backend
    if configure_keras_backend:
        _configure_backend_threads(backend, threads, settings)
    return settings


def _configure_backend_threads(backend: str, threads: int, settings: ThreadSettings) -> None:
    if backend == "tensorflow":
        import tensorflow as tf  # deferred: importing TensorFlow costs seconds

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError as error:  # TensorFlow already ran an op in this process
            settings.notes.append(f"TensorFlow thread counts not changed: {error}")
        settings.keras_intra_op_threads = tf.config.threading.get_intra_op_parallelism_threads()
        settings.keras_inter_op_threads = tf.config.threading.get_inter_op_parallelism_threads()
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        settings.keras_intra_op_threads = torch.get_num_threads()
    elif backend == "jax" and threads == 1 and "jax" not in sys.modules:
        # XLA's CPU client has no thread-count setting, but it can be made single-threaded.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
        settings.keras_intra_op_threads = 1
    else:
        settings.notes.append(
            f"Keras backend {backend!r}: thread count set through environment variables only"
        )


def read_clock(synchronize: Callable[[], None] | None = None) -> float:
    """Wait for queued device work (when a hook is given), then read ``perf_counter``.

    Parameters
    ----------
    synchronize : callable, optional
        Blocks until the accelerator has finished, e.g. a CuPy stream's ``synchronize``.

    Returns
    -------
    float
        Seconds from an arbitrary origin.
    """
    if synchronize is not None:
        synchronize()
    return time.perf_counter()


class Stopwatch:
    """Context manager measuring wall time around a block, synchronising at both ends.

    Parameters
    ----------
    synchronize : callable, optional
        Device synchronisation hook (see :func:`read_clock`).

    Examples
    --------
    >>> with Stopwatch() as watch:
    ...     pass
    >>> watch.seconds >= 0
    True
    """

    def __init__(self, synchronize: Callable[[], None] | None = None) -> None:
        self.synchronize = synchronize
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = read_clock(self.synchronize)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = read_clock(self.synchronize) - self.start


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux ``/proc/self/clear_refs``), if allowed.

    Returns
    -------
    bool
        True when the mark was reset, so :func:`peak_rss_bytes` then covers only what
        follows; False where the kernel does not allow it (the peak is then the process's).
    """
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def current_rss_bytes() -> int:
    """Resident set size of this process now, in bytes (psutil)."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes.

    Reads ``VmHWM`` from ``/proc/self/status`` (which :func:`reset_peak_rss` can reset);
    elsewhere falls back to ``getrusage`` (kilobytes on Linux, bytes on macOS).

    Returns
    -------
    int
        Bytes.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
