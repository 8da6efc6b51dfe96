"""NumPy-only fast paths compute what the generic Array-API code computes."""

from __future__ import annotations

import numpy as np
import pytest

from scratch_cnn.functional import activations
from scratch_cnn.functional.gemm import block_rows, tall_matmul, tall_matmul_transposed

xps = pytest.importorskip("array_api_strict")


def generic(function, *arrays):
    """Run ``function`` on the strict namespace (the generic code path), back to NumPy."""
    converted = [xps.asarray(array) for array in arrays]
    return np.asarray(function(*converted))


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-6), ("float64", 1e-14)])
def test_sigmoid_and_tanh_fast_paths_match_the_generic_code(rng, dtype, rtol):
    x = (rng.normal(size=(64, 33)) * 6).astype(dtype)
    x[0, :5] = [-1000.0, -90.0, 0.0, 90.0, 1000.0]
    dy = rng.normal(size=x.shape).astype(dtype)
    # Below -88 (float32) the fast path returns 0 where the generic one keeps a subnormal.
    np.testing.assert_allclose(
        activations.sigmoid_forward(x),
        generic(activations.sigmoid_forward, x),
        rtol=rtol,
        atol=np.finfo(dtype).tiny,
    )
    y = np.tanh(x)
    np.testing.assert_allclose(
        activations.tanh_backward(dy, x, y),
        generic(activations.tanh_backward, dy, x, y),
        rtol=rtol,
        atol=10 * np.finfo(dtype).eps,
    )


@pytest.mark.parametrize(
    "m, k, n",
    [(4096, 200, 8), (4100, 27, 32), (5000, 288, 32), (777, 180, 20), (300, 800, 64), (40, 9, 3)],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocked_products_match_the_plain_ones(rng, m, k, n, dtype):
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    g = rng.normal(size=(m, n)).astype(dtype)
    rtol = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(tall_matmul(a, b), a @ b, rtol=rtol, atol=rtol * np.sqrt(k))
    np.testing.assert_allclose(
        tall_matmul_transposed(a, g), a.T @ g, rtol=rtol, atol=rtol * np.sqrt(m)
    )


def test_block_rows_keep_blocks_within_the_small_matrix_kernel():
    assert block_rows(200, 8) == 256
    assert block_rows(288, 32) == 64
    assert block_rows(800, 64) is None
    for inner, columns in [(200, 8), (27, 32), (180, 20), (288, 32), (76, 96)]:
        assert block_rows(inner, columns) * inner * columns <= 1_000_000
