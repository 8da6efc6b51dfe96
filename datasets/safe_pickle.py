"""A restricted unpickler for the CIFAR-10 batches, which are untrusted input.

Unpickling can call any importable function, so a tampered batch file could run code.
The canonical batches (pickled by Python 2's cPickle, protocol 2) contain only dicts,
lists, strings, ints and NumPy uint8 arrays. Building an array needs exactly three
globals: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``.
:class:`RestrictedUnpickler` resolves those three itself (never importing what the
pickle names), admits ``numpy.dtype`` only for uint8, and refuses every other global.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
except ImportError:  # NumPy 1.26
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct

ADMITTED_CONTENT = "dicts, lists, strings, ints and NumPy uint8 arrays"


class RefusedPickleError(pickle.UnpicklingError):
    """The pickle asked for something outside :data:`ADMITTED_CONTENT`."""


def _reconstruct_ndarray(subtype: object, shape: object, dtype_code: object) -> np.ndarray:
    if subtype is not np.ndarray:
        raise RefusedPickleError(f"an array of type {subtype!r} (only numpy.ndarray)")
    return _numpy_reconstruct(np.ndarray, shape, dtype_code)


def _uint8_dtype(spec: object, align: object = False, copy: object = False) -> np.dtype:
    if not isinstance(spec, str | bytes) or np.dtype(spec) != np.uint8:
        raise RefusedPickleError(f"an array of dtype {spec!r} (only uint8)")
    return np.dtype(spec, align, copy)


_ADMITTED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_ndarray,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_ndarray,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _uint8_dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only :data:`ADMITTED_CONTENT`."""

    def find_class(self, module: str, name: str) -> object:
        """Resolve an admitted global; refuse every other."""
        try:
            return _ADMITTED_GLOBALS[module, name]
        except KeyError:
            raise RefusedPickleError(f"the global {module}.{name}") from None


def restricted_loads(data: bytes) -> object:
    """Unpickle ``data`` (Python 2 strings decoded as latin-1, as NumPy needs).

    Raises
    ------
    RefusedPickleError
        If the pickle asks for anything outside :data:`ADMITTED_CONTENT`.
    pickle.UnpicklingError, EOFError, ValueError, TypeError
        If the data is damaged.
    """
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
