"""MNIST from its four canonical IDX files."""

from __future__ import annotations

from datasets.dataset import Dataset
from datasets.files import DataLocator
from datasets.idx import read_image_label_files
from datasets.sources import MNIST, DatasetSource

MNIST_IMAGE_SHAPE = (28, 28, 1)
MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))


def load_mnist(locator: DataLocator | None = None, *, source: DatasetSource = MNIST) -> Dataset:
    """Load MNIST: 60,000 training and 10,000 test images, 28x28x1, digits 0..9.

    Parameters
    ----------
    locator : DataLocator, optional
        Where to find the files and whether to download them; defaults search
        ``CNNBENCH_DATA`` and the cache and download what is missing.
    source : DatasetSource
        The files and their checksums (tests substitute small files).

    Returns
    -------
    Dataset
        Training images first, test images from ``official_test_start`` on.
    """
    records = (locator or DataLocator()).fetch_all(source)
    path = {record.filename: record.path for record in records}
    images, labels, starts = read_image_label_files(
        [
            (path["train-images-idx3-ubyte.gz"], path["train-labels-idx1-ubyte.gz"]),
            (path["t10k-images-idx3-ubyte.gz"], path["t10k-labels-idx1-ubyte.gz"]),
        ],
        image_shape=MNIST_IMAGE_SHAPE,
        num_classes=len(MNIST_CLASS_NAMES),
    )
    return Dataset(
        name=source.name,
        images=images,
        labels=labels,
        class_names=MNIST_CLASS_NAMES,
        sources=records,
        official_test_start=starts[1],
    )
