"""CIFAR-10 from ``cifar-10-python.tar.gz``.

The archive holds ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` (10,000
training images each), ``test_batch`` (10,000) and ``batches.meta``. Each batch is a
pickled dict: ``data``, a (N, 3072) uint8 array whose rows are one image in CHW order
(1024 red, then 1024 green, then 1024 blue values, each 32x32 row-major), and
``labels``, a list of N ints 0..9. ``batches.meta`` holds ``label_names``. The members are
read from the archive in memory (nothing is extracted to disk) and unpickled with
:mod:`datasets.safe_pickle`.
"""

from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from datasets.dataset import Dataset
from datasets.errors import DataFileError, UnsafePickleError
from datasets.files import DataLocator
from datasets.idx import check_label_range
from datasets.safe_pickle import ADMITTED_CONTENT, RefusedPickleError, restricted_loads
from datasets.sources import CIFAR10, DatasetSource

CIFAR10_IMAGE_SHAPE = (32, 32, 3)
TRAIN_BATCHES = tuple(f"data_batch_{number}" for number in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
_MEMBERS = (*TRAIN_BATCHES, TEST_BATCH, META)
_REMEDY = "The archive is not the canonical cifar-10-python.tar.gz: fetch it again."


def _unpickle_member(path: Path, member: str, data: bytes) -> dict[str, object]:
    where = f"{path}[{member}]"
    try:
        content = restricted_loads(data)
    except RefusedPickleError as error:
        raise UnsafePickleError(
            where,
            "refused to unpickle",
            expected=ADMITTED_CONTENT,
            found=str(error),
            remedy="Do not use this file: it is not a canonical CIFAR-10 batch and may be "
            "crafted to run code. Fetch cifar-10-python.tar.gz again.",
        ) from error
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as error:
        raise DataFileError(
            where,
            "damaged pickle",
            expected="a pickled dict",
            found=f"{error!r}",
            remedy=_REMEDY,
        ) from error
    if not isinstance(content, dict):
        raise DataFileError(
            where,
            "wrong content",
            expected="a pickled dict",
            found=type(content).__name__,
            remedy=_REMEDY,
        )
    # Python 2 pickles decode their str keys per the unpickler's encoding; a file
    # re-pickled under Python 3 may carry bytes keys: accept both.
    return {
        key.decode("latin1") if isinstance(key, bytes) else key: value
        for key, value in content.items()
    }


def _read_members(path: Path) -> dict[str, dict[str, object]]:
    """Unpickle the wanted members in one sequential pass over the archive."""
    contents: dict[str, dict[str, object]] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                if name in _MEMBERS and member.isfile() and name not in contents:
                    data = archive.extractfile(member).read()
                    contents[name] = _unpickle_member(path, member.name, data)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataFileError(
            path,
            "corrupt or truncated tar.gz archive",
            expected="a complete gzip-compressed tar archive",
            found=f"{type(error).__name__}: {error}",
            remedy="The file is damaged (an interrupted download?): fetch it again.",
        ) from error
    missing = [name for name in _MEMBERS if name not in contents]
    if missing:
        raise DataFileError(
            path,
            "missing archive members",
            expected=", ".join(f"cifar-10-batches-py/{name}" for name in _MEMBERS),
            found=f"no {', '.join(missing)}",
            remedy=_REMEDY,
        )
    return contents


def _batch_arrays(path: Path, name: str, batch: dict[str, object]) -> tuple[np.ndarray, list]:
    where = f"{path}[{name}]"
    data, labels = batch.get("data"), batch.get("labels")
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == 3072
    ):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else repr(type(data))
        raise DataFileError(
            where,
            "wrong 'data'",
            expected="a uint8 array of shape (N, 3072)",
            found=found,
            remedy=_REMEDY,
        )
    if not isinstance(labels, list) or len(labels) != len(data):
        found = f"{len(labels)} labels" if isinstance(labels, list) else repr(type(labels))
        raise DataFileError(
            where,
            "wrong 'labels'",
            expected=f"a list of {len(data)} ints",
            found=found,
            remedy=_REMEDY,
        )
    if not all(type(label) is int for label in labels):
        raise DataFileError(
            where, "wrong 'labels'", expected="ints", found="other values", remedy=_REMEDY
        )
    return data, labels


def load_cifar10(locator: DataLocator | None = None, *, source: DatasetSource = CIFAR10) -> Dataset:
    """Load CIFAR-10: 50,000 training and 10,000 test images, 32x32x3, 10 classes.

    Parameters
    ----------
    locator : DataLocator, optional
        Where to find the archive and whether to download it.
    source : DatasetSource
        The archive and its checksum (tests substitute a small archive).

    Returns
    -------
    Dataset
        ``data_batch_1`` .. ``data_batch_5`` in order, then ``test_batch`` from
        ``official_test_start`` on; class names from ``batches.meta``.
    """
    records = (locator or DataLocator()).fetch_all(source)
    path = records[0].path
    contents = _read_members(path)
    label_names = contents[META].get("label_names")
    if not (isinstance(label_names, list) and len(label_names) == 10):
        raise DataFileError(
            f"{path}[{META}]",
            "wrong 'label_names'",
            expected="a list of 10 class names",
            found=repr(label_names)[:200],
            remedy=_REMEDY,
        )
    class_names = tuple(
        name.decode("latin1") if isinstance(name, bytes) else str(name) for name in label_names
    )
    batches = [(name, *_batch_arrays(path, name, contents[name])) for name in _MEMBERS[:-1]]
    total = sum(len(data) for _, data, _ in batches)
    images = np.empty((total, *CIFAR10_IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(total, dtype=np.int64)
    start = 0
    for name, data, batch_labels in batches:
        stop = start + len(data)
        batch_label_array = np.asarray(batch_labels, dtype=np.int64)
        check_label_range(batch_label_array, 10, f"{path}[{name}]")
        # rows are (C, H, W) flattened -> (N, H, W, C)
        images[start:stop] = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels[start:stop] = batch_label_array
        start = stop
    return Dataset(
        name=source.name,
        images=images,
        labels=labels,
        class_names=class_names,
        sources=records,
        official_test_start=total - len(batches[-1][1]),
    )
