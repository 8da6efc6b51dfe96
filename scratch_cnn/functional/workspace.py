"""Reusable scratch buffers for the big temporaries of convolution (patch matrices, padding).

Allocating a fresh 100 MB patch matrix every step costs as much as filling it: the memory
comes back from the allocator untouched and every page faults in on first write. A layer
keeps one :class:`Workspace` and asks it for buffers by name; a buffer of the same shape and
dtype is handed back again on the next step.
"""

from __future__ import annotations

from typing import Any

from scratch_cnn.backend import get_array_module

Array = Any

#: Buffers kept per workspace; training and evaluation batch shapes both stay cached.
_MAX_BUFFERS = 16


class Workspace:
    """Named buffers, reused while the requested shape and dtype stay the same."""

    def __init__(self) -> None:
        self._buffers: dict[tuple, Array] = {}

    def _get(self, name: str, shape: tuple[int, ...], like: Array, zeroed: bool) -> Array:
        key = (name, tuple(shape), str(like.dtype), zeroed)
        buffer = self._buffers.get(key)
        if buffer is None:
            if len(self._buffers) >= _MAX_BUFFERS:
                self._buffers.clear()
            xp = get_array_module(like)
            make = xp.zeros if zeroed else xp.empty
            buffer = self._buffers[key] = make(shape, dtype=like.dtype, device=like.device)
        return buffer

    def empty(self, name: str, shape: tuple[int, ...], like: Array) -> Array:
        """A buffer with arbitrary contents, for results that overwrite all of it."""
        return self._get(name, shape, like, zeroed=False)

    def zeros(self, name: str, shape: tuple[int, ...], like: Array) -> Array:
        """A buffer that was zero when first made.

        Only for callers that always overwrite the same region (e.g. the interior of a
        padded image): the rest then stays zero from one use to the next.
        """
        return self._get(name, shape, like, zeroed=True)
