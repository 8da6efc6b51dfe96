"""cnnbench data sets: the canonical files, verified, loaded as uint8 NHWC, split alike.

>>> from datasets import load_dataset, make_split, PixelScaler, Batches
>>> data = load_dataset("digits8x8")
>>> split = make_split(data, seed=0)
>>> split.sizes
{'train': 1293, 'validation': 144, 'test': 360}

Keys: ``digits8x8``, ``mnist``, ``svhn``, ``cifar10``, and ``idx:PATH`` for any
directory of MNIST-layout IDX files. Files are looked up in ``data_dir``, then
``CNNBENCH_DATA``, then the user cache, verified against their canonical MD5, and
downloaded only when found nowhere. See ``docs/datasets.md``.

This package is named ``datasets``, like Hugging Face's: install cnnbench in its own
virtual environment.
"""

from datasets.batches import Batches, PixelScaler, batch_indices, epoch_order, num_batches
from datasets.dataset import Dataset
from datasets.errors import (
    ChecksumMismatchError,
    DataFileError,
    DataFileNotFoundError,
    DatasetError,
    DownloadError,
    UnknownDatasetError,
    UnsafePickleError,
)
from datasets.files import DATA_DIR_ENV, DataLocator, SourceRecord
from datasets.registry import DATASET_INFO, DATASET_NAMES, DatasetInfo, info, load_dataset
from datasets.sources import SOURCES, DatasetSource, SourceFile
from datasets.splits import Split, make_split, split_fingerprint

__all__ = [
    "DATASET_INFO",
    "DATASET_NAMES",
    "DATA_DIR_ENV",
    "SOURCES",
    "Batches",
    "ChecksumMismatchError",
    "DataFileError",
    "DataFileNotFoundError",
    "DataLocator",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetSource",
    "DownloadError",
    "PixelScaler",
    "SourceFile",
    "SourceRecord",
    "Split",
    "UnknownDatasetError",
    "UnsafePickleError",
    "batch_indices",
    "epoch_order",
    "info",
    "load_dataset",
    "make_split",
    "num_batches",
    "split_fingerprint",
]
