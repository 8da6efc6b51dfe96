"""Data for one run: the data set loaded once per process, the arrays a run trains on.

The driver hands each run its split (the index arrays) and its epoch orders; the worker
loads the data set from its own files (checksums verified by ``datasets``), checks that
its split of the same seed has the driver's fingerprint, and scales the arrays itself, so
nothing large crosses the process boundary and every engine sees identical data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class SplitMismatchError(RuntimeError):
    """A worker's split differs from the driver's: the engines would not see the same data."""


@dataclass
class PreparedData:
    """A split of a loaded data set, and the float arrays every engine of a run shares."""

    dataset: Any
    split: Any
    scaler: Any
    dtype: str
    num_classes: int
    class_names: list[str]
    x_validation: np.ndarray
    y_validation: np.ndarray
    x_test: np.ndarray
    y_test_labels: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(H, W, C)`` of one image."""
        return tuple(int(size) for size in self.dataset.images.shape[1:])

    def epoch_arrays(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training images (scaled floats) and one-hot targets in the given order."""
        x = self.scaler(self.dataset.images[order], np.dtype(self.dtype))
        y = one_hot(self.dataset.labels[order], self.num_classes, self.dtype)
        return x, y


def one_hot(labels: np.ndarray, num_classes: int, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer labels (every engine gets the same targets)."""
    return np.eye(num_classes, dtype=dtype)[np.asarray(labels, dtype=np.int64)]


class DataCache:
    """Loads each data set once per process and draws splits from it.

    Parameters
    ----------
    data_dir : str, optional
        Folder of the data set files (``CNNBENCH_DATA`` / the cache when omitted).
    download : bool
        Download absent files (checksums verified).
    """

    def __init__(self, data_dir: str | None, download: bool) -> None:
        self.data_dir = data_dir
        self.download = download
        self._loaded: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}

    def load(self, name: str) -> Any:
        """The loaded data set, or raise the (remembered) loading error."""
        if name in self._errors:
            raise self._errors[name]
        if name not in self._loaded:
            import datasets

            try:
                self._loaded[name] = datasets.load_dataset(
                    name, data_dir=self.data_dir, download=self.download
                )
            except (OSError, datasets.DatasetError) as error:
                self._errors[name] = error
                raise
        return self._loaded[name]

    def split(self, name: str, seed: int, validation_size: Any) -> Any:
        """The seeded split of a data set (``datasets.make_split``)."""
        import datasets

        return datasets.make_split(self.load(name), seed=seed, validation_size=validation_size)

    def prepare(
        self, name: str, split: Any, settings: dict[str, Any], expected_fingerprint: str
    ) -> PreparedData:
        """Check the handed-over split against this process's data, then scale the arrays.

        Parameters
        ----------
        name : str
            Data set key.
        split : datasets.Split
            The driver's split (index arrays).
        settings : dict
            The cell's harness settings (``dtype``, ``scaling``, ``validation_size``).
        expected_fingerprint : str
            The driver's split fingerprint.

        Returns
        -------
        PreparedData

        Raises
        ------
        SplitMismatchError
            When this process's own split of the seed, or the handed-over indices, have
            another fingerprint (different data set files or library versions).
        """
        import datasets

        dataset = self.load(name)
        own = datasets.make_split(
            dataset, seed=split.seed, validation_size=settings["validation_size"]
        )
        if own.fingerprint != expected_fingerprint or split.fingerprint != expected_fingerprint:
            raise SplitMismatchError(
                f"split fingerprint on this worker is {own.fingerprint} but the driver's is "
                f"{expected_fingerprint} (data set {name!r}, seed {split.seed}); the worker's "
                "data files or library versions differ from the driver's"
            )
        if settings["scaling"] == "standardize":
            scaler = datasets.PixelScaler.standardize(dataset, split.train)
        else:
            scaler = datasets.PixelScaler.unit(dataset)
        dtype = settings["dtype"]
        return PreparedData(
            dataset=dataset,
            split=split,
            scaler=scaler,
            dtype=dtype,
            num_classes=dataset.num_classes,
            class_names=[str(label) for label in dataset.class_names],
            x_validation=scaler(dataset.images[split.validation], np.dtype(dtype)),
            y_validation=one_hot(dataset.labels[split.validation], dataset.num_classes, dtype),
            x_test=scaler(dataset.images[split.test], np.dtype(dtype)),
            y_test_labels=np.asarray(dataset.labels[split.test]),
        )
