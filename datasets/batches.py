"""Batches both engines share: one deterministic order, uint8 until the last moment.

:func:`epoch_order` gives the order of a split part in a given epoch from a seed alone
(not from how many epochs ran before), so Keras and scratch_cnn, or a resumed run, get
the same batches in the same order. :class:`PixelScaler` turns one uint8 batch into
floats (0..1, or standardised with statistics of the training part), so no float copy of
a whole data set is ever kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from datasets.dataset import Dataset
from datasets.splits import BATCH_ORDER_STREAM, random_permutation

_FIT_CHUNK_IMAGES = 1024


def epoch_order(indices: np.ndarray, seed: int | None, epoch: int = 0) -> np.ndarray:
    """Return ``indices`` in the order of epoch ``epoch``.

    Parameters
    ----------
    indices : numpy.ndarray
        Indices into a data set (e.g. ``split.train``).
    seed : int or None
        Shuffle seed; None keeps the given order (as ``shuffle=False``).
    epoch : int
        Epoch number, from 0; each epoch has its own order.
    """
    indices = np.asarray(indices)
    if seed is None:
        return indices
    return indices[random_permutation(len(indices), seed, BATCH_ORDER_STREAM, epoch)]


def num_batches(count: int, batch_size: int, *, drop_remainder: bool = False) -> int:
    """Number of batches of ``batch_size`` in ``count`` items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    return count // batch_size if drop_remainder else -(-count // batch_size)


def batch_indices(
    indices: np.ndarray,
    batch_size: int,
    *,
    seed: int | None = None,
    epoch: int = 0,
    drop_remainder: bool = False,
) -> Iterator[np.ndarray]:
    """Yield the index arrays of one epoch's batches, in order.

    Parameters
    ----------
    indices : numpy.ndarray
        Indices into a data set (e.g. ``split.train``).
    batch_size : int
        Images per batch; the last batch is smaller unless ``drop_remainder``.
    seed, epoch
        As :func:`epoch_order`.
    drop_remainder : bool
        Leave out a last, smaller batch.
    """
    order = epoch_order(indices, seed, epoch)
    for batch in range(num_batches(len(order), batch_size, drop_remainder=drop_remainder)):
        yield order[batch * batch_size : (batch + 1) * batch_size]


class PixelScaler:
    """Per-batch pixel scaling: ``x * scale + offset`` per channel, as floats.

    Build one with :meth:`unit` (0..1) or :meth:`standardize` (zero mean, unit variance
    per channel, from the training part only). ``scale`` and ``offset`` are small NumPy
    arrays of shape ``(C,)``; a GPU backend moves them to its device once and applies the
    same two operations there.

    Parameters
    ----------
    scale, offset : array-like
        Per-channel factor and offset, shape ``(C,)``.
    """

    def __init__(self, scale: np.ndarray, offset: np.ndarray) -> None:
        self.scale = np.asarray(scale, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        if self.scale.shape != self.offset.shape or self.scale.ndim != 1:
            raise ValueError(
                f"scale and offset must both have shape (C,); got {self.scale.shape} and "
                f"{self.offset.shape}"
            )

    def __repr__(self) -> str:
        return f"PixelScaler(scale={self.scale.tolist()}, offset={self.offset.tolist()})"

    @classmethod
    def unit(cls, dataset: Dataset) -> PixelScaler:
        """Scale pixels to 0..1 by the format's largest value (255; 16 for digits8x8)."""
        channels = dataset.image_shape[2]
        return cls(np.full(channels, 1.0 / dataset.pixel_max), np.zeros(channels))

    @classmethod
    def standardize(cls, dataset: Dataset, indices: np.ndarray) -> PixelScaler:
        """Standardise each channel with the mean and deviation over ``indices``.

        Statistics come from exact per-channel histograms of the uint8 values, so they
        do not depend on summation order, chunking, machine or thread count. Pass the
        training indices only, so nothing of the validation or test images leaks in.
        """
        channels = dataset.image_shape[2]
        histogram = np.zeros((channels, 256), dtype=np.int64)
        for start in range(0, len(indices), _FIT_CHUNK_IMAGES):
            chunk = dataset.images[indices[start : start + _FIT_CHUNK_IMAGES]]
            pixels = chunk.reshape(-1, channels)
            for channel in range(channels):
                histogram[channel] += np.bincount(pixels[:, channel], minlength=256)
        values = np.arange(256, dtype=np.float64)
        counts = histogram.sum(axis=1)
        if not counts.all():
            raise ValueError("standardize needs at least one image")
        mean = histogram @ values / counts
        variance = histogram @ values**2 / counts - mean**2
        deviation = np.sqrt(np.maximum(variance, 0.0))
        # A constant channel carries no information; leave its spread alone.
        deviation[deviation == 0.0] = 1.0
        return cls(1.0 / deviation, -mean / deviation)

    def __call__(self, images: Any, dtype: np.dtype | type = np.float32) -> Any:
        """Return ``images`` (uint8, ``(..., C)``) scaled, as a new ``dtype`` array.

        NumPy batches are scaled in place of a fresh float copy; batches of another
        Array-API library (CuPy on a GPU, ``array_api_strict`` in tests) are scaled with
        that library's own functions, on their device, so a data set staged on a GPU
        once is scaled there batch by batch.
        """
        if isinstance(images, np.ndarray):
            scaled = images.astype(dtype)
            scaled *= self.scale.astype(dtype)
            scaled += self.offset.astype(dtype)
            return scaled
        xp = images.__array_namespace__()
        target = getattr(xp, np.dtype(dtype).name)
        scale = xp.asarray(self.scale.astype(dtype), device=images.device)
        offset = xp.asarray(self.offset.astype(dtype), device=images.device)
        return xp.astype(images, target) * scale + offset


class Batches:
    """One epoch's batches of ``(x, y)``: a sized, indexable sequence.

    ``x`` is a float batch from :class:`PixelScaler`, ``y`` the int64 labels. The order
    comes from :func:`epoch_order`; :meth:`set_epoch` moves to another epoch's order.
    It has the ``__len__`` / ``__getitem__`` shape that Keras's ``PyDataset`` wraps.

    Parameters
    ----------
    dataset : Dataset
        The data set.
    indices : numpy.ndarray
        The split part to iterate (e.g. ``split.train``).
    batch_size : int
        Images per batch.
    scaler : PixelScaler
        How pixels become floats.
    seed : int or None
        Shuffle seed; None keeps ``indices`` in order.
    epoch : int
        The starting epoch.
    dtype : numpy dtype
        Float type of ``x``.
    drop_remainder : bool
        Leave out a last, smaller batch.
    """

    def __init__(
        self,
        dataset: Dataset,
        indices: np.ndarray,
        batch_size: int,
        scaler: PixelScaler,
        *,
        seed: int | None = None,
        epoch: int = 0,
        dtype: np.dtype | type = np.float32,
        drop_remainder: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices)
        self.batch_size = batch_size
        self.scaler = scaler
        self.seed = seed
        self.dtype = dtype
        self._length = num_batches(len(self.indices), batch_size, drop_remainder=drop_remainder)
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Use the batch order of ``epoch``."""
        self.epoch = epoch
        self.order = epoch_order(self.indices, self.seed, epoch)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if not -self._length <= batch < self._length:
            raise IndexError(f"batch {batch} of {self._length}")
        batch %= self._length
        selected = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        return self.scaler(self.dataset.images[selected], self.dtype), self.dataset.labels[selected]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in range(self._length):
            yield self[batch]
