"""The engine's layer code runs on a strict Array-API namespace: proof that it uses no
NumPy-only call, and so will run unchanged on CuPy."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc

pytest.importorskip("array_api_strict")


def build(device: str) -> sc.Sequential:
    return sc.Sequential(
        [
            sc.Input((9, 9, 2)),
            sc.Conv2D(3, 3, padding="same", activation="relu"),
            sc.MaxPooling2D(2, padding="same"),
            sc.Conv2D(
                4, (2, 3), strides=2, activation="elu", kernel_regularizer=sc.regularizers.L2(0.01)
            ),
            sc.AveragePooling2D(2, strides=1, padding="same"),
            sc.Flatten(),
            sc.Dropout(0.3),
            sc.Dense(6, activation="sigmoid"),
            sc.Activation("tanh"),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=11,
        device=device,
    )


def test_strict_namespace_matches_numpy_step_by_step(rng):
    x, y = rng.normal(size=(6, 9, 9, 2)), rng.integers(0, 3, 6)
    reference, strict = build("cpu"), build("array_api_strict")
    assert type(strict.layers[0].params["kernel"]).__module__.startswith("array_api_strict")
    for model in (reference, strict):
        model.compile(sc.optimizers.Adam(0.01), "categorical_crossentropy", ["accuracy"])
    for a, b in zip(reference.compute_gradients(x, y), strict.compute_gradients(x, y), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    history_a = reference.fit(x, y, batch_size=4, epochs=2, verbose=0)
    history_b = strict.fit(x, y, batch_size=4, epochs=2, verbose=0)
    np.testing.assert_allclose(history_a.history["loss"], history_b.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(reference.predict(x), strict.predict(x), rtol=1e-12, atol=1e-14)


def test_gradient_check_on_the_strict_namespace(rng):
    result = sc.gradient_check(
        build("array_api_strict"), rng.normal(size=(3, 9, 9, 2)), rng.integers(0, 3, 3)
    )
    assert result.max_error < 1e-7, f"\n{result}"


def test_uint8_data_is_staged_once_and_scaled_per_batch_on_the_device(rng):
    """Off the CPU, data go to the device once in their own dtype; batches are sliced and
    scaled there by a namespace-agnostic preprocess (what the GPU path does with CuPy)."""
    images = rng.integers(0, 256, size=(10, 9, 9, 2), dtype=np.uint8)
    labels = rng.integers(0, 3, 10)
    seen = []

    def scale(batch):
        xp = sc.get_array_module(batch)
        seen.append(xp.__name__)
        return xp.astype(batch, xp.float64) / 255.0

    results = {}
    for device in ("cpu", "array_api_strict"):
        model = build(device)
        model.layers[6].rate = 0.0
        model.compile("adam", "categorical_crossentropy")
        history = model.fit(images, labels, batch_size=4, epochs=2, verbose=0, preprocess=scale)
        results[device] = (history.history["loss"], model.predict(images, preprocess=scale))
    assert "array_api_strict" in seen and "numpy" in seen
    np.testing.assert_allclose(results["cpu"][0], results["array_api_strict"][0], rtol=1e-12)
    np.testing.assert_allclose(results["cpu"][1], results["array_api_strict"][1], rtol=1e-12)
