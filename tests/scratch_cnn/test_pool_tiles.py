"""A ReLU convolution and the 2x2 max pooling after it, run in the same tiles, compute
exactly what the two layers compute one after the other."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc
from scratch_cnn import parallel
from scratch_cnn.functional import conv_relu_tiles
from scratch_cnn.functional.conv_relu_tiles import (
    conv2d_relu_forward,
    conv2d_relu_weight_gradients,
)
from scratch_cnn.functional.convolution import conv2d_input_gradient
from scratch_cnn.functional.pool_tiles import POSITIVE, TOP, pools_in_tiles
from scratch_cnn.functional.pooling import max_pool2d_backward, max_pool2d_forward
from scratch_cnn.layers import Conv2D

CASES = [
    # (input HWC, kernel, filters, padding, keep_patches, need_input_grad)
    ((12, 12, 3), 5, 16, "same", None, False),  # a first layer, patches cut again
    ((12, 12, 2), 3, 8, "same", None, False),  # patches kept
    ((10, 10, 8), 3, 12, "same", None, True),  # with the input gradient
    ((10, 10, 5), 3, 7, "valid", True, True),  # 8x8 output
]


def quantized(rng, shape, dtype):
    """Values on a coarse grid, so that windows have ties at positive maxima."""
    return (rng.integers(-3, 4, size=shape) * 0.5).astype(dtype)


def layers_apart(x, kernel, bias, padding, grad_pooled, keep, need_input_grad):
    """The convolution's ReLU tiles, then the pooling layer's functions."""
    y, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), padding, keep_patches=keep)
    pooled, pool_cache = max_pool2d_forward(y, (2, 2), (2, 2), "valid")
    grad_y = max_pool2d_backward(grad_pooled, pool_cache)
    grad_kernel, grad_bias, grad_z = conv2d_relu_weight_gradients(
        grad_y, cache, keep_grad_z=need_input_grad
    )
    return pooled, grad_kernel, grad_bias, grad_z


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("tile_bytes", [1, 20_000, 2**30])  # 1 image, several, one tile
@pytest.mark.parametrize(
    ("shape", "kernel_size", "filters", "padding", "keep", "need_input_grad"), CASES
)
def test_pooling_in_tiles_equals_the_two_layers(
    rng, monkeypatch, dtype, tile_bytes, shape, kernel_size, filters, padding, keep, need_input_grad
):
    monkeypatch.setattr(conv_relu_tiles, "TILE_BYTES", tile_bytes)
    x = quantized(rng, (5, *shape), dtype)
    kernel = quantized(rng, (kernel_size, kernel_size, shape[2], filters), dtype)
    bias = quantized(rng, (filters,), dtype)
    y, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), padding, keep_patches=keep, pool=True)
    grad_pooled = rng.normal(size=y.shape).astype(dtype)
    expected = layers_apart(x, kernel, bias, padding, grad_pooled, keep, need_input_grad)
    planes = cache.routes
    # the data must exercise what could go wrong: ties at positive maxima, zero windows
    out_h = y.shape[1] * 2
    z = np.asarray(conv2d_relu_forward(x, kernel, bias, (1, 1), padding, relu=False)[0])
    windows = z.reshape(5, out_h // 2, 2, -1, 2, filters)
    maxima = windows.max(axis=(2, 4), keepdims=True)
    ties = ((windows == maxima).sum(axis=(2, 4)) > 1) & (maxima[:, :, 0, :, 0] > 0)
    assert ties.any() and not planes[POSITIVE].all() and planes[TOP].any()

    grad_kernel, grad_bias, grad_z = conv2d_relu_weight_gradients(
        grad_pooled, cache, keep_grad_z=need_input_grad
    )
    assert y.shape == expected[0].shape
    # the same values, not close ones: every gradient takes the same single route
    np.testing.assert_array_equal(y, expected[0])
    np.testing.assert_array_equal(grad_kernel, expected[1])
    np.testing.assert_array_equal(grad_bias, expected[2])
    if need_input_grad:
        np.testing.assert_array_equal(grad_z, expected[3])
        np.testing.assert_array_equal(
            conv2d_input_gradient(grad_z, cache.conv, kernel),
            conv2d_input_gradient(expected[3], cache.conv, kernel),
        )
    else:
        assert grad_z is None


def test_the_first_maximum_in_row_major_order_takes_the_gradient():
    # One window [[a, b], [c, d]] per filter: b == c is the maximum, a is not (a
    # column-first tournament would pick c), and a window of zeros and negatives.
    values = np.array([[1.0, 3.0], [3.0, 2.0]])
    x = np.zeros((1, 2, 2, 1))
    x[0, :, :, 0] = values
    kernel = np.ones((1, 1, 1, 2))
    kernel[..., 1] = -1.0
    bias = np.zeros(2)
    y, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), "valid", pool=True)
    np.testing.assert_array_equal(y.reshape(2), [3.0, 0.0])
    _, _, grad_z = conv2d_relu_weight_gradients(np.array([[[[5.0, 7.0]]]]), cache, keep_grad_z=True)
    np.testing.assert_array_equal(grad_z[0, :, :, 0], [[0.0, 5.0], [0.0, 0.0]])
    np.testing.assert_array_equal(grad_z[0, :, :, 1], np.zeros((2, 2)))  # max(-x) <= 0


def test_pooling_in_tiles_refuses_what_it_cannot_do(rng):
    x = rng.normal(size=(2, 7, 7, 3))
    kernel, bias = rng.normal(size=(3, 3, 3, 4)), np.zeros(4)
    assert pools_in_tiles(8, 6) and not pools_in_tiles(7, 8) and not pools_in_tiles(8, 5)
    with pytest.raises(ValueError, match="even height and width"):
        conv2d_relu_forward(x, kernel, bias, (1, 1), "same", pool=True)  # 7x7
    with pytest.raises(ValueError, match="needs the ReLU"):
        conv2d_relu_forward(x[:, :6, :6], kernel, bias, (1, 1), "same", relu=False, pool=True)
    _, cache = conv2d_relu_forward(x[:, :6, :6], kernel, bias, (1, 1), "same", pool=True)
    with pytest.raises(ValueError, match=r"output gradient has shape \(2, 6, 6, 4\)"):
        conv2d_relu_weight_gradients(np.ones((2, 6, 6, 4)), cache)


def stack(pool_size=2, strides=None, activation="relu", pooling=sc.MaxPooling2D, side=12):
    return sc.Sequential(
        [
            sc.Input((side, side, 3)),
            sc.Conv2D(6, 3, padding="same", activation=activation),
            pooling(pool_size, strides),
            sc.Conv2D(8, 3, padding="same", activation="relu"),
            pooling(pool_size, strides),
            sc.Flatten(),
            sc.Dense(4, activation="softmax"),
        ],
        dtype="float64",
        seed=5,
    )


def test_which_pairs_run_as_one(rng):
    x = rng.normal(size=(2, 12, 12, 3))
    model = stack()
    conv, pool = model.layers[0], model.layers[1]
    assert conv.pools_in_tiles(x, pool)
    assert not conv.pools_in_tiles(x, model.layers[2])  # not a pooling
    assert not conv.pools_in_tiles(x, None)
    assert not stack(pool_size=3).layers[0].pools_in_tiles(x, stack(pool_size=3).layers[1])
    overlapping = stack(strides=1)
    assert not overlapping.layers[0].pools_in_tiles(x, overlapping.layers[1])
    average = stack(pooling=sc.AveragePooling2D)
    assert not average.layers[0].pools_in_tiles(x, average.layers[1])
    tanh = stack(activation="tanh")
    assert not tanh.layers[0].pools_in_tiles(x, tanh.layers[1])
    odd = stack(side=11)
    odd_x = rng.normal(size=(2, 11, 11, 3))
    assert not odd.layers[0].pools_in_tiles(odd_x, odd.layers[1])
    conv.keep_preactivation = True
    assert not conv.pools_in_tiles(x, pool)
    with pytest.raises(ValueError, match="cannot run"):
        conv.forward(x, training=True, pooling=pool)


@pytest.mark.parametrize("shards", [1, 2])
def test_a_model_trains_the_same_with_and_without_pooling_in_tiles(rng, monkeypatch, shards):
    """Weights after three optimizer steps, both pairs fused or none (and in shards)."""
    monkeypatch.setattr(parallel, "shard_count", lambda batch, work, min_work=0: shards)
    x = quantized(rng, (16, 12, 12, 3), "float64")
    y = np.eye(4)[rng.integers(0, 4, 16)]
    weights, predictions = [], []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(Conv2D, "pools_in_tiles", lambda self, x, following: False)
        model = stack()
        model.compile("adam")
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        model.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
        predictions.append(model.predict(x))  # inference runs the pairs in tiles too
        pools = [layer for layer in model.layers if isinstance(layer, sc.MaxPooling2D)]
        assert [pool.absorbed for pool in pools] == [fused, fused]
    for fused, apart in zip(*weights, strict=True):
        np.testing.assert_array_equal(fused, apart)
    np.testing.assert_array_equal(*predictions)


def test_gradient_check_through_pooling_in_tiles(rng):
    model = stack()
    model.compile("sgd")
    x = rng.normal(size=(3, 12, 12, 3))
    model.forward(x, training=True)
    assert all(layer.absorbed for layer in model.layers if isinstance(layer, sc.MaxPooling2D))
    result = sc.gradient_check(model, x, np.array([0, 1, 3]))
    assert len(result.errors) == 6  # three kernels and three biases
    assert result.max_error < 1e-6, f"\n{result}"
