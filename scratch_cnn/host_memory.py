"""Host (CPU) memory policy: keep freed NumPy buffers in the process for reuse.

Every layer step allocates large temporaries (patch matrices, activations, gradients) and
frees them again. glibc's ``malloc`` serves blocks above its mmap threshold with fresh
``mmap`` pages and unmaps them on ``free``, so each step pays a page fault (and the
kernel's zeroing) for every page it touches again: 10-30% of a small conv layer's time
here. :func:`retain_freed_memory` tells glibc to serve large blocks from its heap and keep
freed memory, so a training loop reuses warm pages, as TensorFlow's and CuPy's pooling
allocators do. :func:`release_freed_memory` hands the retained memory back (the harness
calls it before each run, so peak-RSS figures are not inflated by earlier runs).

Both are no-ops where the C library is not glibc, and ``CNNBENCH_RETAIN_HOST_MEMORY=0``
turns the policy off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache

#: Environment variable that switches the policy off ("0").
RETAIN_ENV_VAR = "CNNBENCH_RETAIN_HOST_MEMORY"

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_TRIM_THRESHOLD_BYTES = 1 << 30  # keep up to 1 GiB of freed heap before trimming
_TOP_PAD_BYTES = 64 << 20  # grow the heap in 64 MiB steps

_retained = False


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # mallopt's parameters below are glibc's; only glibc has gnu_get_libc_version.
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def retain_freed_memory() -> bool:
    """Serve large host blocks from the heap and keep freed ones (idempotent).

    Returns
    -------
    bool
        True when the policy is active (glibc, and not switched off by
        ``CNNBENCH_RETAIN_HOST_MEMORY=0``).
    """
    global _retained
    if _retained:
        return True
    if os.environ.get(RETAIN_ENV_VAR, "1") == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok = (
        libc.mallopt(_M_MMAP_MAX, 0) == 1
        and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1
        and libc.mallopt(_M_TOP_PAD, _TOP_PAD_BYTES) == 1
    )
    _retained = ok
    return ok


def release_freed_memory() -> None:
    """Return freed heap memory to the operating system (``malloc_trim(0)``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
