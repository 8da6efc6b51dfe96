"""A ReLU and a 2x2 stride-2 max pooling on a tile of convolution outputs, in cache (NumPy).

A convolution with a ReLU followed by a 2x2 max pooling of stride 2 (in vgg12_32,
lenet5 and vgg_b's first layer, among others) writes the ReLU's output ``Y`` to memory
for the pooling layer, which reads it back and writes ``dL/dY`` in the backward pass, which
the convolution reads again: three passes over an array four times the pooled output
(vgg_b's first layer: 25 MB per shard of 64 images, at memory speed). Here the pooling
runs on each tile of :mod:`scratch_cnn.functional.conv_relu_tiles` while the tile's
pre-activation ``Z`` is still in cache, and only the pooled output and the routes of the
gradient (four bools per pooled value) go to memory.

The maximum commutes with the ReLU (both are monotone), so the tile is pooled first and
the ReLU runs on the pooled values only: ``relu(max(a, b, c, d)) == max(relu(a), ...)``
for the window ``[[a, b], [c, d]]``. The pooling is the tournament of
:mod:`scratch_cnn.functional.pooling` (``top = max(a, b)``, ``bottom = max(c, d)``,
``y = max(top, bottom)``) and the backward pass replays it: the gradient goes to the top
row where ``top >= bottom`` and within a row to the left cell where ``a >= b``
(``c >= d``), then through the ReLU where the window's maximum is positive. Where the
maximum is positive these comparisons on ``Z`` pick the same cell as the same
comparisons on ``relu(Z)`` that the separate layers make; where it is not, the ReLU
passes no gradient either way. So every gradient value equals the separate layers' (up to
the sign of a zero), and the kernel gradient is the same sum.
"""

from __future__ import annotations

import numpy as np

from scratch_cnn.functional.activations import relu_forward

#: The routes of the gradient are ``(4, N*PH*PW, F)`` bools, rows the pooled pixels in NHWC
#: order; the four planes: the window's maximum is positive; the top row won; the left
#: cell won in the top row; the left cell won in the bottom row.
POSITIVE, TOP, LEFT_IN_TOP, LEFT_IN_BOTTOM = range(4)


def pools_in_tiles(out_h: int, out_w: int) -> bool:
    """Whether a ``out_h x out_w`` output splits into whole 2x2 windows (even sides)."""
    return out_h % 2 == 0 and out_w % 2 == 0


def _window_cells(tile: np.ndarray, images: int, out_h: int, out_w: int) -> list[np.ndarray]:
    """Views ``[a, b, c, d]`` of every 2x2 window of a tile ``(images*OH*OW, F)``."""
    windows = tile.reshape(images, out_h // 2, 2, out_w // 2, 2, tile.shape[-1])
    return [windows[:, :, i, :, j] for i in (0, 1) for j in (0, 1)]


def relu_max_pool_tile(
    z: np.ndarray,
    images: int,
    out_h: int,
    out_w: int,
    out: np.ndarray,
    routes: np.ndarray,
    bottom: np.ndarray,
) -> None:
    """``out = relu(max_pool_2x2(z))`` for one tile, and the routes of its gradient.

    Parameters
    ----------
    z : ndarray (images*OH*OW, F)
        The tile's pre-activation, NHWC rows; left as it is.
    images, out_h, out_w : int
        The tile's images and the convolution's output size (both sides even).
    out : ndarray (images, OH/2, OW/2, F)
        The pooled output, C-contiguous.
    routes : ndarray (4, images*OH/2*OW/2, F) bool
        This tile's rows of the routes (:data:`POSITIVE` and the other planes).
    bottom : ndarray
        Scratch space of at least ``out.size`` values of ``z``'s dtype.
    """
    a, b, c, d = _window_cells(z, images, out_h, out_w)
    shape = out.shape
    top = out  # the tournament runs in the output: top row, then the window's maximum
    low = bottom.reshape(-1)[: out.size].reshape(shape)
    np.maximum(a, b, out=top)
    np.maximum(c, d, out=low)
    planes = routes.reshape(4, *shape)
    np.greater_equal(a, b, out=planes[LEFT_IN_TOP])
    np.greater_equal(c, d, out=planes[LEFT_IN_BOTTOM])
    np.greater_equal(top, low, out=planes[TOP])
    np.maximum(top, low, out=out)
    np.greater(out, 0, out=planes[POSITIVE])
    relu_forward(out, out=out)


def route_tile_gradient(
    grad_pooled: np.ndarray,
    routes: np.ndarray,
    images: int,
    out_h: int,
    out_w: int,
    out: np.ndarray,
    row_grad: np.ndarray,
) -> None:
    """``dL/dZ`` of one tile from ``dL/d(pooled output)``, down the routes of the forward pass.

    Parameters
    ----------
    grad_pooled : ndarray (images, OH/2, OW/2, F)
    routes : ndarray (4, images*OH/2*OW/2, F) bool
        This tile's rows of the routes (:data:`POSITIVE` and the other planes).
    images, out_h, out_w : int
    out : ndarray (images*OH*OW, F)
        ``dL/dZ`` of the tile, every value written.
    row_grad : ndarray
        Scratch space of at least ``2 * grad_pooled.size`` values of ``out``'s dtype.
    """
    shape = grad_pooled.shape
    planes = routes.reshape(4, *shape)
    scratch = row_grad.reshape(-1)[: 2 * grad_pooled.size].reshape(2, *shape)
    to_top, to_bottom = scratch[0], scratch[1]
    # 0/1 masks times the gradient: exact (g * 1 and g - g * 1 == 0), faster than ``where``.
    np.multiply(grad_pooled, planes[POSITIVE], out=to_bottom)
    np.multiply(to_bottom, planes[TOP], out=to_top)
    np.subtract(to_bottom, to_top, out=to_bottom)
    a, b, c, d = _window_cells(out, images, out_h, out_w)
    for left, right, grad, left_wins in (
        (a, b, to_top, planes[LEFT_IN_TOP]),
        (c, d, to_bottom, planes[LEFT_IN_BOTTOM]),
    ):
        np.multiply(grad, left_wins, out=left)
        np.subtract(grad, left, out=right)
