"""The environment block stored with every result: machine, libraries, threads, device.

Nothing here imports TensorFlow, Keras or CuPy: their versions are read from the installed
package metadata, so describing the environment never starts a framework (or its thread
pools) early.
"""

from __future__ import annotations

import os
import platform
import sys
from functools import cache
from importlib import metadata
from typing import Any

from suite.timing import ThreadSettings, default_thread_count, keras_backend_name

#: distributions whose versions are recorded (package metadata name -> record key)
LIBRARIES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "scikit-learn": "sklearn",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "torch": "torch",
    "cupy-cuda12x": "cupy",
    "cupy-cuda13x": "cupy",
    "cnnbench": "cnnbench",
}


@cache
def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux, else ``platform``)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that affect results, None where absent.

    Returns
    -------
    dict
        Record key (``numpy``, ``tensorflow``, ...) -> version string or None.
    """
    versions: dict[str, str | None] = {}
    for distribution, key in LIBRARIES.items():
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions.setdefault(key, None)
    return versions


def blas_description() -> list[dict[str, Any]]:
    """BLAS/OpenMP thread pools loaded in this process (threadpoolctl), in brief.

    Returns
    -------
    list of dict
        ``internal_api`` (openblas, mkl, ...), ``version``, ``num_threads``,
        ``threading_layer`` and ``architecture`` where known.
    """
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{key: pool.get(key) for key in keys if key in pool} for pool in threadpool_info()]


def gpu_description() -> str | None:
    """Name of the CUDA device CuPy would use, or None without CuPy or a device."""
    if "cupy" not in sys.modules:
        return None  # never import CuPy just to describe the machine
    try:
        cupy = sys.modules["cupy"]
        properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = properties["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # any CUDA failure just means "no GPU to describe"
        return None


def environment_block(
    thread_settings: ThreadSettings | None = None,
    device: str = "cpu",
    keras_backend: str | None = None,
) -> dict[str, Any]:
    """Describe the machine and software a run used.

    Parameters
    ----------
    thread_settings : ThreadSettings, optional
        What :func:`suite.timing.configure_threads` set.
    device : str, default "cpu"
        ``"cpu"`` or ``"gpu"``.
    keras_backend : str, optional
        The Keras backend name; ``KERAS_BACKEND`` (default tensorflow) when omitted.

    Returns
    -------
    dict
        ``cpu``, ``cores``, ``usable_cores``, ``threads``, ``blas``, ``python``, ``platform``,
        library versions, ``device``, ``gpu``, ``keras_backend``, ``thread_settings``.
    """
    block: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": default_thread_count(),
        "threads": thread_settings.threads if thread_settings else None,
        "blas": blas_description(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
    }
    block.update(library_versions())
    block["device"] = device
    block["gpu"] = gpu_description() if device == "gpu" else None
    block["keras_backend"] = keras_backend_name(keras_backend)
    block["thread_settings"] = thread_settings.as_dict() if thread_settings else None
    return block
