"""Saving and loading models: one ``.npz`` file with the config (JSON) and the weights.

The file holds ``config`` (the Keras-form model config), ``compile`` (optimizer and loss
configs, or null) and ``weight_000``, ``weight_001``, ... in :meth:`get_weights` order.
It is a plain NumPy archive: nothing is unpickled when loading.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from scratch_cnn.model import Sequential


def save_model(model: Sequential, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (written under a temporary name, then renamed).

    Parameters
    ----------
    model : Sequential
    path : str or path-like
    """
    if not model.built:
        model.build()
    compile_config = None
    if model.optimizer is not None and model.loss is not None:
        compile_config = {
            "optimizer": model.optimizer.get_config(),
            "loss": model.loss.get_config(),
            "metrics": model.metrics,
        }
    arrays: dict[str, Any] = {
        "format": np.array("scratch_cnn/1"),
        "config": np.array(json.dumps(model.get_config())),
        "compile": np.array(json.dumps(compile_config)),
    }
    for index, weight in enumerate(model.get_weights()):
        arrays[f"weight_{index:03d}"] = weight
    path = os.fspath(path)
    temporary = f"{path}.partial"
    with open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(temporary, path)


def load_model(path: str | os.PathLike, device: str | None = None) -> Sequential:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
    device : str, optional

    Returns
    -------
    Sequential
        Built, with weights, and compiled when the file carries compile settings.
    """
    try:
        archive = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a scratch_cnn model file ({error}).") from error
    with archive:
        if "format" not in archive or str(archive["format"]) != "scratch_cnn/1":
            raise ValueError(f"{path} is not a scratch_cnn model file (no 'format' marker).")
        config = json.loads(str(archive["config"]))
        compile_config = json.loads(str(archive["compile"]))
        names = sorted(name for name in archive.files if name.startswith("weight_"))
        weights = [archive[name] for name in names]
    model = Sequential.from_config(config, device=device)
    model.set_weights(weights)
    if compile_config is not None:
        model.compile(
            compile_config["optimizer"], compile_config["loss"], compile_config.get("metrics")
        )
    return model
