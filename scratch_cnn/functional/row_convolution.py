"""Stride-1 convolution as one product per image row band: patches along the width only.

im2col copies every ``KH x KW x C`` window, so its patch matrix holds each input value
``KH*KW`` times. This "row" form (the MEC lowering of Cho and Brand, 2017) copies windows
along the width only: ``Q[n, r, b, (j, c)] = x_w[n, r, b + j, c]`` for every input row
``r`` (``x_w`` is ``x`` padded left and right), ``KH`` times smaller than im2col's. One
product with all kernel rows side by side, ``W_cat[(j, c), (i, f)] = W[i, j, c, f]``,
gives each input row's contribution to the ``KH`` output rows it reaches::

    Z = Q @ W_cat                                    (N, H, OW, KH, F)
    y[n, a, b, f] = sum_i Z[n, a + i - pad_top, b, i, f]      (rows inside the input)

Rows of the zero padding above and below contribute nothing, so they are never formed:
the product has exactly the multiply-adds of the direct convolution. Its shape is better
too: ``KW*C`` by ``KH*F`` instead of ``KH*KW*C`` by ``F``, which for few filters is what
makes the BLAS slow (see :mod:`scratch_cnn.functional.gemm`). The price is the shifted
sum of ``KH`` row bands.

Backward: the input gradient of a stride-1 convolution is again a stride-1 convolution
(of ``dL/dy`` with the kernel flipped and its channel axes swapped, padded by
``K - 1 - pad``), done the same way; the kernel gradient is
``dW_cat = Q^T @ G_stack`` with ``G_stack[n, r, b, (i, f)] = G[n, r - i + pad_top, b, f]``
(zero where that row is outside ``G``), ``KH`` shifted copies of the output gradient.

Which form a layer uses (this or im2col) is decided per layer and direction by
:func:`scratch_cnn.functional.convolution.choose_algorithm` from measured costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scratch_cnn.backend import get_array_module
from scratch_cnn.functional.gemm import tall_matmul, tall_matmul_transposed
from scratch_cnn.functional.im2col import extract_patches, pad_spatial
from scratch_cnn.functional.workspace import Workspace

Array = Any


@dataclass
class RowCache:
    """What the kernel gradient needs from :func:`row_conv2d`: the width patches."""

    patches: Array  # (N*H*OW, KW*C)
    input_shape: tuple[int, ...]
    pad_top: int
    out_h: int
    out_w: int


def row_band_ranges(
    in_h: int, out_h: int, pad_top: int, kernel_h: int
) -> list[tuple[int, int, int]]:
    """For each kernel row ``i``: ``(i, first output row, last + 1)`` it reaches in-bounds.

    Output row ``a`` meets input row ``a + i - pad_top``; only rows inside ``[0, in_h)``
    contribute.
    """
    ranges = []
    for i in range(kernel_h):
        first = max(0, pad_top - i)
        last = min(out_h, in_h + pad_top - i)
        if first < last:
            ranges.append((i, first, last))
    return ranges


def width_patches(
    x: Array,
    kernel_w: int,
    pad_left: int,
    pad_right: int,
    out_w: int,
    workspace: Workspace | None = None,
    name: str = "row_patches",
) -> Array:
    """``Q`` of shape ``(N*H*OW, KW*C)``: every width window of every input row."""
    xp = get_array_module(x)
    n, h, _, c = x.shape
    padded = pad_spatial(x, 0, 0, pad_left, pad_right, workspace=workspace, name=name + "_in")
    # (N, H, W', C) -> windows of KW along the width, stride 1: reuse im2col with KH = 1.
    patches = extract_patches(padded, 1, kernel_w, 1, 1, h, out_w, workspace=workspace, name=name)
    return xp.reshape(patches, (n * h * out_w, kernel_w * c))


def row_conv2d(
    x: Array,
    kernel: Array,
    bias: Array | None,
    pads: tuple[int, int, int, int],
    out_h: int,
    out_w: int,
    workspace: Workspace | None = None,
    name: str = "row",
) -> tuple[Array, RowCache]:
    """Stride-1 convolution of ``x`` (N, H, W, C) with ``kernel`` (KH, KW, C, F).

    Parameters
    ----------
    x : array (N, H, W, C)
    kernel : array (KH, KW, C, F)
    bias : array (F,) or None
    pads : (top, bottom, left, right)
        Zero padding (may exceed what ``"same"`` uses, as the input gradient needs).
    out_h, out_w : int
    workspace : Workspace, optional
    name : str
        Prefix of this call's buffers in the workspace.

    Returns
    -------
    y : array (N, OH, OW, F)
    cache : RowCache
    """
    xp = get_array_module(x)
    n, h, _, c = x.shape
    kernel_h, kernel_w, _, filters = kernel.shape
    pad_top, _, pad_left, pad_right = pads
    patches = width_patches(x, kernel_w, pad_left, pad_right, out_w, workspace, name + "_patches")
    stacked = xp.reshape(xp.permute_dims(kernel, (1, 2, 0, 3)), (kernel_w * c, kernel_h * filters))
    bands = xp.reshape(tall_matmul(patches, stacked), (n, h, out_w, kernel_h, filters))
    y = _sum_row_bands(bands, h, out_h, pad_top, bias)
    return y, RowCache(patches, tuple(x.shape), pad_top, out_h, out_w)


def _sum_row_bands(bands: Array, in_h: int, out_h: int, pad_top: int, bias: Array | None) -> Array:
    """``y[:, a] = sum_i bands[:, a + i - pad_top, :, i] (+ bias)`` over in-bounds rows."""
    xp = get_array_module(bands)
    n, _, out_w, kernel_h, filters = bands.shape
    ranges = row_band_ranges(in_h, out_h, pad_top, kernel_h)
    full = [entry for entry in ranges if entry[1] == 0 and entry[2] == out_h]
    shape = (n, out_h, out_w, filters)
    if full:  # one band covers every output row: start from it instead of from zeros
        first = full[0]
        i = first[0]
        band = bands[:, i - pad_top : i - pad_top + out_h, :, i, :]
        if bias is not None:
            y = band + bias  # the bias rides along with the first band's copy
            bias = None
        else:
            y = xp.empty(shape, dtype=bands.dtype, device=bands.device)
            y[...] = band
        ranges = [entry for entry in ranges if entry is not first]
    else:
        y = xp.zeros(shape, dtype=bands.dtype, device=bands.device)
    for i, first_row, last_row in ranges:
        rows = slice(first_row + i - pad_top, last_row + i - pad_top)
        y[:, first_row:last_row, :, :] += bands[:, rows, :, i, :]
    if bias is not None:
        y += bias
    return y


def row_conv2d_kernel_gradient(
    grad_output: Array,
    cache: RowCache,
    kernel_shape: tuple[int, ...],
    workspace: Workspace | None = None,
) -> Array:
    """``dL/dW`` (KH, KW, C, F) from the width patches and the output gradient."""
    xp = get_array_module(grad_output)
    kernel_h, kernel_w, c, filters = kernel_shape
    n, h, _, _ = cache.input_shape
    out_w = cache.out_w
    shape = (n, h, out_w, kernel_h, filters)
    if workspace is not None:
        # Rows outside each band are never written: they stay zero from the first use.
        stacked = workspace.zeros("row_grad_stack", shape, grad_output)
    else:
        stacked = xp.zeros(shape, dtype=grad_output.dtype, device=grad_output.device)
    for i, first_row, last_row in row_band_ranges(h, cache.out_h, cache.pad_top, kernel_h):
        rows = slice(first_row + i - cache.pad_top, last_row + i - cache.pad_top)
        stacked[:, rows, :, i, :] = grad_output[:, first_row:last_row, :, :]
    product = tall_matmul_transposed(
        cache.patches, xp.reshape(stacked, (n * h * out_w, kernel_h * filters))
    )
    # (KW*C, KH*F) -> (KW, C, KH, F) -> (KH, KW, C, F)
    return xp.permute_dims(xp.reshape(product, (kernel_w, c, kernel_h, filters)), (2, 0, 1, 3))


def row_conv2d_input_gradient(
    grad_output: Array,
    kernel: Array,
    input_shape: tuple[int, ...],
    pads: tuple[int, int, int, int],
    workspace: Workspace | None = None,
) -> Array:
    """``dL/dx`` of a stride-1 convolution: a row convolution of ``dL/dy``.

    ``dx[n, p, q, c] = sum_{i,j,f} dy_pad[n, p + i, q + j, f] W[KH-1-i, KW-1-j, c, f]``
    with ``dy`` padded by ``K - 1 - pad`` on each side.
    """
    xp = get_array_module(grad_output)
    kernel_h, kernel_w, _, _ = kernel.shape
    _, h, w, _ = input_shape
    top, bottom, left, right = pads
    flipped = xp.permute_dims(xp.flip(kernel, axis=(0, 1)), (0, 1, 3, 2))
    grad_pads = (
        kernel_h - 1 - top,
        kernel_h - 1 - bottom,
        kernel_w - 1 - left,
        kernel_w - 1 - right,
    )
    grad_input, _ = row_conv2d(
        grad_output, flipped, None, grad_pads, h, w, workspace=workspace, name="row_grad"
    )
    return grad_input
