"""``load_dataset(key)``: one entry point for every data set key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets.cifar10 import load_cifar10
from datasets.dataset import Dataset
from datasets.digits import load_digits8x8
from datasets.errors import UnknownDatasetError
from datasets.files import DataLocator, Downloader
from datasets.idx import load_idx_directory
from datasets.mnist import load_mnist
from datasets.svhn import load_svhn

#: data set key -> loader taking a DataLocator
FILE_LOADERS: dict[str, Callable[[DataLocator], Dataset]] = {
    "mnist": load_mnist,
    "svhn": load_svhn,
    "cifar10": load_cifar10,
}
#: every built-in key; ``idx:PATH`` names a custom data set besides these
DATASET_NAMES = ("digits8x8", *FILE_LOADERS)
IDX_PREFIX = "idx:"


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, known without reading its files.

    Attributes
    ----------
    name : str
        The key.
    input_shape : (int, int, int)
        ``(H, W, C)`` of one image.
    num_classes : int
        Number of classes.
    train_count : int
        Images in the official training set (all images when there is no test set).
    test_count : int or None
        Images in the official test set; None when the split draws the test set.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    train_count: int
    test_count: int | None


DATASET_INFO: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits8x8", (8, 8, 1), 10, 1797, None),
        DatasetInfo("mnist", (28, 28, 1), 10, 60000, 10000),
        DatasetInfo("svhn", (32, 32, 3), 10, 73257, 26032),
        DatasetInfo("cifar10", (32, 32, 3), 10, 50000, 10000),
    )
}


def info(key: str) -> DatasetInfo:
    """Return the shape and size of a data set; only ``idx:PATH`` reads its files.

    Raises
    ------
    UnknownDatasetError
        For an unknown key.
    """
    if key.startswith(IDX_PREFIX):
        dataset = load_idx_directory(key[len(IDX_PREFIX) :], name=key)
        test_start = dataset.official_test_start
        return DatasetInfo(
            key,
            dataset.image_shape,
            dataset.num_classes,
            len(dataset) if test_start is None else test_start,
            None if test_start is None else len(dataset) - test_start,
        )
    if key not in DATASET_INFO:
        raise _unknown(key)
    return DATASET_INFO[key]


def _unknown(key: str) -> UnknownDatasetError:
    return UnknownDatasetError(
        f"unknown data set {key!r}; expected one of {', '.join(DATASET_NAMES)}, or "
        f"'idx:PATH' for a directory of MNIST-layout IDX files"
    )


def load_dataset(
    key: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    downloader: Downloader | None = None,
) -> Dataset:
    """Load a data set by key.

    Parameters
    ----------
    key : str
        ``digits8x8``, ``mnist``, ``svhn``, ``cifar10``, or ``idx:PATH`` for a directory
        of MNIST-layout IDX files.
    data_dir : path-like, optional
        Searched first for the canonical files (then ``CNNBENCH_DATA``, then the cache).
    cache_dir : path-like, optional
        Where downloads go; ``CNNBENCH_CACHE`` or the user cache when omitted.
    download : bool
        Download files found nowhere.
    downloader : callable, optional
        pooch-style ``downloader(url, output_file, pooch)``; for tests.

    Returns
    -------
    Dataset

    Raises
    ------
    UnknownDatasetError
        For an unknown key.
    """
    if key == "digits8x8":
        return load_digits8x8()
    if key.startswith(IDX_PREFIX):
        return load_idx_directory(key[len(IDX_PREFIX) :], name=key)
    if key not in FILE_LOADERS:
        raise _unknown(key)
    locator = DataLocator(
        data_dir=data_dir, cache_dir=cache_dir, download=download, downloader=downloader
    )
    return FILE_LOADERS[key](locator)
