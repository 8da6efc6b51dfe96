"""The host block stored with every record: which machine ran it, and its timing class.

A time is only comparable with times from the same kind of machine and software. The
host block names the machine (host name, CPU model, cores, memory, BLAS and thread
settings) and condenses what matters for timing into ``host_class``, a short digest:
two records share a host class when they ran on the same CPU model, core count and
memory size, with the same BLAS build and the same versions of the numerical libraries.
The host name, the thread settings and the load of the moment stay out of the digest, so
the identical nodes of a cluster share one class, and a time ratio is only ever formed
between records of one class.

Nothing here imports an engine library: versions come from the package metadata
(:func:`suite.environment.library_versions`), BLAS from the pools already loaded in this
process (:func:`suite.environment.blas_description`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import cache
from typing import Any

from suite.environment import blas_description, cpu_model, library_versions
from suite.timing import THREAD_ENV_VARS, default_thread_count

#: thread settings read from the environment, beyond those suite.timing sets itself
EXTRA_THREAD_ENV_VARS = (
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

#: library versions that change how fast a run trains (the host class includes them)
TIMING_LIBRARIES = ("numpy", "scipy", "tensorflow", "keras", "jax", "torch", "cupy")

#: hex digits of the host class digest
HOST_CLASS_LENGTH = 12


def memory_bytes() -> int | None:
    """Physical memory of the machine in bytes (``MemTotal``), None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def numpy_blas() -> list[dict[str, Any]]:
    """The BLAS NumPy itself calls (scratch_cnn's matrix products), in brief.

    Other libraries may load BLAS builds of their own (SciPy, scikit-learn's OpenMP) into a
    process; which of them are loaded depends on what the process imported, so only
    NumPy's own build (the pool loaded from NumPy's folders) describes the host.

    Returns
    -------
    list of dict
        ``internal_api``, ``version``, ``threading_layer``, ``architecture``; empty where
        threadpoolctl cannot see it.
    """
    import numpy
    from threadpoolctl import threadpool_info

    folder = os.path.dirname(os.path.dirname(numpy.__file__))
    keys = ("internal_api", "version", "threading_layer", "architecture")
    pools = [
        {key: pool.get(key) for key in keys}
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
        and os.path.basename(os.path.dirname(pool.get("filepath", ""))).startswith("numpy")
        and str(pool.get("filepath", "")).startswith(folder)
    ]
    if pools:
        return pools
    try:  # a NumPy linked to a system or conda BLAS: what it was built against
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return [{"internal_api": blas.get("name"), "version": blas.get("version")}]
    except Exception:  # older NumPy without mode="dicts"
        return []


def thread_environment() -> dict[str, str | None]:
    """The thread-count environment variables of this process (None where unset)."""
    return {name: os.environ.get(name) for name in (*THREAD_ENV_VARS, *EXTRA_THREAD_ENV_VARS)}


def host_class(block: dict[str, Any]) -> str:
    """The short digest of what in a host block matters for timing.

    Parameters
    ----------
    block : dict
        A host block (:func:`host_block`), with or without ``host_class``.

    Returns
    -------
    str
        :data:`HOST_CLASS_LENGTH` hex digits of sha256 over the CPU model, logical and
        usable cores, memory in whole GiB (identical nodes differ by a few MiB of kernel
        reservation), machine type, operating system, Python minor version, NumPy's BLAS
        (library, version, threading layer, CPU architecture) and
        :data:`TIMING_LIBRARIES`' versions. Host name, thread settings, the other BLAS
        builds a process happens to have loaded, and load are left out.
    """
    memory = block.get("memory_bytes")
    inputs = {
        "cpu": block.get("cpu"),
        "cores": block.get("cores"),
        "usable_cores": block.get("usable_cores"),
        "memory_gib": round(memory / 2**30) if memory else None,
        "machine": block.get("machine"),
        "system": block.get("system"),
        "python": ".".join(str(block.get("python", "")).split(".")[:2]),
        "numpy_blas": block.get("numpy_blas"),
        "libraries": {name: (block.get("libraries") or {}).get(name) for name in TIMING_LIBRARIES},
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HOST_CLASS_LENGTH]


@cache
def host_block() -> dict[str, Any]:
    """Describe the machine this process runs on (computed once per process).

    Returns
    -------
    dict
        ``hostname``, ``cpu``, ``cores`` (logical), ``usable_cores`` (affinity),
        ``memory_bytes``, ``machine``, ``system``, ``python``, ``blas`` (the pools loaded
        here: library, version, threads, architecture), ``numpy_blas`` (NumPy's own
        build, what the host class uses), ``thread_environment``,
        ``libraries`` (versions, None where absent) and ``host_class``. The dict is
        cached: copy it before changing it (:func:`record_host` does).
    """
    import numpy  # noqa: F401  (so that the BLAS numpy uses is loaded and described)

    versions = library_versions()
    block: dict[str, Any] = {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": default_thread_count(),
        "memory_bytes": memory_bytes(),
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "blas": blas_description(),
        "numpy_blas": numpy_blas(),
        "thread_environment": thread_environment(),
        "libraries": {name: versions.get(name) for name in TIMING_LIBRARIES},
    }
    block["host_class"] = host_class(block)
    return block


def record_host() -> dict[str, Any]:
    """A fresh copy of :func:`host_block` for one record (records are changed later)."""
    return json.loads(json.dumps(host_block(), default=str))


def describe_host(block: dict[str, Any]) -> str:
    """One line: ``host (CPU, N cores, M GiB, class C)``."""
    memory = block.get("memory_bytes")
    memory_text = f", {memory / 2**30:.0f} GiB" if memory else ""
    return (
        f"{block.get('hostname')} ({block.get('cpu')}, {block.get('cores')} cores"
        f"{memory_text}, class {block.get('host_class')})"
    )
