"""scratch_cnn: a convolutional-network engine written from scratch on NumPy/CuPy arrays.

Its API mirrors Keras (``Sequential``, ``Dense``, ``Conv2D``, ``compile``, ``fit``...), its
data layout is NHWC and its kernels are ``(kh, kw, c_in, c_out)``, so weights move between
the two engines unchanged. It imports no TensorFlow or Keras.
"""

from scratch_cnn import initializers, layers, losses, optimizers, regularizers
from scratch_cnn.backend import Device, get_array_module, to_numpy
from scratch_cnn.gradient_check import GradientCheckResult, gradient_check
from scratch_cnn.input_checks import DivergenceError, InputValidationError
from scratch_cnn.layers import (
    Activation,
    AveragePooling2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)
from scratch_cnn.model import Input, Sequential
from scratch_cnn.serialization import load_model, save_model
from scratch_cnn.training import History

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "AveragePooling2D",
    "Conv2D",
    "Dense",
    "Device",
    "DivergenceError",
    "Dropout",
    "Flatten",
    "GradientCheckResult",
    "History",
    "Input",
    "InputValidationError",
    "MaxPooling2D",
    "Sequential",
    "get_array_module",
    "gradient_check",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "optimizers",
    "regularizers",
    "save_model",
    "to_numpy",
]
