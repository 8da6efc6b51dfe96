"""Keras-shaped layers of the scratch engine."""

from scratch_cnn.layers.base import Layer
from scratch_cnn.layers.convolution import Conv2D
from scratch_cnn.layers.core import Activation, Dropout, Flatten
from scratch_cnn.layers.dense import Dense
from scratch_cnn.layers.pooling import AveragePooling2D, MaxPooling2D

#: Layer classes by Keras class name (used by from_config and load_model).
LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dropout, Activation)
}

__all__ = [
    "LAYER_CLASSES",
    "Activation",
    "AveragePooling2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPooling2D",
]
