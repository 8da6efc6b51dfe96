"""SVHN (cropped digits) from ``train_32x32.mat`` and ``test_32x32.mat``.

The ``.mat`` files hold ``X``, the images as (32, 32, 3, N) uint8 (MATLAB's column-major
order: one image is ``X[:, :, :, i]``, rows by columns by RGB), and ``y``, the labels as
(N, 1) with 1..9 for the digits 1..9 and 10 for the digit 0. The loader returns NHWC
images and labels 0..9 (10 becomes 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.dataset import Dataset
from datasets.errors import DataFileError
from datasets.files import DataLocator
from datasets.idx import check_label_range
from datasets.sources import SVHN, DatasetSource

SVHN_IMAGE_SHAPE = (32, 32, 3)
SVHN_CLASS_NAMES = tuple(str(digit) for digit in range(10))
_REMEDY = (
    "It is not a complete canonical SVHN cropped-digits file (train_32x32.mat or "
    "test_32x32.mat): fetch it again."
)


def _mat_error(path: Path, problem: str, expected: str, found: str) -> DataFileError:
    return DataFileError(path, problem, expected=expected, found=found, remedy=_REMEDY)


def read_svhn_shape(path: str | Path) -> int:
    """Check the variables of an SVHN ``.mat`` file without loading them; return N.

    Raises
    ------
    DataFileError
        If the file is not a readable MATLAB file, or ``X`` or ``y`` is missing or has
        the wrong shape.
    """
    from scipy.io import whosmat

    path = Path(path)
    try:
        variables = {name: shape for name, shape, _ in whosmat(path)}
    except Exception as error:  # scipy raises several types for damaged files
        raise DataFileError(
            path,
            "not a readable MATLAB file",
            expected="a MATLAB v5/v7 .mat file with variables X and y",
            found=f"{type(error).__name__}: {error}",
            remedy="The file is damaged (an interrupted download?): fetch it again.",
        ) from error
    if "X" not in variables or "y" not in variables:
        raise _mat_error(path, "missing variables", "variables X and y", f"{sorted(variables)}")
    image_shape = variables["X"]
    if len(image_shape) != 4 or tuple(image_shape[:3]) != SVHN_IMAGE_SHAPE:
        raise _mat_error(path, "wrong shape of X", "(32, 32, 3, N)", str(tuple(image_shape)))
    count = image_shape[3]
    if tuple(variables["y"]) not in {(count, 1), (1, count)}:
        raise _mat_error(path, "wrong shape of y", f"({count}, 1)", str(tuple(variables["y"])))
    return count


def read_svhn_mat(path: str | Path, out: np.ndarray, labels_out: np.ndarray) -> None:
    """Read one SVHN ``.mat`` file into NHWC images and labels 0..9.

    Parameters
    ----------
    path : path-like
        The file (its shape already checked by :func:`read_svhn_shape`).
    out : numpy.ndarray
        ``(N, 32, 32, 3)`` uint8, filled in place.
    labels_out : numpy.ndarray
        ``(N,)`` int64, filled in place.

    Raises
    ------
    DataFileError
        On damaged data, a non-uint8 ``X``, or labels outside 1..10.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        variables = loadmat(path, variable_names=("X", "y"))
    except Exception as error:  # scipy raises several types for damaged files
        raise DataFileError(
            path,
            "damaged MATLAB data",
            expected="readable variables X and y",
            found=f"{type(error).__name__}: {error}",
            remedy="The file is damaged (an interrupted download?): fetch it again.",
        ) from error
    images, labels = variables["X"], variables["y"].reshape(-1)
    if images.dtype != np.uint8:
        raise _mat_error(path, "wrong type of X", "uint8 pixels", str(images.dtype))
    if images.shape != (*SVHN_IMAGE_SHAPE, len(out)) or len(labels) != len(out):
        raise _mat_error(
            path,
            "wrong shapes",
            f"X {(*SVHN_IMAGE_SHAPE, len(out))}, y ({len(out)}, 1)",
            f"X {images.shape}, y {variables['y'].shape}",
        )
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise _mat_error(path, "non-integer labels", "whole numbers 1..10", "fractions")
    labels = labels.astype(np.int64)
    check_label_range(labels, 10, path, offset=1)
    # (H, W, C, N) -> (N, H, W, C)
    out[...] = images.transpose(3, 0, 1, 2)
    labels_out[...] = labels % 10


def load_svhn(locator: DataLocator | None = None, *, source: DatasetSource = SVHN) -> Dataset:
    """Load SVHN cropped digits: 73,257 training and 26,032 test images, 32x32x3.

    Parameters
    ----------
    locator : DataLocator, optional
        Where to find the files and whether to download them.
    source : DatasetSource
        The files and their checksums (tests substitute small files).

    Returns
    -------
    Dataset
        Training images first, test images from ``official_test_start`` on; label 0 is
        the digit 0 (10 in the files).
    """
    records = (locator or DataLocator()).fetch_all(source)
    path = {record.filename: record.path for record in records}
    train_path, test_path = path["train_32x32.mat"], path["test_32x32.mat"]
    train_count, test_count = read_svhn_shape(train_path), read_svhn_shape(test_path)
    images = np.empty((train_count + test_count, *SVHN_IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(train_count + test_count, dtype=np.int64)
    read_svhn_mat(train_path, images[:train_count], labels[:train_count])
    read_svhn_mat(test_path, images[train_count:], labels[train_count:])
    return Dataset(
        name=source.name,
        images=images,
        labels=labels,
        class_names=SVHN_CLASS_NAMES,
        sources=records,
        official_test_start=train_count,
    )
