"""``digits8x8``: scikit-learn's 1,797 8x8 handwritten digits, shipped with scikit-learn.

Pixels are whole numbers 0..16 (the count of set pixels in each 4x4 block of the
original 32x32 bitmaps), kept as uint8 with ``pixel_max = 16``. The data set has no
official test set: the split draws one (20%, as in seed 000).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from datasets.dataset import Dataset
from datasets.errors import DataFileError
from datasets.files import record_file

DIGITS_PIXEL_MAX = 16
_DIGITS_RESOURCE = ("sklearn.datasets.data", "digits.csv.gz")


def load_digits8x8() -> Dataset:
    """Load scikit-learn's digits as 1797 uint8 images of 8x8x1 with labels 0..9.

    Returns
    -------
    Dataset
        No official test set; ``sources`` holds the shipped ``digits.csv.gz`` and its
        checksum, so a change of the shipped data changes every split fingerprint.
    """
    from sklearn.datasets import load_digits

    package, filename = _DIGITS_RESOURCE
    path = Path(str(resources.files(package).joinpath(filename)))
    bunch = load_digits()
    pixels = bunch.images
    if (
        pixels.min() < 0
        or pixels.max() > DIGITS_PIXEL_MAX
        or not np.array_equal(pixels, np.round(pixels))
    ):
        raise DataFileError(
            path,
            "unexpected pixel values",
            expected=f"whole numbers 0..{DIGITS_PIXEL_MAX}",
            found=f"values from {pixels.min()} to {pixels.max()}",
            remedy="scikit-learn's shipped digits changed: reinstall scikit-learn.",
        )
    return Dataset(
        name="digits8x8",
        images=pixels.astype(np.uint8)[..., np.newaxis],
        labels=bunch.target.astype(np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
        sources=(record_file(path),),
        official_test_start=None,
        pixel_max=DIGITS_PIXEL_MAX,
    )
