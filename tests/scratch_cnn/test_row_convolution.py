"""The row form of convolution (scratch_cnn.functional.row_convolution) against im2col."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc
from scratch_cnn.functional.convolution import (
    _input_grad_stride1,
    choose_algorithm,
    conv2d_forward,
    conv2d_input_gradient,
    conv2d_weight_gradients,
)
from scratch_cnn.functional.workspace import Workspace

CASES = [
    ((7, 6, 3), (3, 3), "valid"),
    ((7, 6, 3), (3, 3), "same"),
    ((6, 6, 2), (2, 2), "same"),  # even kernel: padding only at the bottom/right
    ((9, 8, 4), (5, 5), "same"),
    ((9, 8, 4), (5, 3), "valid"),
    ((5, 5, 2), (5, 5), "valid"),  # kernel as large as the input
    ((3, 4, 2), (5, 5), "same"),  # kernel larger than the input
]


def close(actual, desired, bound, err_msg=""):
    """Equal within ``bound`` times the result's scale (at least 1).

    Two summation orders of a float32 sum of 100 products of size ~20 differ by a few
    ulps of 20 (1.9e-6 each), which a plain absolute 1e-5 does not always hold (seen with
    the OpenBLAS kernels of an AMD EPYC).
    """
    scale = max(1.0, float(np.abs(desired).max()))
    np.testing.assert_allclose(actual, desired, rtol=0, atol=bound * scale, err_msg=err_msg)


@pytest.mark.parametrize(("shape", "kernel", "padding"), CASES)
@pytest.mark.parametrize("dtype, bound", [("float64", 1e-10), ("float32", 1e-5)])
def test_row_form_matches_im2col_in_every_direction(rng, shape, kernel, padding, dtype, bound):
    x = rng.normal(size=(4, *shape)).astype(dtype)
    w = rng.normal(size=(*kernel, shape[2], 5)).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    y_cols, cols = conv2d_forward(x, w, b, (1, 1), padding, algorithm="im2col")
    workspace = Workspace()
    for _ in range(2):  # the second call reuses the workspace's buffers
        y_rows, rows = conv2d_forward(x, w, b, (1, 1), padding, workspace, algorithm="rows")
        dy = rng.normal(size=y_rows.shape).astype(dtype)
        close(y_rows, y_cols, bound)
        for name, a, b_ in zip(
            ("kernel", "bias"),
            conv2d_weight_gradients(dy, rows, w.shape, workspace),
            conv2d_weight_gradients(dy, cols, w.shape),
            strict=True,
        ):
            close(a, b_, bound * 10, err_msg=name)
        reference = _input_grad_stride1(dy, w, cols.geometry)
        close(conv2d_input_gradient(dy, rows, w, workspace), reference, bound)


def test_row_form_runs_on_the_strict_array_api_namespace(rng):
    xps = pytest.importorskip("array_api_strict")
    x = rng.normal(size=(2, 6, 5, 3))
    w = rng.normal(size=(3, 3, 3, 4))
    y_np, _ = conv2d_forward(x, w, None, (1, 1), "same", algorithm="rows")
    y_strict, cache = conv2d_forward(
        xps.asarray(x), xps.asarray(w), None, (1, 1), "same", algorithm="rows"
    )
    np.testing.assert_allclose(np.asarray(y_strict), y_np, rtol=1e-12, atol=1e-12)
    dy = rng.normal(size=y_np.shape)
    grad_kernel, _ = conv2d_weight_gradients(xps.asarray(dy), cache, w.shape)
    _, cols = conv2d_forward(x, w, None, (1, 1), "same", algorithm="im2col")
    np.testing.assert_allclose(
        np.asarray(grad_kernel), conv2d_weight_gradients(dy, cols, w.shape)[0], atol=1e-11
    )


def test_the_row_form_is_chosen_only_where_it_was_measured_faster():
    x = np.zeros((2, 8, 8, 8), np.float32)
    first = np.zeros((3, 3, 3, 32), np.float32)  # 3 channels: im2col
    assert choose_algorithm(np.zeros((2, 8, 8, 3)), first, (1, 1)) == "im2col"
    assert choose_algorithm(x, np.zeros((5, 5, 8, 8)), (1, 1)) == "rows"  # numpy_cnn conv 2
    assert choose_algorithm(x, np.zeros((3, 3, 8, 32)), (1, 1)) == "im2col"  # lenet2 conv 2
    assert choose_algorithm(x, np.zeros((5, 5, 8, 64)), (1, 1)) == "rows"  # lenet5 conv 2
    assert choose_algorithm(x, np.zeros((5, 5, 8, 8)), (2, 2)) == "im2col"  # strided


def test_gradient_check_through_row_form_layers(rng):
    model = sc.Sequential(
        [
            sc.Input((7, 6, 2)),
            sc.Conv2D(8, 3, padding="same", activation="tanh"),
            sc.Conv2D(6, 5, padding="same", activation="elu"),  # 8 channels, 5x5: rows
            sc.Conv2D(4, 3, activation="sigmoid"),  # 6 channels: im2col forward
            sc.Flatten(),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=4,
    )
    assert model.layers[1]._workspace is not None
    result = sc.gradient_check(model, rng.normal(size=(3, 7, 6, 2)), rng.integers(0, 3, 3))
    assert result.max_error < 1e-7, f"\n{result}"
