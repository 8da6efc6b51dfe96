"""Max and average pooling on NHWC data, forward and backward.

Both loop over the ``PH*PW`` window offsets and treat the whole batch at once per offset.

* Max pooling pads with ``-inf`` (padded cells never win). Backward finds, per output
  value, the first offset whose input equals the maximum (the maximum is a copy of one
  input, so equality is exact; the first one on ties, as TensorFlow does) and adds the
  output gradient to that one input; with overlapping windows an input that wins several
  windows receives the sum of their gradients. Masks are applied by multiplying with 0/1
  arrays: ``where`` is several times slower on unpredictable masks.
* 2x2 windows with stride 2 (every pooling layer of the catalog) take a shorter road: the
  forward pass is a tournament, ``top = max(a, b)``, ``bottom = max(c, d)``,
  ``y = max(top, bottom)`` for the window ``[[a, b], [c, d]]``, and the backward pass
  replays it: the gradient goes to the top row where ``top >= bottom``, and within a row
  to the left cell where ``a >= b`` (``c >= d``). Ties resolve to the earlier cell at
  every match, which is exactly "the first maximum in row-major order", in about a third
  of the passes over memory of the general claim-by-offset loop.
* Average pooling divides by the number of *real* input cells in each window, so with
  ``"same"`` padding the padded cells are excluded from the mean (Keras/TensorFlow
  behaviour). Backward spreads ``dy / count`` over the window, summing overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scratch_cnn.backend import get_array_module
from scratch_cnn.functional.convolution import WindowGeometry, window_geometry
from scratch_cnn.functional.im2col import offset_slices, pad_spatial

Array = Any


@dataclass
class PoolCache:
    """What the pooling backward passes need from the forward pass."""

    input_shape: tuple[int, ...]
    geometry: WindowGeometry
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padded: Array | None = None  # max pooling: the (-inf padded) input
    pooled: Array | None = None  # max pooling: the output
    top: Array | None = None  # 2x2 max pooling: the maxima of each window's two rows
    bottom: Array | None = None
    divisor: Array | None = None  # average pooling: real cells per window, (1, OH, OW, 1)


def _padded_shape(shape: tuple[int, ...], g: WindowGeometry) -> tuple[int, int]:
    return shape[1] + g.pad_top + g.pad_bottom, shape[2] + g.pad_left + g.pad_right


def max_pool2d_forward(
    x: Array, pool_size: tuple[int, int], strides: tuple[int, int], padding: str
) -> tuple[Array, PoolCache]:
    """Max pooling: ``y[n, a, b, c] = max_{i,j} x_pad[n, a*sh + i, b*sw + j, c]``.

    Parameters
    ----------
    x : array (N, H, W, C)
    pool_size, strides : (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    y : array (N, OH, OW, C)
    cache : PoolCache
    """
    xp = get_array_module(x)
    g = window_geometry(x.shape[1], x.shape[2], pool_size, strides, padding)
    padded = pad_spatial(x, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, fill=-np.inf)
    if _is_2x2_stride_2(pool_size, strides):
        a, b, c, d = _window_cells(padded, g)
        top, bottom = xp.maximum(a, b), xp.maximum(c, d)
        pooled = xp.maximum(top, bottom)
        cache = PoolCache(
            tuple(x.shape),
            g,
            tuple(pool_size),
            tuple(strides),
            padded=padded,
            pooled=pooled,
            top=top,
            bottom=bottom,
        )
        return pooled, cache
    pooled = None
    for offset in range(pool_size[0] * pool_size[1]):
        i, j = divmod(offset, pool_size[1])
        values = padded[offset_slices(i, j, g.out_h, g.out_w, *strides)]
        pooled = xp.asarray(values, copy=True) if pooled is None else xp.maximum(pooled, values)
    cache = PoolCache(
        tuple(x.shape), g, tuple(pool_size), tuple(strides), padded=padded, pooled=pooled
    )
    return pooled, cache


def max_pool2d_backward(grad_output: Array, cache: PoolCache) -> Array:
    """Route each output gradient to the input that was the window's maximum.

    Parameters
    ----------
    grad_output : array (N, OH, OW, C)
    cache : PoolCache

    Returns
    -------
    array (N, H, W, C)
    """
    if cache.top is not None:
        return _max_pool_2x2_backward(grad_output, cache)
    xp = get_array_module(grad_output)
    g = cache.geometry
    n, h, w, c = cache.input_shape
    padded_h, padded_w = _padded_shape(cache.input_shape, g)
    ph, pw = cache.pool_size
    zero = xp.asarray(0.0, dtype=grad_output.dtype)
    non_overlapping = cache.strides[0] >= ph and cache.strides[1] >= pw
    if non_overlapping:
        grad = xp.empty(
            (n, padded_h, padded_w, c), dtype=grad_output.dtype, device=grad_output.device
        )
        covered_h = g.out_h * cache.strides[0]
        covered_w = g.out_w * cache.strides[1]
        if covered_h < padded_h or covered_w < padded_w or cache.strides != cache.pool_size:
            grad[...] = zero
    else:
        grad = xp.zeros(
            (n, padded_h, padded_w, c), dtype=grad_output.dtype, device=grad_output.device
        )
    unclaimed = None  # outputs whose gradient no earlier offset has taken (ties)
    last = ph * pw - 1
    for offset in range(last + 1):
        i, j = divmod(offset, pw)
        index = offset_slices(i, j, g.out_h, g.out_w, *cache.strides)
        wins = cache.padded[index] == cache.pooled
        if offset == 0:
            unclaimed = ~wins
        else:
            wins &= unclaimed
            if offset < last:  # after the last offset nothing is left to claim
                unclaimed &= ~wins
        routed = xp.astype(wins, grad_output.dtype)
        routed *= grad_output
        if non_overlapping:
            # Each input cell belongs to at most one window: assign instead of accumulate.
            grad[index] = routed
        else:
            grad[index] += routed
    return grad[:, g.pad_top : g.pad_top + h, g.pad_left : g.pad_left + w, :]


def _is_2x2_stride_2(pool_size: tuple[int, int], strides: tuple[int, int]) -> bool:
    return tuple(pool_size) == (2, 2) and tuple(strides) == (2, 2)


def _window_cells(padded: Array, g: WindowGeometry) -> tuple[Array, Array, Array, Array]:
    """The four cells ``[[a, b], [c, d]]`` of every 2x2 stride-2 window, as strided views."""
    return tuple(
        padded[offset_slices(i, j, g.out_h, g.out_w, 2, 2)] for i in (0, 1) for j in (0, 1)
    )


def _max_pool_2x2_backward(grad_output: Array, cache: PoolCache) -> Array:
    """Backward of the 2x2 tournament: route ``dy`` down the branches that won."""
    xp = get_array_module(grad_output)
    g = cache.geometry
    n, h, w, c = cache.input_shape
    padded_h, padded_w = _padded_shape(cache.input_shape, g)
    dtype = grad_output.dtype
    a, b, c_cell, d = _window_cells(cache.padded, g)
    # 0/1 masks times dy: exact (dy * 1 and dy - dy * 1 == 0), and faster than ``where``.
    to_top = xp.astype(cache.top >= cache.bottom, dtype)
    to_top *= grad_output
    to_bottom = grad_output - to_top
    grad = xp.empty((n, padded_h, padded_w, c), dtype=dtype, device=grad_output.device)
    if 2 * g.out_h < padded_h or 2 * g.out_w < padded_w:  # 'valid' drops a row or column
        grad[...] = xp.asarray(0.0, dtype=dtype)
    for row, (left, right, row_grad) in enumerate(((a, b, to_top), (c_cell, d, to_bottom))):
        to_left = xp.astype(left >= right, dtype)
        to_left *= row_grad
        grad[offset_slices(row, 0, g.out_h, g.out_w, 2, 2)] = to_left
        row_grad -= to_left
        grad[offset_slices(row, 1, g.out_h, g.out_w, 2, 2)] = row_grad
    return grad[:, g.pad_top : g.pad_top + h, g.pad_left : g.pad_left + w, :]


def average_pool2d_forward(
    x: Array, pool_size: tuple[int, int], strides: tuple[int, int], padding: str
) -> tuple[Array, PoolCache]:
    """Average pooling over the real (unpadded) cells of each window.

    Parameters
    ----------
    x : array (N, H, W, C)
    pool_size, strides : (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    y : array (N, OH, OW, C)
    cache : PoolCache
    """
    xp = get_array_module(x)
    g = window_geometry(x.shape[1], x.shape[2], pool_size, strides, padding)
    padded = pad_spatial(x, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right)
    total = None
    for offset in range(pool_size[0] * pool_size[1]):
        i, j = divmod(offset, pool_size[1])
        values = padded[offset_slices(i, j, g.out_h, g.out_w, *strides)]
        total = xp.asarray(values, copy=True) if total is None else total + values
    divisor = _window_cell_counts(x, g, pool_size, strides)
    cache = PoolCache(tuple(x.shape), g, tuple(pool_size), tuple(strides), divisor=divisor)
    return total / divisor, cache


def _window_cell_counts(
    x: Array, g: WindowGeometry, pool_size: tuple[int, int], strides: tuple[int, int]
) -> Array:
    """Number of real input cells under each output window, shape (1, OH, OW, 1)."""
    # Counted on the host (a tiny array), then moved to x's device.
    mask = np.zeros((1, *_padded_shape(x.shape, g), 1), dtype=np.float64)
    mask[:, g.pad_top : g.pad_top + x.shape[1], g.pad_left : g.pad_left + x.shape[2], :] = 1.0
    counts = np.zeros((1, g.out_h, g.out_w, 1))
    for i in range(pool_size[0]):
        for j in range(pool_size[1]):
            counts += mask[offset_slices(i, j, g.out_h, g.out_w, *strides)]
    xp = get_array_module(x)
    return xp.asarray(counts.astype(np.dtype(str(x.dtype).split(".")[-1])), device=x.device)


def average_pool2d_backward(grad_output: Array, cache: PoolCache) -> Array:
    """Spread ``dy / count`` over each window, summing where windows overlap.

    Parameters
    ----------
    grad_output : array (N, OH, OW, C)
    cache : PoolCache

    Returns
    -------
    array (N, H, W, C)
    """
    xp = get_array_module(grad_output)
    g = cache.geometry
    n, h, w, c = cache.input_shape
    padded_h, padded_w = _padded_shape(cache.input_shape, g)
    share = grad_output / cache.divisor
    grad = xp.zeros((n, padded_h, padded_w, c), dtype=grad_output.dtype, device=grad_output.device)
    for offset in range(cache.pool_size[0] * cache.pool_size[1]):
        i, j = divmod(offset, cache.pool_size[1])
        grad[offset_slices(i, j, g.out_h, g.out_w, *cache.strides)] += share
    return grad[:, g.pad_top : g.pad_top + h, g.pad_left : g.pad_left + w, :]
