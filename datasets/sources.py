"""The canonical distribution files of every downloadable data set.

A :class:`DatasetSource` lists the files one data set is built from, each with its
published MD5 checksum and the URLs it can be fetched from (the first that answers with
the right bytes wins; mirrors are safe because the checksum is verified). The checksums
are the ones published with the data sets; for MNIST they are also those of the copies in
``shared/data`` (see ``shared/data/MANIFEST.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceFile:
    """One canonical file.

    Attributes
    ----------
    filename : str
        The file's canonical name, as downloaded.
    md5 : str
        Its MD5 checksum, lower-case hex.
    urls : tuple of str
        Where it can be downloaded from, tried in order.
    size : int or None
        Its size in bytes where published; lets a truncated file be reported as such.
    """

    filename: str
    md5: str
    urls: tuple[str, ...]
    size: int | None = None


@dataclass(frozen=True)
class DatasetSource:
    """The canonical files of one data set.

    Attributes
    ----------
    name : str
        The data set key; also the sub-folder that holds its files in a data directory
        or the cache (``DATA_DIR/mnist/train-images-idx3-ubyte.gz``).
    files : tuple of SourceFile
        The files, in the order the loader reads them.
    """

    name: str
    files: tuple[SourceFile, ...]

    def file(self, filename: str) -> SourceFile:
        """Return the entry of ``filename``.

        Raises
        ------
        KeyError
            If the data set has no such file.
        """
        for source_file in self.files:
            if source_file.filename == filename:
                return source_file
        raise KeyError(f"{self.name} has no file {filename!r}")

    def with_checksums(self, md5_by_filename: Mapping[str, str]) -> DatasetSource:
        """Return a copy whose files carry other checksums (and no known size).

        Tests build small files in the canonical formats and load them through the very
        same verification path by giving their checksums here.
        """
        files = tuple(
            dataclasses.replace(f, md5=md5_by_filename[f.filename], size=None)
            if f.filename in md5_by_filename
            else f
            for f in self.files
        )
        return dataclasses.replace(self, files=files)


def _mirrored(filename: str, md5: str, bases: tuple[str, ...], size: int | None) -> SourceFile:
    return SourceFile(filename, md5, tuple(base + filename for base in bases), size)


# yann.lecun.com has refused anonymous downloads at times; the two mirrors (used by
# TensorFlow/Keras and torchvision) serve byte-identical files.
_MNIST_BASES = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MNIST = DatasetSource(
    "mnist",
    (
        _mirrored(
            "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", _MNIST_BASES, 9912422
        ),
        _mirrored(
            "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", _MNIST_BASES, 28881
        ),
        _mirrored(
            "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", _MNIST_BASES, 1648877
        ),
        _mirrored(
            "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", _MNIST_BASES, 4542
        ),
    ),
)

_SVHN_BASES = ("http://ufldl.stanford.edu/housenumbers/",)

SVHN = DatasetSource(
    "svhn",
    (
        _mirrored("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373", _SVHN_BASES, None),
        _mirrored("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3", _SVHN_BASES, None),
    ),
)

CIFAR10 = DatasetSource(
    "cifar10",
    (
        SourceFile(
            "cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            170498071,
        ),
    ),
)

#: data set key -> its canonical files
SOURCES: dict[str, DatasetSource] = {s.name: s for s in (MNIST, SVHN, CIFAR10)}
