"""CuPy vs NumPy: the same layer code on the GPU gives the CPU's numbers (float32: rtol 1e-4,
atol 1e-5). Marked ``gpu``: skipped cleanly where CuPy or a CUDA device is missing."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc

pytestmark = pytest.mark.gpu

RTOL, ATOL = 1e-4, 1e-5


def lenet_like(device: str, dtype: str = "float32") -> sc.Sequential:
    return sc.Sequential(
        [
            sc.Input((28, 28, 1)),
            sc.Conv2D(8, 5, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Conv2D(16, 3, strides=2, padding="same", activation="tanh"),
            sc.AveragePooling2D(3, strides=1, padding="same"),
            sc.Flatten(),
            sc.Dense(32, activation="elu", kernel_regularizer=sc.regularizers.L2(1e-3)),
            sc.Dropout(0.25),
            sc.Dense(10, activation="softmax"),
        ],
        seed=21,
        device=device,
        dtype=dtype,
    )


def test_forward_gradients_and_training_match_numpy(rng):
    x = rng.random((32, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    cpu, gpu = lenet_like("cpu"), lenet_like("gpu")
    for model in (cpu, gpu):
        model.compile(sc.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=RTOL, atol=ATOL)
    for a, b in zip(gpu.compute_gradients(x, y), cpu.compute_gradients(x, y), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    history_gpu = gpu.fit(x, y, batch_size=8, epochs=2, verbose=0)
    history_cpu = cpu.fit(x, y, batch_size=8, epochs=2, verbose=0)
    np.testing.assert_allclose(history_gpu.history["loss"], history_cpu.history["loss"], rtol=1e-3)
    for a, b in zip(gpu.get_weights(), cpu.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    assert gpu.device.peak_memory_bytes and gpu.device.peak_memory_bytes > 0


def test_gradient_check_on_the_gpu(rng):
    result = sc.gradient_check(
        lenet_like("gpu"), rng.random((3, 28, 28, 1)), rng.integers(0, 10, 3)
    )
    assert result.max_error < 1e-7, f"\n{result}"


def test_uint8_images_are_scaled_on_the_device(rng):
    images = rng.integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, 40)

    def scale(batch):
        xp = sc.get_array_module(batch)
        return xp.astype(batch, xp.float32) / 255.0

    cpu, gpu = lenet_like("cpu"), lenet_like("gpu")
    losses = []
    for model in (cpu, gpu):
        model.compile("sgd", "categorical_crossentropy")
        losses.append(model.fit(images, labels, batch_size=16, verbose=0, preprocess=scale))
    np.testing.assert_allclose(losses[1].history["loss"], losses[0].history["loss"], rtol=1e-4)
    np.testing.assert_allclose(
        gpu.predict(images, preprocess=scale),
        cpu.predict(images, preprocess=scale),
        rtol=RTOL,
        atol=ATOL,
    )
