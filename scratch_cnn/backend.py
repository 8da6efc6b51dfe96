"""Array backend: which array library holds the data, and how to reach it.

Layer and functional code never imports NumPy or CuPy for computing. It asks
:func:`get_array_module` for the namespace of the arrays it was given (``xp``) and calls
only functions of the Python Array API standard on it, so the same code runs on NumPy
(CPU), CuPy (GPU) and ``array_api_strict`` (the test that proves the code is portable).
Random numbers are always drawn on the host with NumPy and then moved to the device, so
a seed gives the same initial weights and dropout masks on every device.

Device-specific fast paths live in :mod:`scratch_cnn.functional.im2col` only.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

#: Environment variable that picks the default device ("cpu" or "gpu").
DEVICE_ENV_VAR = "CNNBENCH_DEVICE"

_SUPPORTED_DTYPES = ("float32", "float64")


def _cupy_or_none() -> ModuleType | None:
    """Return the ``cupy`` module if it is importable, else ``None`` (imported lazily)."""
    try:
        return importlib.import_module("cupy")
    except ImportError:
        return None


def get_array_module(*arrays: Any) -> ModuleType:
    """Return the array namespace (``xp``) that holds ``arrays``.

    Parameters
    ----------
    *arrays : array-like
        Arrays from one library; Python scalars and ``None`` are ignored.

    Returns
    -------
    module
        ``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays, otherwise the namespace the
        array reports through ``__array_namespace__`` (e.g. ``array_api_strict``).
    """
    for array in arrays:
        if array is None or isinstance(array, int | float | bool | np.generic):
            continue
        if isinstance(array, np.ndarray):
            return np
        module_name = type(array).__module__.split(".")[0]
        if module_name == "cupy":
            return importlib.import_module("cupy")
        if hasattr(array, "__array_namespace__"):
            return array.__array_namespace__()
    return np


def to_numpy(array: Any) -> np.ndarray:
    """Copy an array of any supported backend to a host NumPy array.

    Parameters
    ----------
    array : array
        NumPy, CuPy or Array-API array.

    Returns
    -------
    numpy.ndarray
    """
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "get") and type(array).__module__.split(".")[0] == "cupy":
        return array.get()
    try:
        return np.from_dlpack(array)
    except (TypeError, RuntimeError, BufferError):
        return np.asarray(array)


@dataclass
class Device:
    """Where a model's arrays live and how to move data there.

    Parameters
    ----------
    name : str
        ``"cpu"`` (NumPy), ``"gpu"`` (CuPy) or ``"array_api_strict"`` (strict Array API
        namespace on the CPU, used to prove the engine portable).
    """

    name: str
    xp: ModuleType = field(init=False, repr=False)
    #: Peak bytes held in the device's memory pool since the last reset (GPU only).
    peak_memory_bytes: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.name == "cpu":
            self.xp = np
        elif self.name == "gpu":
            cupy = _cupy_or_none()
            if cupy is None:
                raise RuntimeError(
                    "device='gpu' needs CuPy, which is not installed. Install the GPU "
                    "extra for your CUDA version, e.g. `pip install cnnbench[gpu]` "
                    "(cupy-cuda12x) or `pip install cupy-cuda13x`, or use device='cpu'."
                )
            try:
                count = cupy.cuda.runtime.getDeviceCount()
            except Exception as error:  # CUDA runtime errors have no common base class
                raise RuntimeError(
                    f"device='gpu' was requested but CUDA reports no usable device ({error}). "
                    "Check the driver with `nvidia-smi`, or use device='cpu'."
                ) from error
            if count < 1:
                raise RuntimeError(
                    "device='gpu' was requested but no CUDA device is visible; use device='cpu'."
                )
            self.xp = cupy
        elif self.name == "array_api_strict":
            self.xp = importlib.import_module("array_api_strict")
        else:
            raise ValueError(
                f"unknown device {self.name!r}: expected 'cpu', 'gpu' or 'array_api_strict'."
            )

    def asarray(self, array: Any, dtype: str | None = None) -> Any:
        """Move ``array`` to this device (a no-op if it is there), optionally casting it.

        Parameters
        ----------
        array : array-like
            Host or device data.
        dtype : str, optional
            ``"float32"`` or ``"float64"``; keeps the dtype when omitted.

        Returns
        -------
        array
            An array of this device's namespace.
        """
        if self.name == "cpu":
            if not isinstance(array, np.ndarray) and hasattr(array, "__array_namespace__"):
                array = to_numpy(array)
            return np.asarray(array, dtype=dtype)
        if get_array_module(array) is self.xp:
            if dtype is None or str(array.dtype).split(".")[-1] == dtype:
                return array
            return self.xp.astype(array, self.dtype(dtype))
        host = np.asarray(array)
        if dtype is not None:
            host = host.astype(dtype, copy=False)
        return self.xp.asarray(host)

    def update_peak_memory(self) -> None:
        """Record the device memory in use if it is a new peak (GPU only; cheap).

        CuPy's memory pool has no peak counter of its own, so the training loops call this
        after every step and :attr:`peak_memory_bytes` keeps the maximum.
        """
        if self.name == "gpu":
            used = int(self.xp.get_default_memory_pool().used_bytes())
            self.peak_memory_bytes = max(self.peak_memory_bytes or 0, used)

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory measurement."""
        self.peak_memory_bytes = None

    def dtype(self, name: str) -> Any:
        """Return this namespace's dtype object for ``"float32"`` or ``"float64"``."""
        return getattr(self.xp, name)

    def synchronize(self) -> None:
        """Wait until all queued device work is done (a no-op on the CPU).

        Call this before reading a clock, or GPU timings measure only the launch.
        """
        if self.name == "gpu":
            self.xp.cuda.Device().synchronize()


def resolve_device(device: str | Device | None) -> Device:
    """Turn a device name (or ``None``: ``$CNNBENCH_DEVICE``, else CPU) into a :class:`Device`.

    Parameters
    ----------
    device : str, Device or None

    Returns
    -------
    Device
    """
    if isinstance(device, Device):
        return device
    if device is None:
        device = os.environ.get(DEVICE_ENV_VAR, "cpu") or "cpu"
    return Device(device)


def check_dtype(dtype: Any) -> str:
    """Validate a floating dtype name for a model.

    Parameters
    ----------
    dtype : str or numpy dtype
        ``"float32"`` (default for speed) or ``"float64"`` (for gradient checks).

    Returns
    -------
    str
        The canonical name.
    """
    name = np.dtype(dtype).name if dtype is not None else "float32"
    if name not in _SUPPORTED_DTYPES:
        raise ValueError(
            f"unsupported dtype {dtype!r}: scratch_cnn computes in 'float32' (default) "
            "or 'float64'."
        )
    return name
