"""A ReLU convolution in tiles of images computes what the untiled passes compute."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc
from scratch_cnn.functional import conv_relu_tiles
from scratch_cnn.functional.activations import relu_backward, relu_forward
from scratch_cnn.functional.conv_relu_tiles import (
    conv2d_relu_backward,
    conv2d_relu_forward,
    conv2d_relu_weight_gradients,
    images_per_tile,
    uses_relu_tiles,
)
from scratch_cnn.functional.convolution import choose_algorithm, conv2d_backward, conv2d_forward
from scratch_cnn.functional.workspace import Workspace

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def untiled(x, kernel, bias, grad_output, strides, padding, need_input_grad):
    z, cache = conv2d_forward(x, kernel, bias, strides, padding, algorithm="im2col")
    y = relu_forward(z)
    grad_z = relu_backward(grad_output, z, y)
    return y, conv2d_backward(grad_z, cache, kernel, need_input_grad=need_input_grad)


def assert_close(actual, expected, dtype):
    if expected is None:
        assert actual is None
        return
    tolerance = TOLERANCE[dtype]
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


CASES = [
    # (input HWC, kernel, filters, strides, padding, keep_patches, need_input_grad)
    ((12, 12, 2), 5, 16, (1, 1), "same", None, False),  # a 2-channel first layer: kept
    ((12, 12, 3), 5, 16, (1, 1), "same", None, False),  # 3 channels: patches cut again
    ((12, 12, 3), 3, 16, (1, 1), "same", True, True),  # kept, with the input gradient
    ((12, 12, 1), 3, 16, (1, 1), "same", False, True),  # 1 channel, patches cut again
    ((10, 9, 8), 3, 30, (1, 1), "same", None, True),  # patches cut again
    ((10, 9, 8), 3, 30, (1, 1), "valid", True, True),
    ((11, 10, 4), 3, 6, (2, 2), "same", None, True),  # stride 2: col2im input gradient
    ((11, 10, 9), (2, 3), 5, (2, 1), "valid", None, False),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("tile_bytes", [1, 20_000, 2**30])  # 1 image, several, one tile
@pytest.mark.parametrize(
    ("shape", "kernel_size", "filters", "strides", "padding", "keep", "need_input_grad"), CASES
)
def test_tiles_match_the_untiled_passes(
    rng, monkeypatch, dtype, tile_bytes, shape, kernel_size, filters, strides, padding, keep,
    need_input_grad,
):  # fmt: skip
    monkeypatch.setattr(conv_relu_tiles, "TILE_BYTES", tile_bytes)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    x = rng.normal(size=(7, *shape)).astype(dtype)  # 7 images: a last, shorter tile
    kernel = (rng.normal(size=(kh, kw, shape[2], filters)) * 0.3).astype(dtype)
    bias = rng.normal(size=filters).astype(dtype)
    z, _ = conv2d_forward(x, kernel, bias, strides, padding, algorithm="im2col")
    grad_output = rng.normal(size=z.shape).astype(dtype)
    y_expected, grads_expected = untiled(
        x, kernel, bias, grad_output, strides, padding, need_input_grad
    )
    workspace = Workspace()
    for _ in range(2):  # the second step reuses the workspace's buffers
        y, cache = conv2d_relu_forward(
            x, kernel, bias, strides, padding, workspace=workspace, keep_patches=keep
        )
        grads = conv2d_relu_backward(grad_output, cache, kernel, need_input_grad, workspace)
        assert y.dtype == np.dtype(dtype) and y.shape == y_expected.shape
        assert_close(y, y_expected, dtype)
        for actual, expected in zip(grads, grads_expected, strict=True):
            assert_close(actual, expected, dtype)


def test_tiles_of_an_input_of_another_dtype(rng):
    # A float32 input under a float64 kernel: the patches are float64, so the windows
    # cannot be copied as opaque runs of the input's bytes and take the converting copy.
    x = rng.normal(size=(5, 8, 8, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 3, 4))
    bias = rng.normal(size=4)
    grad_output = rng.normal(size=(5, 8, 8, 4))
    y_expected, grads_expected = untiled(
        x.astype(np.float64), kernel, bias, grad_output, (1, 1), "same", True
    )
    for keep in (True, False):
        y, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), "same", keep_patches=keep)
        grads = conv2d_relu_backward(grad_output, cache, kernel, True)
        assert y.dtype == np.float64
        assert_close(y, y_expected, "float64")
        for actual, expected in zip(grads, grads_expected, strict=True):
            assert_close(actual, expected, "float64")


def test_no_gradient_passes_the_kink(rng):
    # Zero images and a zero bias give pre-activations of exactly 0: TensorFlow's ReLU
    # passes no gradient there, nor may the tiles' mask (a mask of Z >= 0 would).
    x = np.zeros((3, 6, 6, 3))
    x[0] = rng.normal(size=(6, 6, 3))
    kernel = rng.normal(size=(3, 3, 3, 4))
    bias = np.array([0.0, 0.0, 1.0, -1.0])
    y, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), "same")
    assert np.all(y[1:, ..., :2] == 0)  # the kink, in images 1 and 2
    grad_output = rng.normal(size=y.shape)
    _, _, grad_bias = conv2d_relu_backward(grad_output, cache, kernel, False)
    expected = [grad_output[..., f][y[..., f] > 0].sum() for f in range(4)]
    np.testing.assert_allclose(grad_bias, expected, rtol=1e-12)


def test_a_gradient_of_the_preactivation_skips_the_relu(rng):
    x = rng.normal(size=(4, 6, 6, 3))
    kernel = rng.normal(size=(3, 3, 3, 5))
    bias = rng.normal(size=5)
    grad_z = rng.normal(size=(4, 6, 6, 5))
    _, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), "same")
    grad_kernel, grad_bias, returned = conv2d_relu_weight_gradients(
        grad_z, cache, grad_is_preactivation=True
    )
    _, expected = conv2d_forward(x, kernel, bias, (1, 1), "same", algorithm="im2col")
    _, expected_kernel, expected_bias = conv2d_backward(grad_z, expected, kernel, False)
    np.testing.assert_allclose(grad_kernel, expected_kernel, rtol=1e-12)
    np.testing.assert_allclose(grad_bias, expected_bias, rtol=1e-12)
    np.testing.assert_array_equal(returned, grad_z)


def test_which_convolutions_run_in_tiles(rng):
    x = rng.normal(size=(2, 8, 8, 3))
    kernel = rng.normal(size=(3, 3, 3, 32))
    bias = np.zeros(32)
    assert uses_relu_tiles(x, kernel, bias, (1, 1))
    assert not uses_relu_tiles(x, kernel, None, (1, 1))  # no bias column to ride on
    # 8 channels, 16 filters: the row form (choose_algorithm), which has no patch matrix
    wide = rng.normal(size=(2, 8, 8, 8))
    assert not uses_relu_tiles(wide, rng.normal(size=(3, 3, 8, 16)), np.zeros(16), (1, 1))
    # 5x5 kernels pick the row form; tiles instead while a window row is short (5 x 32)
    lenet5_conv2 = rng.normal(size=(5, 5, 32, 64))
    assert choose_algorithm(np.zeros((2, 8, 8, 32)), lenet5_conv2, (1, 1)) == "rows"
    assert uses_relu_tiles(np.zeros((2, 8, 8, 32)), lenet5_conv2, np.zeros(64), (1, 1))
    vgg_b_conv2 = np.zeros((5, 5, 96, 192))  # 480 values a row: the row form stays
    assert not uses_relu_tiles(np.zeros((2, 8, 8, 96)), vgg_b_conv2, np.zeros(192), (1, 1))
    xps = pytest.importorskip("array_api_strict")
    assert not uses_relu_tiles(xps.asarray(x), xps.asarray(kernel), xps.asarray(bias), (1, 1))


def test_images_per_tile():
    # vgg_b's first layer in float32 takes 704,512 bytes per image: 4 in 3 MiB
    assert conv_relu_tiles.TILE_BYTES == 3 * 2**20
    assert images_per_tile(1024, 76, 96, 4) == 4
    assert images_per_tile(1024, 76, 96, 8) == 2
    assert images_per_tile(10**6, 10**3, 10**3, 8) == 1  # at least one image


def test_relu_forward_writes_into_out(rng):
    for size in (100, 3 * 8192 + 5):  # below and above the zero-row fast path
        x = rng.normal(size=size).astype(np.float32)
        expected = np.maximum(x, 0)
        out = np.empty_like(x)
        assert relu_forward(x, out=out) is out
        np.testing.assert_array_equal(out, expected)
        assert relu_forward(x, out=x) is x  # in place
        np.testing.assert_array_equal(x, expected)
    with pytest.raises(ValueError, match="C-contiguous NumPy array"):
        relu_forward(x, out=np.empty(3, np.float32))


def test_a_relu_conv_layer_matches_the_conv_and_an_activation_layer(rng):
    def model(layers):
        return sc.Sequential([sc.Input((10, 10, 3)), *layers], dtype="float64", seed=7)

    fused = model(
        [sc.Conv2D(6, 3, padding="same", activation="relu"), sc.Conv2D(30, 3, activation="relu")]
    )
    apart = model(
        [
            sc.Conv2D(6, 3, padding="same"),
            sc.Activation("relu"),
            sc.Conv2D(30, 3),
            sc.Activation("relu"),
        ]
    )
    x = rng.normal(size=(5, 10, 10, 3))
    y_fused, y_apart = fused.forward(x, training=True), apart.forward(x, training=True)
    assert all(isinstance(layer._cache, conv_relu_tiles.TileCache) for layer in fused.layers)
    assert not any(
        isinstance(getattr(layer, "_cache", None), conv_relu_tiles.TileCache)
        for layer in apart.layers
    )
    np.testing.assert_allclose(y_fused, y_apart, rtol=1e-12)
    grad = rng.normal(size=y_fused.shape)
    for layers in (fused.layers, apart.layers):
        g = grad
        for index in reversed(range(len(layers))):
            g = layers[index].backward(g, need_input_grad=index > 0)
    convs = [layer for layer in apart.layers if isinstance(layer, sc.Conv2D)]
    for tiled, plain in zip(fused.layers, convs, strict=True):
        for name in ("kernel", "bias"):
            np.testing.assert_allclose(tiled.grads[name], plain.grads[name], rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("need_input_grad", [True, False])
def test_tiles_without_the_relu_match_the_untiled_convolution(
    rng, monkeypatch, dtype, need_input_grad
):
    monkeypatch.setattr(conv_relu_tiles, "TILE_BYTES", 20_000)  # several tiles
    x = rng.normal(size=(7, 9, 8, 10)).astype(dtype)
    kernel = (rng.normal(size=(3, 3, 10, 12)) * 0.3).astype(dtype)
    bias = rng.normal(size=12).astype(dtype)
    z_expected, conv_cache = conv2d_forward(x, kernel, bias, (1, 1), "same", algorithm="im2col")
    grad_z = rng.normal(size=z_expected.shape).astype(dtype)
    expected = conv2d_backward(grad_z, conv_cache, kernel, need_input_grad=need_input_grad)
    z, cache = conv2d_relu_forward(x, kernel, bias, (1, 1), "same", relu=False)
    assert cache.mask is None
    assert_close(z, z_expected, dtype)  # negative values too: no ReLU
    assert (z < 0).any()
    grad_kernel, grad_bias, returned = conv2d_relu_weight_gradients(
        grad_z, cache, grad_is_preactivation=True
    )
    assert_close(grad_kernel, expected[1], dtype)
    assert_close(grad_bias, expected[2], dtype)
    if need_input_grad:
        from scratch_cnn.functional.convolution import conv2d_input_gradient

        assert_close(conv2d_input_gradient(returned, cache.conv, kernel), expected[0], dtype)
    with pytest.raises(ValueError, match="without a ReLU"):
        conv2d_relu_weight_gradients(grad_z, cache)


def test_which_convolutions_without_a_relu_run_in_tiles(rng, monkeypatch):
    monkeypatch.setattr(conv_relu_tiles, "LINEAR_TILES_MIN_PATCH_BYTES", 25_000)
    kernel = rng.normal(size=(3, 3, 8, 30))
    bias = np.zeros(30)
    x = rng.normal(size=(2, 8, 8, 8))  # 128 rows x 73 columns x 8 bytes: 74,752 bytes
    assert conv_relu_tiles.uses_linear_tiles(x, kernel, bias, (1, 1), "same")
    assert conv_relu_tiles.uses_linear_tiles(x, kernel, bias, (1, 1), "valid")  # 42,048
    assert not conv_relu_tiles.uses_linear_tiles(x, kernel, bias, (2, 2), "same")  # 18,688
    assert not conv_relu_tiles.uses_linear_tiles(x[:1], kernel, bias, (1, 1), "valid")  # 21,024
    # few channels (a first layer): the patches are cheap in memory, dear to cut again
    few = rng.normal(size=(4, 16, 16, 3))
    assert not conv_relu_tiles.uses_linear_tiles(few, kernel[:, :, :3], bias, (1, 1), "same")
    assert not conv_relu_tiles.uses_linear_tiles(x, kernel, None, (1, 1), "same")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", None])
def test_a_layer_with_another_activation_in_tiles_matches_the_untiled_layer(
    rng, monkeypatch, activation
):
    def model():
        return sc.Sequential(
            [
                sc.Input((9, 9, 8)),
                sc.Conv2D(30, 3, padding="same", activation=activation),
                sc.Conv2D(30, 3, activation=activation),
            ],
            dtype="float64",
            seed=3,
        )

    x = rng.normal(size=(5, 9, 9, 8))
    grad = rng.normal(size=(5, 7, 7, 30))
    results = []
    for min_bytes in (0, 2**62):  # every layer in tiles, then none
        monkeypatch.setattr(conv_relu_tiles, "LINEAR_TILES_MIN_PATCH_BYTES", min_bytes)
        net = model()
        y = net.forward(x, training=True)
        tiled = [isinstance(layer._cache, conv_relu_tiles.TileCache) for layer in net.layers]
        assert tiled == [min_bytes == 0] * 2
        g = grad
        for index in reversed(range(len(net.layers))):
            g = net.layers[index].backward(g, need_input_grad=True)
        results.append((y, g, [dict(layer.grads) for layer in net.layers]))
    (y_tiles, g_tiles, grads_tiles), (y_plain, g_plain, grads_plain) = results
    np.testing.assert_allclose(y_tiles, y_plain, rtol=1e-12)
    np.testing.assert_allclose(g_tiles, g_plain, rtol=1e-10, atol=1e-12)
    for tiled, plain in zip(grads_tiles, grads_plain, strict=True):
        for name in ("kernel", "bias"):
            np.testing.assert_allclose(tiled[name], plain[name], rtol=1e-10, atol=1e-12)


def test_a_relu_layer_that_keeps_its_preactivation_takes_the_linear_tiles(rng, monkeypatch):
    monkeypatch.setattr(conv_relu_tiles, "LINEAR_TILES_MIN_PATCH_BYTES", 0)
    net = sc.Sequential(
        [sc.Input((9, 9, 8)), sc.Conv2D(30, 3, activation="relu")], dtype="float64", seed=4
    )
    layer = net.layers[0]
    x = rng.normal(size=(3, 9, 9, 8))
    assert layer.runs_relu_in_tiles(x) and not layer.runs_linear_in_tiles(x)
    y_fused = net.forward(x, training=True)
    assert layer._cache.mask is not None  # the fused ReLU's tiles
    layer.keep_preactivation = True
    assert not layer.runs_relu_in_tiles(x) and layer.runs_linear_in_tiles(x)
    y_linear = net.forward(x, training=True)
    assert isinstance(layer._cache, conv_relu_tiles.TileCache) and layer._cache.mask is None
    np.testing.assert_allclose(y_linear, y_fused, rtol=1e-12)
    np.testing.assert_array_equal(layer.preactivation > 0, y_linear > 0)  # kept, unclipped
    assert (layer.preactivation < 0).any()
