"""The in-memory form every loader returns: :class:`Dataset`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.files import SourceRecord


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded image classification data set: uint8 NHWC images and integer labels.

    The official training images come first and the official test images (where the
    data set has them) last, in one array, so a :class:`~datasets.splits.Split` is
    three index arrays into it. The arrays are read-only: every consumer sees the same
    pixels, and a float copy is made per batch, never of the whole set.

    Attributes
    ----------
    name : str
        The data set key (``"mnist"``, ``"idx:/path"``...).
    images : numpy.ndarray
        ``(N, H, W, C)`` uint8.
    labels : numpy.ndarray
        ``(N,)`` int64 in ``0 .. len(class_names) - 1``.
    class_names : tuple of str
        Name of each class, indexed by label.
    sources : tuple of SourceRecord
        The files the data came from, with their checksums.
    official_test_start : int or None
        ``images[official_test_start:]`` is the official test set; None when the data
        set has none (``digits8x8``), and the split draws the test set itself.
    pixel_max : int
        The largest pixel value the format allows (255; 16 for ``digits8x8``), the
        divisor that scales pixels to 0..1.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: tuple[SourceRecord, ...]
    official_test_start: int | None = None
    pixel_max: int = 255

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"{self.name}: images must be uint8 (N, H, W, C); got {self.images.dtype} "
                f"with shape {self.images.shape}"
            )
        if self.labels.shape != (len(self.images),) or self.labels.dtype != np.int64:
            raise ValueError(
                f"{self.name}: labels must be int64 of shape ({len(self.images)},); got "
                f"{self.labels.dtype} with shape {self.labels.shape}"
            )
        if self.official_test_start is not None and not (
            0 < self.official_test_start < len(self.images)
        ):
            raise ValueError(
                f"{self.name}: official_test_start must lie in 1..{len(self.images) - 1}; "
                f"got {self.official_test_start}"
            )
        self.images.flags.writeable = False
        self.labels.flags.writeable = False

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, images={self.images.shape}, "
            f"classes={self.num_classes}, official_test_start={self.official_test_start})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image: the model's input shape."""
        height, width, channels = self.images.shape[1:]
        return height, width, channels

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def class_counts(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Return the number of images per class, of all images or of ``indices``."""
        labels = self.labels if indices is None else self.labels[indices]
        return np.bincount(labels, minlength=self.num_classes)
