"""2-D convolution (Keras's cross-correlation) on NHWC data, forward and backward.

Forward, with patches ``P`` of shape ``(M, K)`` (``M = N*OH*OW`` output pixels,
``K = KH*KW*C``) and the kernel ``W`` reshaped to ``(K, F)``::

    Y = P @ W + b                                  (one GEMM)

Backward, with ``G = dL/dY`` reshaped to ``(M, F)``::

    dW = P^T @ G                                   (GEMM 1)
    db = 1^T @ G                                   (a matrix-vector product)
    dX = col2im(G @ W^T)                           (GEMM 2 plus the scatter), or, for
         stride 1, the "full" correlation of G with the flipped kernel: im2col of G padded
         by (K-1-pad) on each side, times W flipped in (kh, kw) with c_in/c_out swapped.

Both dX forms are exact; the stride-1 form turns the scatter-add into a copy.

On NumPy, stride-1 layers may instead use the row form of
:mod:`scratch_cnn.functional.row_convolution` (patches along the width only, one product
with all kernel rows side by side, then a shifted sum of row bands): always for the input
gradient, and for the forward pass and kernel gradient where :func:`choose_algorithm`
says so. Both forms compute the same sums in a different order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scratch_cnn.backend import get_array_module
from scratch_cnn.functional.gemm import tall_matmul, tall_matmul_transposed
from scratch_cnn.functional.im2col import extract_patches, pad_spatial, scatter_patches
from scratch_cnn.functional.row_convolution import (
    RowCache,
    row_conv2d,
    row_conv2d_input_gradient,
    row_conv2d_kernel_gradient,
)
from scratch_cnn.functional.workspace import Workspace

Array = Any


@dataclass(frozen=True)
class WindowGeometry:
    """Output size and padding of a sliding window along both spatial axes.

    Attributes follow TensorFlow/Keras: for ``"same"``, ``OH = ceil(H / sh)`` and the total
    padding ``max((OH - 1) * sh + KH - H, 0)`` is split with the extra row at the bottom
    (and the extra column at the right).
    """

    out_h: int
    out_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int


def _axis_geometry(size: int, window: int, stride: int, padding: str) -> tuple[int, int, int]:
    if padding == "valid":
        out = (size - window) // stride + 1
        return out, 0, 0
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + window - size, 0)
        return out, total // 2, total - total // 2
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")


def window_geometry(
    in_h: int, in_w: int, window: tuple[int, int], strides: tuple[int, int], padding: str
) -> WindowGeometry:
    """Compute the output size and padding of a convolution or pooling window.

    Parameters
    ----------
    in_h, in_w : int
        Input height and width.
    window : (int, int)
        Kernel or pool size.
    strides : (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    WindowGeometry

    Raises
    ------
    ValueError
        If the window does not fit the input (``"valid"`` with a window larger than it).
    """
    out_h, top, bottom = _axis_geometry(in_h, window[0], strides[0], padding)
    out_w, left, right = _axis_geometry(in_w, window[1], strides[1], padding)
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"a {window[0]}x{window[1]} window with padding={padding!r} does not fit a "
            f"{in_h}x{in_w} input (output would be {out_h}x{out_w}); use padding='same', "
            "a smaller window, or a larger input."
        )
    return WindowGeometry(out_h, out_w, top, bottom, left, right)


@dataclass
class ConvCache:
    """What :func:`conv2d_backward` needs from the forward pass."""

    patches: Array | None  # (M, K), im2col form
    input_shape: tuple[int, ...]
    geometry: WindowGeometry
    strides: tuple[int, int]
    rows: RowCache | None = None  # row form
    #: ``patches`` ends in a column of ones (the bias is the kernel's last row).
    bias_column: bool = False


#: The forward pass and kernel gradient in the row form when the layer has at least this
#: many input channels and either a kernel this tall or at most ``ROW_FORM_MAX_FILTERS``
#: filters. Measured per layer of the catalog on one core, batch shards of 64 (ms,
#: forward + kernel gradient, im2col -> rows): numpy_cnn conv 2 (5x5, 8 -> 8) 8.9 -> 6.5,
#: convkeras4_20 conv 2 (3x3, 20 -> 20) 3.1 -> 2.2, lenet5 conv 2 (5x5, 32 -> 64) 44.6 ->
#: 39.1, vgg_c conv 2 (5x5, 96 -> 96) 775 -> 679; but lenet2 conv 2 (3x3, 32 -> 32)
#: 14.1 -> 15.8 and every first layer (1 or 3 channels: each width window holds too few
#: values for a good product) is slower in rows.
ROW_FORM_MIN_CHANNELS = 8
ROW_FORM_MIN_KERNEL_HEIGHT = 5
ROW_FORM_MAX_FILTERS = 24


def choose_algorithm(x: Array, kernel: Array, strides: tuple[int, int]) -> str:
    """``"rows"`` or ``"im2col"`` for a convolution's forward pass and kernel gradient.

    The row form is a NumPy fast path for stride 1 (see the constants above); other
    array libraries and strides use im2col.
    """
    xp = get_array_module(x)
    kernel_h, _, channels, filters = kernel.shape
    if xp is not np or tuple(strides) != (1, 1) or channels < ROW_FORM_MIN_CHANNELS:
        return "im2col"
    if kernel_h >= ROW_FORM_MIN_KERNEL_HEIGHT or filters <= ROW_FORM_MAX_FILTERS:
        return "rows"
    return "im2col"


def extract_patches_with_ones(
    padded: np.ndarray,
    kernel_shape: tuple[int, ...],
    strides: tuple[int, int],
    geometry: WindowGeometry,
    out: np.ndarray,
) -> np.ndarray:
    """NumPy im2col into ``out`` (rows, ``KH*KW*C + 1``): the patches, then a column of 1s.

    With :func:`kernel_with_bias_row`, one product adds the bias, and the kernel-gradient
    product sums the bias gradient (a separate pass over the output cost as much as a
    3-channel layer's whole product).

    Parameters
    ----------
    padded : ndarray (N, Hp, Wp, C)
    kernel_shape : (KH, KW, C, F)
    strides : (int, int)
    geometry : WindowGeometry
    out : ndarray (N*OH*OW, KH*KW*C + 1)

    Returns
    -------
    ndarray
        ``out``.
    """
    kernel_h, kernel_w, c, _ = kernel_shape
    columns = kernel_h * kernel_w * c
    view = out[:, :columns].reshape(
        padded.shape[0], geometry.out_h, geometry.out_w, kernel_h, kernel_w, c
    )
    extract_patches(padded, kernel_h, kernel_w, *strides, geometry.out_h, geometry.out_w, out=view)
    out[:, columns] = 1.0
    return out


def kernel_with_bias_row(kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The kernel as ``(KH*KW*C + 1, F)``, the bias its last row (see above)."""
    filters = kernel.shape[-1]
    return np.concatenate([kernel.reshape(-1, filters), bias.reshape(1, filters)])


def conv2d_forward(
    x: Array,
    kernel: Array,
    bias: Array | None,
    strides: tuple[int, int],
    padding: str,
    workspace: Workspace | None = None,
    algorithm: str | None = None,
) -> tuple[Array, ConvCache]:
    """Convolve an NHWC batch with a ``(KH, KW, C, F)`` kernel: one GEMM.

    Parameters
    ----------
    x : array (N, H, W, C)
    kernel : array (KH, KW, C, F)
    bias : array (F,) or None
    strides : (int, int)
    padding : {"valid", "same"}
    workspace : Workspace, optional
        Reuse the padded-input and patch buffers of the previous call (a layer's own).
    algorithm : {"im2col", "rows"}, optional
        Force a form (``"rows"`` needs stride 1); :func:`choose_algorithm` by default.

    Returns
    -------
    y : array (N, OH, OW, F)
        ``y[n, a, b, f] = sum_{i,j,c} x_pad[n, a*sh+i, b*sw+j, c] kernel[i, j, c, f] + bias[f]``.
    cache : ConvCache
    """
    xp = get_array_module(x)
    n, h, w, c = x.shape
    kernel_h, kernel_w, _, filters = kernel.shape
    g = window_geometry(h, w, (kernel_h, kernel_w), strides, padding)
    if (algorithm or choose_algorithm(x, kernel, strides)) == "rows":
        if tuple(strides) != (1, 1):
            raise ValueError(f"the row form of convolution needs stride 1, got {strides}.")
        pads = (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right)
        y, rows = row_conv2d(x, kernel, bias, pads, g.out_h, g.out_w, workspace=workspace)
        return y, ConvCache(None, tuple(x.shape), g, tuple(strides), rows=rows)
    padded = pad_spatial(
        x, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, workspace=workspace, name="input"
    )
    rows, columns = n * g.out_h * g.out_w, kernel_h * kernel_w * c
    window = (kernel_h, kernel_w, *strides, g.out_h, g.out_w)
    weights = xp.reshape(kernel, (columns, filters))
    if bias is not None and xp is np:
        # NumPy: the bias as one more row of the kernel against a column of ones, so the
        # product adds it (a separate pass over the output cost as much as a 3-channel
        # layer's whole product) and the kernel-gradient product sums its gradient.
        shape = (rows, columns + 1)
        if workspace is not None:
            patches = workspace.empty("patches_with_ones", shape, padded)
        else:
            patches = np.empty(shape, dtype=padded.dtype)
        extract_patches_with_ones(padded, tuple(kernel.shape), strides, g, out=patches)
        y = tall_matmul(patches, kernel_with_bias_row(kernel, bias))
        y = xp.reshape(y, (n, g.out_h, g.out_w, filters))
        return y, ConvCache(patches, tuple(x.shape), g, tuple(strides), bias_column=True)
    patches = extract_patches(padded, *window, workspace=workspace)
    patches = xp.reshape(patches, (rows, columns))
    y = tall_matmul(patches, weights)
    if bias is not None:
        y += bias
    y = xp.reshape(y, (n, g.out_h, g.out_w, filters))
    return y, ConvCache(patches, tuple(x.shape), g, tuple(strides))


def conv2d_backward(
    grad_output: Array,
    cache: ConvCache,
    kernel: Array,
    need_input_grad: bool = True,
    workspace: Workspace | None = None,
) -> tuple[Array | None, Array, Array]:
    """Gradients of a convolution w.r.t. its input, kernel and bias.

    Parameters
    ----------
    grad_output : array (N, OH, OW, F)
        ``dL/dy``.
    cache : ConvCache
        From :func:`conv2d_forward`.
    kernel : array (KH, KW, C, F)
    need_input_grad : bool
        Skip ``dL/dx`` (the costliest part) for a model's first layer.
    workspace : Workspace, optional
        Reuse the buffers of the input-gradient computation.

    Returns
    -------
    grad_input : array (N, H, W, C) or None
    grad_kernel : array (KH, KW, C, F)
    grad_bias : array (F,)
    """
    grad_kernel, grad_bias = conv2d_weight_gradients(
        grad_output, cache, tuple(kernel.shape), workspace
    )
    if not need_input_grad:
        return None, grad_kernel, grad_bias
    return conv2d_input_gradient(grad_output, cache, kernel, workspace), grad_kernel, grad_bias


def conv2d_weight_gradients(
    grad_output: Array,
    cache: ConvCache,
    kernel_shape: tuple[int, ...],
    workspace: Workspace | None = None,
) -> tuple[Array, Array]:
    """Kernel and bias gradients: ``dW = P^T @ G`` and ``db = 1^T @ G``.

    Parameters
    ----------
    grad_output : array (N, OH, OW, F)
    cache : ConvCache
    kernel_shape : (KH, KW, C, F)
    workspace : Workspace, optional
        Reuse the shifted-gradient buffer of the row form.

    Returns
    -------
    grad_kernel : array (KH, KW, C, F)
    grad_bias : array (F,)
    """
    xp = get_array_module(grad_output)
    filters = kernel_shape[-1]
    grad_2d = xp.reshape(grad_output, (-1, filters))
    if cache.bias_column:
        both = tall_matmul_transposed(cache.patches, grad_2d)
        return xp.reshape(both[:-1], kernel_shape), both[-1]
    if cache.rows is not None:
        grad_kernel = row_conv2d_kernel_gradient(grad_output, cache.rows, kernel_shape, workspace)
    else:
        grad_kernel = xp.reshape(tall_matmul_transposed(cache.patches, grad_2d), kernel_shape)
    ones = xp.ones((grad_2d.shape[0],), dtype=grad_2d.dtype, device=grad_2d.device)
    grad_bias = ones @ grad_2d
    return grad_kernel, grad_bias


def conv2d_input_gradient(
    grad_output: Array,
    cache: ConvCache,
    kernel: Array,
    workspace: Workspace | None = None,
) -> Array:
    """``dL/dx``: the full correlation with the flipped kernel (stride 1) or col2im.

    Parameters
    ----------
    grad_output : array (N, OH, OW, F)
    cache : ConvCache
    kernel : array (KH, KW, C, F)
    workspace : Workspace, optional

    Returns
    -------
    array (N, H, W, C)
    """
    xp = get_array_module(grad_output)
    n, h, w, c = cache.input_shape
    kernel_h, kernel_w, _, filters = kernel.shape
    g = cache.geometry
    if cache.strides == (1, 1):
        if xp is np:  # the row form: faster for every stride-1 layer measured
            pads = (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right)
            return row_conv2d_input_gradient(
                grad_output, kernel, cache.input_shape, pads, workspace
            )
        return _input_grad_stride1(grad_output, kernel, g, workspace)
    grad_2d = xp.reshape(grad_output, (n * g.out_h * g.out_w, filters))
    patch_grads = grad_2d @ xp.reshape(kernel, (kernel_h * kernel_w * c, filters)).T
    patch_grads = xp.reshape(patch_grads, (n, g.out_h, g.out_w, kernel_h, kernel_w, c))
    padded_h = h + g.pad_top + g.pad_bottom
    padded_w = w + g.pad_left + g.pad_right
    grad_padded = scatter_patches(patch_grads, padded_h, padded_w, *cache.strides)
    return grad_padded[:, g.pad_top : g.pad_top + h, g.pad_left : g.pad_left + w, :]


def _input_grad_stride1(
    grad_output: Array, kernel: Array, g: WindowGeometry, workspace: Workspace | None = None
) -> Array:
    """dL/dx for stride 1 as a 'full' correlation of dL/dy with the flipped kernel.

    ``dx[n, p, q, c] = sum_{i,j,f} dy_pad[n, p + i, q + j, f] * kernel[KH-1-i, KW-1-j, c, f]``
    where ``dy`` is padded by ``KH-1-pad_top`` rows on top, ``KH-1-pad_bottom`` below (and
    likewise for columns), which makes the result exactly ``H x W``.
    """
    xp = get_array_module(grad_output)
    n, _, _, filters = grad_output.shape
    kernel_h, kernel_w, channels, _ = kernel.shape
    padded = pad_spatial(
        grad_output,
        kernel_h - 1 - g.pad_top,
        kernel_h - 1 - g.pad_bottom,
        kernel_w - 1 - g.pad_left,
        kernel_w - 1 - g.pad_right,
        workspace=workspace,
        name="grad_output",
    )
    in_h = padded.shape[1] - kernel_h + 1
    in_w = padded.shape[2] - kernel_w + 1
    patches = extract_patches(
        padded, kernel_h, kernel_w, 1, 1, in_h, in_w, workspace=workspace, name="grad_patches"
    )
    patches = xp.reshape(patches, (n * in_h * in_w, kernel_h * kernel_w * filters))
    flipped = xp.permute_dims(xp.flip(kernel, axis=(0, 1)), (0, 1, 3, 2))
    grad_input = tall_matmul(
        patches, xp.reshape(flipped, (kernel_h * kernel_w * filters, channels))
    )
    return xp.reshape(grad_input, (n, in_h, in_w, channels))
