"""The matrix products of convolution, shaped for the BLAS that does them.

A convolution's products are tall and thin: ``P @ W`` with ``P`` of ``M = N*OH*OW`` rows
and ``W`` of only ``F`` columns (8 to 64 in the catalog), and ``P^T @ G`` with the same
tall ``P``. For such shapes a BLAS copies ("packs") all of ``P`` into its own blocked
layout before multiplying, and with so few columns the copy costs as much as the
arithmetic: OpenBLAS reaches 15-20 GFLOP/s on one core for ``(51200, 200) @ (200, 8)``
against about 90 for square products.

OpenBLAS's AVX-512 cores (SkylakeX, Cooperlake, Sapphire Rapids) multiply small matrices
(``m*n*k`` up to about a million) with a "direct" kernel that reads its operands in place,
without packing (products just above that are as slow as unblocked ones, e.g. 65536 x 76
x 32 in blocks of 256 rows: 3.0 ms, of 512: 5.5). So on those cores the tall product is
done as a stack of row blocks small enough for that kernel, one ``numpy.matmul`` call over
the stack (NumPy loops over it in C), and the weight gradient as the sum of the blocks'
``P_b^T @ G_b``. Measured on one core of an AVX-512 Xeon (ms, float32)::

    shape (M, K, N)        P @ W: whole  blocks   P^T @ G: whole  blocks
    51200 x 200 x 8               9.6     6.2               13.5     6.4
    86528 x 180 x 20             17.4    11.3               19.0    13.4
    131072 x 27 x 32              3.4     2.2                5.0     2.8
    32768 x 288 x 32             10.7     8.7               11.0    (64 rows)
    25088 x 800 x 64             33.4    (no blocks: k*n too large for the kernel)

Other cores (OpenBLAS's ``Haswell`` kernels for AVX2, AMD's Zen included) pack every
block like a whole product. There the forward product keeps its blocks (for the widest
first layer, 65536 x 76 x 96, two at once took 17.3-18.3 ms in blocks against 19.4-20.4
whole; the narrower shapes measured within noise of each other), but the weight
gradient's blocks cost more than they save once the stack of per-block ``K x N`` partial
sums is large: for 65536 x 76 x 96
(vgg_b's first layer on 64 images) the stack is 1.5 times the size of ``P`` itself. So on
those cores :func:`tall_matmul_transposed` uses blocks only while the stack is at most
:data:`MAX_PARTIAL_SUMS_SHARE` of ``P``. Measured on an AMD EPYC, two such products at
once on the two cores (as the batch shards run them; ms, float32, medians of 11, one run)::

    shape (M, K, N)    P^T @ G: whole  blocks   stack / P    default
    65536 x 76 x 96              15.5    23.2        1.5        whole
    65536 x 76 x 32               9.6     9.9        0.125      whole
    65536 x 28 x 64               6.4     7.2        0.25       whole
    65536 x 28 x 32               4.3     4.1        0.0625     blocks
    50176 x 10 x 32               3.1     2.1        0.03       blocks

and vgg_b's first layer, forward and weight gradient with ReLU, batch 128 in two shards:
66.5 ms with blocked weight gradients, 55.3 ms with whole ones (interleaved runs, medians).

Other array libraries (CuPy, the strict Array API namespace) get the plain products.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from scratch_cnn import parallel

Array = Any

#: Largest ``m*n*k`` of a block. OpenBLAS's unpacked small-matrix kernel takes products
#: up to about a million; within that, blocks of 0.4-0.6 million were fastest on every
#: shape of the catalog measured (e.g. 65536 x 76 x 96: 10.9 ms in blocks of 64 rows,
#: 12.7 in blocks of 128 or unblocked).
SMALL_PRODUCT = 640_000
#: Row blocks between these sizes (powers of two); fewer rows cost more in calls.
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 32, 1024


#: OpenBLAS cores with the direct (unpacked) small-matrix kernel.
DIRECT_KERNEL_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
#: On other cores, the weight gradient's row blocks are used while their partial sums
#: (``K x N`` per block) take at most this share of the size of ``P``.
MAX_PARTIAL_SUMS_SHARE = 1 / 16


@cache
def has_direct_kernel() -> bool:
    """Whether NumPy's BLAS has the direct small-matrix kernel that row blocks are for.

    Read once per process from OpenBLAS's core name
    (:func:`scratch_cnn.parallel.blas_architecture`).
    """
    return parallel.blas_architecture() in DIRECT_KERNEL_CORES


def block_rows(inner: int, columns: int) -> int | None:
    """Rows per block for a ``(rows, inner) @ (inner, columns)`` product, or None.

    The largest power of two from 32 to 1024 that keeps a block within
    :data:`SMALL_PRODUCT`; None when even 32 rows would not.
    """
    rows = MAX_BLOCK_ROWS
    while rows >= MIN_BLOCK_ROWS:
        if rows * inner * columns <= SMALL_PRODUCT:
            return rows
        rows //= 2
    return None


def _blocked(
    a: Array, inner: int, columns: int, blocked: bool | None, partial_sums: bool = False
) -> int | None:
    if blocked is False or not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
        return None
    rows = block_rows(inner, columns)
    if rows is None or a.shape[0] < 2 * rows:
        return None
    if blocked is None and partial_sums and not has_direct_kernel():
        # Each block leaves an (inner, columns) partial sum: columns / rows of P's size.
        if columns > MAX_PARTIAL_SUMS_SHARE * rows:
            return None
    return rows


def tall_matmul(a: Array, b: Array, blocked: bool | None = None) -> Array:
    """``a @ b`` for a tall ``a`` (M, K) and a small ``b`` (K, N).

    Parameters
    ----------
    a : array (M, K)
    b : array (K, N)
    blocked : bool, optional
        Force row blocks on or off; by default they are used where :func:`block_rows`
        finds a block size.

    Returns
    -------
    array (M, N)
    """
    rows = _blocked(a, a.shape[1], b.shape[1], blocked)
    if rows is None:
        return a @ b
    m, k = a.shape
    n = b.shape[1]
    whole = m - m % rows
    out = np.empty((m, n), dtype=np.result_type(a, b))
    np.matmul(a[:whole].reshape(-1, rows, k), b, out=out[:whole].reshape(-1, rows, n))
    if whole < m:
        np.matmul(a[whole:], b, out=out[whole:])
    return out


def tall_matmul_transposed(a: Array, g: Array, blocked: bool | None = None) -> Array:
    """``a.T @ g`` for tall ``a`` (M, K) and ``g`` (M, N): a sum over the M rows.

    Parameters
    ----------
    a : array (M, K)
    g : array (M, N)
    blocked : bool, optional
        Force row blocks on or off; by default as :func:`tall_matmul` does, except that
        on cores without the direct kernel blocks are used only while their partial sums
        stay small (:data:`MAX_PARTIAL_SUMS_SHARE`).

    Returns
    -------
    array (K, N)
    """
    rows = _blocked(a, a.shape[1], g.shape[1], blocked, partial_sums=True)
    if rows is None or not g.flags.c_contiguous:
        return a.T @ g
    m, k = a.shape
    n = g.shape[1]
    whole = m - m % rows
    blocks = np.matmul(
        a[:whole].reshape(-1, rows, k).transpose(0, 2, 1), g[:whole].reshape(-1, rows, n)
    )
    total = blocks.sum(axis=0)
    if whole < m:
        total += a[whole:].T @ g[whole:]
    return total
