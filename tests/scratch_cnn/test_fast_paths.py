"""NumPy-only fast paths compute what the generic Array-API code computes."""

from __future__ import annotations

import numpy as np
import pytest

from scratch_cnn import parallel
from scratch_cnn.functional import activations, gemm
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
    # Blocks forced on: this machine's BLAS may not be one that the default uses them for.
    np.testing.assert_allclose(
        tall_matmul(a, b, blocked=True), a @ b, rtol=rtol, atol=rtol * np.sqrt(k)
    )
    np.testing.assert_allclose(
        tall_matmul_transposed(a, g, blocked=True), a.T @ g, rtol=rtol, atol=rtol * np.sqrt(m)
    )


@pytest.mark.parametrize("core", ["skylakex", "haswell"])
@pytest.mark.parametrize(
    "inner, columns, blocked_elsewhere",
    # (76, 96): blocks of 64 rows, partial sums 1.5x P; (10, 32): 1024 rows, 1/32 of P.
    [(76, 96, False), (10, 32, True)],
)
def test_weight_gradient_blocks_follow_the_blas_core(
    monkeypatch, core, inner, columns, blocked_elsewhere
):
    monkeypatch.setattr(parallel, "blas_architecture", lambda: core)
    gemm.has_direct_kernel.cache_clear()
    calls = []
    real_matmul = np.matmul

    def spy(*args, **kwargs):
        calls.append(args[0].ndim)
        return real_matmul(*args, **kwargs)

    try:
        assert gemm.has_direct_kernel() is (core == "skylakex")
        a = np.ones((8192, inner), np.float32)
        monkeypatch.setattr(gemm.np, "matmul", spy)
        tall_matmul_transposed(a, np.ones((8192, columns), np.float32))
        # A blocked product goes through numpy.matmul on a 3-D stack of blocks.
        assert (3 in calls) is (core == "skylakex" or blocked_elsewhere)
        calls.clear()
        tall_matmul(a, np.ones((inner, columns), np.float32))
        assert 3 in calls  # forward products are blocked on every core
    finally:
        monkeypatch.undo()
        gemm.has_direct_kernel.cache_clear()


def test_block_rows_keep_blocks_within_the_small_matrix_kernel():
    assert block_rows(200, 8) == 256
    assert block_rows(288, 32) == 64
    assert block_rows(800, 64) is None
    for inner, columns in [(200, 8), (27, 32), (180, 20), (288, 32), (76, 96)]:
        assert block_rows(inner, columns) * inner * columns <= 1_000_000


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [100, activations.ZERO_ROW_LENGTH * 3 + 1234])
def test_relu_fast_paths_give_the_generic_bits(rng, dtype, size):
    # Sizes below and above the zero row's length, the latter with a remainder.
    x = rng.normal(size=size).astype(dtype)
    x[:6] = [-0.0, 0.0, np.nan, -np.inf, np.inf, -1e-40]
    dy = rng.normal(size=size).astype(dtype)
    dy[6:8] = [np.inf, -np.inf]
    y = activations.relu_forward(x)
    expected_y = generic(activations.relu_forward, x)
    assert y.dtype == expected_y.dtype
    np.testing.assert_array_equal(y.view(f"u{y.itemsize}"), expected_y.view(f"u{y.itemsize}"))
    with np.errstate(invalid="ignore"):  # inf * 0 in both mask products
        dx = activations.relu_backward(dy, x, y)
        expected_dx = generic(activations.relu_backward, dy, x, y)
    np.testing.assert_array_equal(dx.view(f"u{dx.itemsize}"), expected_dx.view(f"u{dx.itemsize}"))
