"""im2col's NumPy fast path: windows copied as opaque runs (scratch_cnn.functional.im2col)."""

from __future__ import annotations

import numpy as np
import pytest

from scratch_cnn.functional.im2col import extract_patches, window_row_items, window_rows


def reference_patches(padded, kernel_h, kernel_w, stride_h, stride_w, out_h, out_w):
    """``patches[n, a, b, i, j, c] = padded[n, a*sh + i, b*sw + j, c]``, one value at a time."""
    n, _, _, c = padded.shape
    patches = np.empty((n, out_h, out_w, kernel_h, kernel_w, c), padded.dtype)
    for a in range(out_h):
        for b in range(out_w):
            for i in range(kernel_h):
                for j in range(kernel_w):
                    patches[:, a, b, i, j] = padded[:, a * stride_h + i, b * stride_w + j]
    return patches


GEOMETRIES = [
    # (padded N, Hp, Wp, C), kernel (KH, KW), strides
    ((3, 9, 9, 3), (5, 5), (1, 1)),  # vgg_b's first layer in small
    ((2, 8, 7, 1), (3, 3), (1, 1)),  # one channel: runs of 3 values
    ((2, 9, 10, 4), (3, 2), (2, 3)),  # strided, a non-square kernel
    ((4, 6, 6, 32), (3, 3), (1, 1)),  # many channels
    ((1, 5, 5, 2), (1, 1), (1, 1)),  # 1x1: runs of one pixel
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shape", "kernel", "strides"), GEOMETRIES)
def test_patches_match_the_definition(rng, dtype, shape, kernel, strides):
    padded = rng.normal(size=shape).astype(dtype)
    out_h = (shape[1] - kernel[0]) // strides[0] + 1
    out_w = (shape[2] - kernel[1]) // strides[1] + 1
    expected = reference_patches(padded, *kernel, *strides, out_h, out_w)
    patches = extract_patches(padded, *kernel, *strides, out_h, out_w)
    np.testing.assert_array_equal(patches, expected)
    # the same through the window-row items, as the ReLU tiles cut them (images 1:)
    source = window_rows(padded, *kernel, *strides, out_h, out_w)
    out = np.zeros_like(expected[1:])
    np.copyto(window_row_items(out), source[1:])
    np.testing.assert_array_equal(out, expected[1:])
    # into a tile's patch columns: a 2-D buffer (rows, KH*KW*C) beside a column of ones
    rows, width = expected[1:].shape[0] * out_h * out_w, expected[0, 0, 0].size
    columns = np.full((rows, width + 1), -1.0, dtype)
    np.copyto(window_row_items(columns[:, :-1], expected[1:].shape), source[1:])
    np.testing.assert_array_equal(columns[:, :-1], expected[1:].reshape(rows, width))
    assert (columns[:, -1] == -1.0).all()  # the column beside them untouched


def test_inputs_without_contiguous_window_rows_take_the_general_copy(rng):
    # Channels strided (every other value of a wider array): a window row is not one run,
    # so there is no item view, and the sliding-window copy still gives the right patches.
    wide = rng.normal(size=(2, 7, 7, 6))
    padded = wide[..., ::2]
    assert window_rows(padded, 3, 3, 1, 1, 5, 5) is None
    expected = reference_patches(padded, 3, 3, 1, 1, 5, 5)
    np.testing.assert_array_equal(extract_patches(padded, 3, 3, 1, 1, 5, 5), expected)
    # into a float32 buffer: no byte copy between dtypes, converted values instead
    out = np.empty(expected.shape, np.float32)
    extract_patches(padded.copy(), 3, 3, 1, 1, 5, 5, out=out)
    np.testing.assert_array_equal(out, expected.astype(np.float32))
