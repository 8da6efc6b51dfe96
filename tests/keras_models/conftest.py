"""Fixtures for the Keras-side tests: Keras itself, float64 switching, small parity batches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from keras_models.parity import Batch, one_hot

# Under KERAS_BACKEND=jax, float64 needs JAX's x64 mode, read when JAX is first imported.
os.environ.setdefault("JAX_ENABLE_X64", "true")

# SPEC "Parity with Keras", stated here as literal numbers on purpose: the parity tests must
# not import the bounds they check from keras_models.parity (loosening those 100x would then
# pass every test); tests/keras_models/test_spec_bounds.py pins the module's constants to
# these figures.
#: forward outputs, max abs difference, float32
SPEC_FORWARD_FLOAT32 = 1e-5
#: forward outputs, max abs difference, float64
SPEC_FORWARD_FLOAT64 = 1e-10
#: gradients w.r.t. every weight, relative error, float32
SPEC_GRADIENT_RELATIVE = 1e-4
#: weights after 50 SGD and 50 Adam steps, relative
SPEC_TRAINING_RELATIVE = 1e-3
#: test accuracy after full training on the same split, in percentage points
SPEC_ACCURACY_POINTS = 0.5

#: image shape of each catalog architecture's own data set
REFERENCE_SHAPES = {
    "digits8x8": (8, 8, 1),
    "mnist": (28, 28, 1),
    "svhn": (32, 32, 3),
    "cifar10": (32, 32, 3),
}


@pytest.fixture(scope="session")
def keras() -> Any:
    """The keras module (the tests are skipped where Keras is not installed)."""
    return pytest.importorskip("keras")


@pytest.fixture
def float64_keras(keras: Any) -> Iterator[None]:
    """Keras's floatx set to float64 for one test, restored afterwards."""
    from keras_models.builders import keras_floatx

    with keras_floatx("float64"):
        yield


def random_batches(
    shape: tuple[int, ...], batch_size: int, count: int, num_classes: int = 10, seed: int = 0
) -> list[Batch]:
    """``count`` batches of uniform [0, 1) float32 images with random one-hot labels."""
    rng = np.random.default_rng(seed)
    return [
        Batch(
            rng.random((batch_size, *shape)).astype(np.float32),
            one_hot(rng.integers(0, num_classes, batch_size), num_classes),
        )
        for _ in range(count)
    ]


@pytest.fixture
def make_batches() -> Any:
    """The :func:`random_batches` factory."""
    return random_batches
