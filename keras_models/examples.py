"""A Keras ``Sequential`` outside the catalog that exercises every transferable option.

Used by the tests and by ``docs/parity.md`` to show that ``to_scratch``/``to_keras`` are not
limited to catalog shapes: strided and even-sized "same" convolutions, elu/tanh via an
``Activation`` layer, overlapping max pooling, "same" average pooling, every supported
initializer, an L2 penalty and dropout.
"""

from __future__ import annotations

from typing import Any


def non_catalog_model(input_shape: tuple[int, int, int] = (28, 28, 1), seed: int = 7) -> Any:
    """Build the example model (uncompiled).

    Parameters
    ----------
    input_shape : (int, int, int)
        Image shape; the defaults fit MNIST.
    seed : int
        Seeds the initializers.

    Returns
    -------
    keras.Sequential
    """
    import keras

    layers = keras.layers
    initializers = keras.initializers
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(
                6, 3, strides=2, padding="same", activation="elu",
                kernel_initializer=initializers.HeUniform(seed=seed),
            ),
            layers.AveragePooling2D(pool_size=3, strides=2, padding="same"),
            layers.Conv2D(
                8, (4, 2), padding="same",
                kernel_initializer=initializers.GlorotNormal(seed=seed + 1),
                kernel_regularizer=keras.regularizers.L2(1e-3),
            ),
            layers.Activation("tanh"),
            layers.MaxPooling2D(pool_size=3, strides=2, padding="valid"),
            layers.Flatten(),
            layers.Dense(
                32, activation="relu",
                kernel_initializer=initializers.RandomNormal(stddev=0.1, seed=seed + 2),
            ),
            layers.Dropout(0.25),
            layers.Dense(
                10, activation="softmax",
                kernel_initializer=initializers.HeNormal(seed=seed + 3),
            ),
        ],
        name="non_catalog_example",
    )  # fmt: skip
