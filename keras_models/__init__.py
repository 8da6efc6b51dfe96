"""cnnbench's Keras side: the catalog's Keras twins, transfer to and from scratch_cnn, parity.

Modules
-------
``keras_models.builders``  Keras 3 builds of catalog entries (only Keras APIs: any backend)
``keras_models.transfer``  ``to_scratch(keras_model)`` and ``to_keras(scratch_model)``
``keras_models.parity``    the parity measurements (forward, gradients, training steps)
``keras_models.validate``  the ``cnnbench validate`` sub-command

Importing this package does not import Keras; the names below load their module on first use,
so ``cnnbench --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "to_scratch": "keras_models.transfer",
    "to_keras": "keras_models.transfer",
    "scratch_crossentropy": "keras_models.transfer",
    "UnsupportedKerasFeatureError": "keras_models.transfer",
    "build_keras_model": "keras_models.builders",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_models' has no attribute {name!r}")
