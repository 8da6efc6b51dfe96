"""End-to-end learning on real data (slow): the engine must reach real accuracy thresholds."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc


def lenet(seed: int) -> sc.Sequential:
    return sc.Sequential(
        [
            sc.Input((28, 28, 1)),
            sc.Conv2D(32, 5, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Conv2D(64, 5, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Flatten(),
            sc.Dense(1024, activation="relu"),
            sc.Dense(10, activation="softmax"),
        ],
        seed=seed,
    )


@pytest.mark.slow
def test_lenet_reaches_98_5_percent_on_mnist_in_two_epochs(cnnbench_data):
    from datasets import PixelScaler, load_dataset

    data = load_dataset("mnist", data_dir=cnnbench_data, download=False)
    start = data.official_test_start
    x_train, y_train = data.images[:start], data.labels[:start]
    x_test, y_test = data.images[start:], data.labels[start:]
    scale = PixelScaler.unit(data)
    model = lenet(seed=0)
    model.compile(sc.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=128, epochs=2, verbose=0, seed=0, preprocess=scale
    )
    _, accuracy = model.evaluate(x_test, y_test, preprocess=scale)
    print(f"lenet mnist: test accuracy {accuracy:.4f}, seconds per epoch {history.epoch_times}")
    assert accuracy >= 0.985
    assert np.all(np.diff(history.history["loss"]) < 0)
