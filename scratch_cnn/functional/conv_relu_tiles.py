"""A convolution and its ReLU a few images at a time, while they are in cache (NumPy).

Done one pass after the other over the whole batch, an im2col layer with a ReLU writes
the patch matrix ``P``, the product ``Z = P @ W + b`` and then ``Y = max(Z, 0)``; its
backward pass reads ``dL/dY`` and ``Y`` to write ``dZ = dL/dY * (Y > 0)`` and then
multiplies ``P^T @ dZ``. ``Z`` and ``dZ`` are as large as the output (25 MB for vgg_b's
first layer on a shard of 64 images) and the passes over them run at memory speed: on
this project's 2-core AMD machine they took 11.6 of the 39.7 ms per shard of that layer's
forward + kernel gradient, beside 28 ms of products.

Here the same products run on tiles of whole images (:func:`images_per_tile`), each
while it is in cache. Forward: one tile's patches, their product and its ReLU, so ``Z``
never goes to memory; the ReLU's mask (``Z > 0``, a quarter of ``Y``'s bytes as bool) is
kept for the backward pass instead of ``Y``. Backward: the kernel gradient adds each
tile's ``P_t^T @ dZ_t``; for a layer that needs no input gradient (a model's first
layer) each ``dZ_t`` is formed in its tile too, so ``dZ`` never goes to memory either;
otherwise ``dZ`` is formed whole, as the input gradient
(:func:`scratch_cnn.functional.convolution.conv2d_input_gradient`) needs it. The patch
matrix is kept whole from the forward pass for inputs of few channels and cut again tile
by tile from the padded input otherwise (:data:`KEEP_PATCHES_BELOW_CHANNELS`).

With ``pool=True`` the 2x2 max pooling after the ReLU runs on each tile as well, and only
the pooled output and the routes of its gradient go to memory
(:mod:`scratch_cnn.functional.pool_tiles`).

A convolution with another activation (tanh, sigmoid) runs the same tiles without the
ReLU where its patch matrix is large (:func:`uses_linear_tiles`): the product goes
straight to the output, the activation and its derivative run as for any layer, and the
backward pass takes ``dL/dZ``; only the patch matrix's trip to memory is saved.

Each output row is the same dot product as in the whole GEMM; the kernel gradient adds
the tiles' partial sums, so it differs from the whole product by the order of the sums
over rows (tests compare both paths). NumPy only: other array libraries take the
untiled path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scratch_cnn.functional.activations import relu_forward
from scratch_cnn.functional.convolution import (
    ROW_FORM_MAX_FILTERS,
    ConvCache,
    WindowGeometry,
    choose_algorithm,
    conv2d_input_gradient,
    extract_patches_with_ones,
    kernel_with_bias_row,
    window_geometry,
)
from scratch_cnn.functional.im2col import pad_spatial, window_row_items, window_rows
from scratch_cnn.functional.pool_tiles import (
    pools_in_tiles,
    relu_max_pool_tile,
    route_tile_gradient,
)
from scratch_cnn.functional.workspace import Workspace

Array = Any

#: Bytes of one tile's patches and products together. On the 2-core AMD EPYC (1 MB L2 per
#: core, 32 MB shared L3), a prototype of this path ran two shards of 64 images of vgg_b's
#: first layer (704 KB per image) at once in 34.7, 33.9 and 33.8 ms per shard (forward +
#: kernel gradient) with tiles of 2, 4 and 8 images against 39.7 untiled; tiles of 1 image
#: were slower (per-call costs). This module, the same two shards: 37.2, 34.2, 34.7, 33.7,
#: 33.4 and 33.7 ms per step with 1, 1.5, 2, 3, 4 and 6 MB per tile. A few MB, in L3, is
#: enough.
TILE_BYTES = 3 * 2**20
#: Keep the whole patch matrix for the backward pass when the input has fewer channels
#: than this; otherwise the backward pass cuts each tile's patches again from the padded
#: input, in cache, instead of writing the matrix to memory and reading it back. Cutting
#: copies a run of ``KW*C`` values per window row (:func:`TilePatches.cut`), which is slow
#: per byte for 1 channel. Two shards of 64 images at once, forward + backward, ms (kept /
#: cut again, medians of 5 interleaved runs, 2026-12-03): vgg_b conv1 (5x5, 3 -> 96)
#: 37.3 / 35.8; lenet5 conv1 (5x5, 3 -> 32) 17.8 / 15.4; vgg12_32 conv1 (3x3, 3 -> 32)
#: 8.9 / 8.9; 28x28x1, 5x5 -> 32 7.0 / 7.7 and 3x3 -> 32 5.7 / 6.7; vgg12_32 conv2
#: (3x3, 32 -> 32, with the input gradient) 24.5 / 20.6; lenet2 conv2 (3x3, 32 -> 32)
#: 101.0 / 81.5.
KEEP_PATCHES_BELOW_CHANNELS = 3
#: A convolution without a ReLU (tanh, sigmoid, linear) runs in tiles only from this many
#: input channels and a patch matrix above this many bytes (:func:`uses_linear_tiles`).
#: Two shards of 64 images at once, forward + tanh + backward, ms (untiled / tiles,
#: medians of 5 interleaved runs, 2026-12-03): lenet2's conv 2 (3x3, 32 -> 32 on 16x16,
#: 19 MB of patches per shard) 22.4 / 18.7, conv 3 (32 -> 64 on 8x8, 4.7 MB) 8.9 / 8.5,
#: conv 4 (64 -> 120 on 4x4, 2.4 MB) 6.0 / 6.2; first layers lose: lenet2's conv 1
#: (3 channels) 14.2 / 14.5, 28x28x1 3x3 -> 20 4.9 / 5.5.
LINEAR_TILES_MIN_CHANNELS = 8
LINEAR_TILES_MIN_PATCH_BYTES = 2 * TILE_BYTES
#: A ReLU convolution for which :func:`~scratch_cnn.functional.convolution.choose_algorithm`
#: picks the row form runs in tiles instead when a window row holds fewer values than
#: this (``KW*C``, the inner size of the row form's products) and it has more than
#: ``ROW_FORM_MAX_FILTERS`` filters. Two shards of 64 images at once, forward + ReLU +
#: backward with the input gradient, ms (row form / tiles, medians of 5 interleaved runs,
#: 2026-12-03): lenet5's conv 2 (5x5, 32 -> 64, 160 values a row) 93.0 / 80.3; vgg_b's
#: conv 2 (5x5, 96 -> 192, 480 values) 579 / 592 and 96 -> 96 332 / 339; numpy_cnn-like
#: 5x5, 8 -> 8 (8 filters) 7.0 / 7.8.
TILES_OVER_ROWS_BELOW_ROW_VALUES = 256


def images_per_tile(pixels: int, columns: int, filters: int, itemsize: int) -> int:
    """Whole images per tile: as many as fit in :data:`TILE_BYTES`, at least one.

    Parameters
    ----------
    pixels : int
        Output pixels per image.
    columns : int
        Patch columns (``KH*KW*C`` plus the bias column).
    filters : int
    itemsize : int
        Bytes per value.

    Returns
    -------
    int
    """
    return max(1, TILE_BYTES // (pixels * (columns + filters) * itemsize))


def uses_relu_tiles(x: Array, kernel: Array, bias: Array | None, strides: tuple[int, int]) -> bool:
    """Whether a ReLU convolution of ``x`` runs in tiles here.

    NumPy arrays, a bias (it rides in the product as a column of ones) and the im2col
    form (:func:`scratch_cnn.functional.convolution.choose_algorithm`; the row form has
    no per-image patch matrix to tile), or the row form's choice where its products are
    short (:data:`TILES_OVER_ROWS_BELOW_ROW_VALUES`).
    """
    if not (isinstance(x, np.ndarray) and isinstance(kernel, np.ndarray) and bias is not None):
        return False
    if choose_algorithm(x, kernel, strides) == "im2col":
        return True
    _, kernel_w, channels, filters = kernel.shape
    return kernel_w * channels < TILES_OVER_ROWS_BELOW_ROW_VALUES and filters > ROW_FORM_MAX_FILTERS


def uses_linear_tiles(
    x: Array, kernel: Array, bias: Array | None, strides: tuple[int, int], padding: str
) -> bool:
    """Whether a convolution with another activation than ReLU runs in tiles here.

    Without a ReLU the tiles save only the patch matrix's trip to memory and back (the
    pre-activation is written whole, for the activation), so they are used where that
    matrix is large and cheap to cut again: as :func:`uses_relu_tiles`, and at least
    :data:`LINEAR_TILES_MIN_CHANNELS` input channels and a patch matrix of more than
    :data:`LINEAR_TILES_MIN_PATCH_BYTES`.
    """
    if not uses_relu_tiles(x, kernel, bias, strides) or x.shape[3] < LINEAR_TILES_MIN_CHANNELS:
        return False
    kernel_h, kernel_w = kernel.shape[:2]
    g = window_geometry(x.shape[1], x.shape[2], (kernel_h, kernel_w), strides, padding)
    rows = x.shape[0] * g.out_h * g.out_w
    patch_bytes = rows * (kernel_h * kernel_w * x.shape[3] + 1) * x.itemsize
    return patch_bytes > LINEAR_TILES_MIN_PATCH_BYTES


class TilePatches:
    """Cuts the patch rows of tiles of images (with the column of ones) from one input.

    The strided view of every window row over the whole padded input
    (:func:`scratch_cnn.functional.im2col.window_rows`) is made once per pass, and each
    tile is one copy out of it: building the view for every tile cost 0.24 ms of the
    1.35 ms that cutting vgg_b's first layer on 64 images took, in 16 tiles.
    """

    def __init__(
        self,
        padded: np.ndarray,
        kernel_shape: tuple[int, ...],
        strides: tuple[int, int],
        geometry: WindowGeometry,
    ) -> None:
        self.padded, self.kernel_shape, self.strides, self.geometry = (
            padded,
            tuple(kernel_shape),
            tuple(strides),
            geometry,
        )
        kernel_h, kernel_w = self.kernel_shape[:2]
        self.source = window_rows(
            padded, kernel_h, kernel_w, *self.strides, geometry.out_h, geometry.out_w
        )

    def cut(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Patches of images ``start:stop`` into ``out`` ((stop-start)*OH*OW, columns)."""
        kernel_h, kernel_w, c, _ = self.kernel_shape
        if self.source is not None and out.dtype == self.padded.dtype:
            shape = (stop - start, self.geometry.out_h, self.geometry.out_w, kernel_h, kernel_w, c)
            destination = window_row_items(out[:, :-1], shape)  # out's patch columns
            if destination is not None:
                np.copyto(destination, self.source[start:stop])
                out[:, -1] = 1.0
                return out
        return extract_patches_with_ones(
            self.padded[start:stop], self.kernel_shape, self.strides, self.geometry, out=out
        )


@dataclass
class TileCache:
    """What :func:`conv2d_relu_backward` needs from :func:`conv2d_relu_forward`."""

    #: The convolution's own cache: its ``patches`` (with the bias column) when kept
    #: whole, else None; the input gradient takes it as it is.
    conv: ConvCache
    padded: np.ndarray  # (N, Hp, Wp, C): the patches are cut again from it, tile by tile
    #: (N*OH*OW, F) bool: where the ReLU passed its input (Z > 0); None without a ReLU
    #: or with a pooling.
    mask: np.ndarray | None
    kernel_shape: tuple[int, ...]
    #: With a 2x2 max pooling after the ReLU: where each pooled gradient goes,
    #: (4, N*OH/2*OW/2, F) bool (:mod:`scratch_cnn.functional.pool_tiles`).
    routes: np.ndarray | None = None


def conv2d_relu_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray,
    strides: tuple[int, int],
    padding: str,
    workspace: Workspace | None = None,
    keep_patches: bool | None = None,
    relu: bool = True,
    pool: bool = False,
) -> tuple[np.ndarray, TileCache]:
    """``max(conv2d(x, kernel) + bias, 0)`` in tiles of images (or without the ReLU).

    Optionally followed by a 2x2 max pooling of stride 2, in the same tiles
    (:mod:`scratch_cnn.functional.pool_tiles`).

    Parameters
    ----------
    x : ndarray (N, H, W, C)
    kernel : ndarray (KH, KW, C, F)
    bias : ndarray (F,)
    strides : (int, int)
    padding : {"valid", "same"}
    workspace : Workspace, optional
        Reuse the padded input and the tile buffers of the previous call (a layer's own:
        the padded input stays in the returned cache until the backward pass).
    keep_patches : bool, optional
        Keep the whole patch matrix for the backward pass; by default for inputs of
        fewer than :data:`KEEP_PATCHES_BELOW_CHANNELS` channels.
    relu : bool
        False: no ReLU, ``y`` is the convolution itself (for a layer with another
        activation, :func:`uses_linear_tiles`); its backward pass takes ``dL/dZ``.
    pool : bool
        Also max-pool the ReLU's output in 2x2 windows of stride 2 (needs ``relu`` and an
        output of even height and width, :func:`pools_in_tiles`); ``y`` is the pooled
        output and the backward pass takes its gradient.

    Returns
    -------
    y : ndarray (N, OH, OW, F) or (N, OH/2, OW/2, F)
        The ReLU's output (the convolution's without it; pooled with ``pool``).
    cache : TileCache
    """
    n, h, w, c = x.shape
    kernel_h, kernel_w, _, filters = kernel.shape
    g = window_geometry(h, w, (kernel_h, kernel_w), strides, padding)
    workspace = workspace if workspace is not None else Workspace()
    padded = pad_spatial(
        x, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, workspace=workspace, name="input"
    )
    if pool and not (relu and pools_in_tiles(g.out_h, g.out_w)):
        raise ValueError(
            f"pooling in tiles needs the ReLU and an output of even height and width, got "
            f"relu={relu} and {g.out_h}x{g.out_w}."
        )
    pixels, columns = g.out_h * g.out_w, kernel_h * kernel_w * c + 1
    weights = kernel_with_bias_row(kernel, bias)
    weights = weights.astype(np.result_type(padded, weights), copy=False)
    routes = None
    if pool:
        pooled_pixels = pixels // 4
        y = np.empty((n, g.out_h // 2, g.out_w // 2, filters), dtype=weights.dtype)
        routes = np.empty((4, n * pooled_pixels, filters), dtype=bool)
        mask = None
    else:
        y = np.empty((n * pixels, filters), dtype=weights.dtype)
        mask = np.empty((n * pixels, filters), dtype=bool) if relu else None
    tile = images_per_tile(pixels, columns, filters, y.itemsize)
    if keep_patches is None:
        keep_patches = c < KEEP_PATCHES_BELOW_CHANNELS
    if keep_patches:
        whole = workspace.empty("patches_with_ones", (n * pixels, columns), y)
    else:
        whole, patches = None, workspace.empty("tile_patches", (tile * pixels, columns), y)
    if relu:
        products = workspace.empty("tile_products", (tile * pixels, filters), y)
    if pool:
        bottom = workspace.empty("tile_pool_rows", (tile * pixels // 4, filters), y)
    cutter = TilePatches(padded, kernel.shape, strides, g)
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        rows = slice(start * pixels, stop * pixels)
        block = whole[rows] if whole is not None else patches[: (stop - start) * pixels]
        cutter.cut(start, stop, block)
        if not relu:  # the product is the output
            np.matmul(block, weights, out=y[rows])
            continue
        z = products[: block.shape[0]]
        np.matmul(block, weights, out=z)
        if pool:
            pooled_rows = slice(start * pooled_pixels, stop * pooled_pixels)
            relu_max_pool_tile(
                z,
                stop - start,
                g.out_h,
                g.out_w,
                y[start:stop],
                routes[:, pooled_rows],
                bottom,
            )
            continue
        relu_forward(z, out=y[rows])
        np.greater(z, 0, out=mask[rows])
    if not pool:
        y = y.reshape(n, g.out_h, g.out_w, filters)
    conv = ConvCache(whole, tuple(x.shape), g, tuple(strides), bias_column=True)
    return y, TileCache(conv, padded, mask, tuple(kernel.shape), routes)


def conv2d_relu_weight_gradients(
    grad_output: np.ndarray,
    cache: TileCache,
    keep_grad_z: bool = False,
    grad_is_preactivation: bool = False,
    workspace: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Kernel and bias gradients through the ReLU of :func:`conv2d_relu_forward`.

    ``dZ = dL/dY * (Z > 0)`` (0 at the kink, as TensorFlow), then ``dW = P^T @ dZ`` and
    ``db = 1^T @ dZ``, summed tile by tile. After a pooling in tiles, each tile's ``dZ``
    is routed from the pooled gradient
    (:func:`~scratch_cnn.functional.pool_tiles.route_tile_gradient`).

    Parameters
    ----------
    grad_output : ndarray (N, OH, OW, F) or (N, OH/2, OW/2, F)
        ``dL/dY``, the gradient of the ReLU's output (of the pooled output when the
        forward pass pooled; or ``dL/dZ``, see below).
    cache : TileCache
    keep_grad_z : bool
        Form ``dZ`` whole and return it (for the input gradient); otherwise each tile's
        ``dZ`` lives only in a tile buffer.
    grad_is_preactivation : bool
        ``grad_output`` is already ``dL/dZ`` (N, OH, OW, F): skip the ReLU's derivative
        (and the pooling's).
    workspace : Workspace, optional
        Reuse the tile buffers.

    Returns
    -------
    grad_kernel : ndarray (KH, KW, C, F)
    grad_bias : ndarray (F,)
    grad_z : ndarray (N, OH, OW, F) or None
        ``dL/dZ`` when ``keep_grad_z`` or ``grad_is_preactivation``; the input gradient
        is :func:`scratch_cnn.functional.convolution.conv2d_input_gradient` of it and
        ``cache.conv``.
    """
    if cache.mask is None and cache.routes is None and not grad_is_preactivation:
        raise ValueError(
            "this tiled convolution ran without a ReLU: pass dL/dZ with grad_is_preactivation=True."
        )
    kernel_h, kernel_w, c, filters = cache.kernel_shape
    conv = cache.conv
    n = conv.input_shape[0]
    out_h, out_w = conv.geometry.out_h, conv.geometry.out_w
    pixels, columns = out_h * out_w, kernel_h * kernel_w * c + 1
    routes = None if grad_is_preactivation else cache.routes
    pooled = routes is not None
    expected = (n, out_h // 2, out_w // 2, filters) if pooled else (n, out_h, out_w, filters)
    if tuple(grad_output.shape) != expected:
        raise ValueError(
            f"the output gradient has shape {tuple(grad_output.shape)}, the layer's output "
            f"{expected}."
        )
    grad = np.ascontiguousarray(grad_output)
    workspace = workspace if workspace is not None else Workspace()
    like = np.empty(0, np.result_type(cache.padded, grad))
    tile = images_per_tile(pixels, columns, filters, like.itemsize)
    if conv.patches is None:
        patches = workspace.empty("tile_patches", (tile * pixels, columns), like)
        cutter = TilePatches(cache.padded, cache.kernel_shape, conv.strides, conv.geometry)
    if pooled:
        pooled_pixels = pixels // 4
        row_grad = workspace.empty("tile_pool_grads", (2 * tile * pooled_pixels, filters), like)
    else:
        grad = grad.reshape(n * pixels, filters)
    grad_z = None
    if grad_is_preactivation:
        grad_z = grad.astype(like.dtype, copy=False)
    elif keep_grad_z and pooled:
        grad_z = np.empty((n * pixels, filters), dtype=like.dtype)
    elif keep_grad_z:
        grad_z = np.multiply(grad, cache.mask, dtype=like.dtype)
    if grad_z is None:
        tile_grad_z = workspace.empty("tile_products", (tile * pixels, filters), like)
    total = np.zeros((columns, filters), dtype=like.dtype)
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        rows = slice(start * pixels, stop * pixels)
        if grad_z is not None:
            grad_z_rows = grad_z[rows]
        else:
            grad_z_rows = tile_grad_z[: (stop - start) * pixels]
        if pooled:
            pooled_rows = slice(start * pooled_pixels, stop * pooled_pixels)
            route_tile_gradient(
                grad[start:stop],
                routes[:, pooled_rows],
                stop - start,
                out_h,
                out_w,
                grad_z_rows,
                row_grad,
            )
        elif grad_z is None:
            np.multiply(grad[rows], cache.mask[rows], out=grad_z_rows)
        if conv.patches is not None:
            block = conv.patches[rows]
        else:
            block = cutter.cut(start, stop, patches[: (stop - start) * pixels])
        total += block.T @ grad_z_rows
    grad_kernel, grad_bias = total[:-1].reshape(cache.kernel_shape), total[-1]
    if grad_z is None:
        return grad_kernel, grad_bias, None
    return grad_kernel, grad_bias, grad_z.reshape(n, out_h, out_w, filters)


def conv2d_relu_backward(
    grad_output: np.ndarray,
    cache: TileCache,
    kernel: np.ndarray,
    need_input_grad: bool = True,
    workspace: Workspace | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """All gradients through the ReLU and the convolution of :func:`conv2d_relu_forward`.

    Parameters
    ----------
    grad_output : ndarray (N, OH, OW, F)
        ``dL/dY``, the gradient of the ReLU's output.
    cache : TileCache
    kernel : ndarray (KH, KW, C, F)
    need_input_grad : bool
        Skip ``dL/dx`` for a model's first layer.
    workspace : Workspace, optional
        Reuse the tile buffers (and the input gradient's).

    Returns
    -------
    grad_input : ndarray (N, H, W, C) or None
    grad_kernel : ndarray (KH, KW, C, F)
    grad_bias : ndarray (F,)
    """
    grad_kernel, grad_bias, grad_z = conv2d_relu_weight_gradients(
        grad_output, cache, keep_grad_z=need_input_grad, workspace=workspace
    )
    if not need_input_grad:
        return None, grad_kernel, grad_bias
    grad_input = conv2d_input_gradient(grad_z, cache.conv, kernel, workspace)
    return grad_input, grad_kernel, grad_bias
