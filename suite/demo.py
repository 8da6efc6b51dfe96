"""``cnnbench demo``: train a scratch MLP and a scratch CNN on digits8x8 and print the results.

It needs no download (the 8x8 digits ship with scikit-learn) and no TensorFlow, so it is
the quickest way to see the engine learn.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import scratch_cnn as sc


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options."""
    parser.add_argument("--epochs", type=int, default=20, help="epochs per model (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--device", default=None, help="cpu or gpu (default $CNNBENCH_DEVICE or cpu)"
    )


def demo_models(seed: int, device: str | None) -> dict[str, sc.Sequential]:
    """The two demo networks: the seed-001 MLP and a small LeNet-like CNN."""
    mlp = sc.Sequential(
        [
            sc.Input((8, 8, 1)),
            sc.Flatten(),
            sc.Dense(128, "relu", kernel_initializer="he_normal"),
            sc.Dense(128, "relu", kernel_initializer="he_normal"),
            sc.Dense(64, "relu", kernel_initializer="he_normal"),
            sc.Dense(10, "softmax"),
        ],
        name="mlp_128_128_64",
        seed=seed,
        device=device,
    )
    cnn = sc.Sequential(
        [
            sc.Input((8, 8, 1)),
            sc.Conv2D(32, 3, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Conv2D(64, 3, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Flatten(),
            sc.Dense(128, "relu"),
            sc.Dense(10, "softmax"),
        ],
        name="cnn_32_64",
        seed=seed,
        device=device,
    )
    return {"MLP": mlp, "CNN": cnn}


def run(args: argparse.Namespace) -> int:
    """Train both models and print test accuracy and training time."""
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=args.seed, stratify=digits.target
    )
    print(f"digits8x8: {len(x_train)} training and {len(x_test)} test images (8x8x1)")
    for label, model in demo_models(args.seed, args.device).items():
        model.compile(sc.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
        started = time.perf_counter()
        history = model.fit(
            x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0, seed=args.seed
        )
        seconds = time.perf_counter() - started
        _, accuracy = model.evaluate(x_test, y_test)
        per_epoch = float(np.median(history.epoch_times))
        print(
            f"{label:4s} {model.name:15s} test accuracy {accuracy:.4f}  train time "
            f"{seconds:.2f} s ({per_epoch * 1000:.1f} ms/epoch, {args.epochs} epochs)"
        )
    return 0
