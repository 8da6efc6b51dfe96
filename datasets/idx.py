"""The IDX format of MNIST, and loading any directory of MNIST-layout IDX files.

An IDX file is a 4-byte magic number ``0x0000TTDD`` (two zero bytes, the data type
``TT``, the number of dimensions ``DD``), ``DD`` big-endian uint32 sizes, then the data
in C order. MNIST's images are ``0x00000803`` (unsigned byte, 3 dimensions: count, rows,
columns) and its labels ``0x00000801``. Files may be gzip-compressed (recognised by
their content, not their name). Only unsigned-byte data is accepted, because pixels and
labels are kept as uint8.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from datasets.dataset import Dataset
from datasets.errors import DataFileError, DataFileNotFoundError
from datasets.files import record_file

IDX_UNSIGNED_BYTE = 0x08
_IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "16-bit integer",
    0x0C: "32-bit integer",
    0x0D: "32-bit float",
    0x0E: "64-bit float",
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 20
_CORRUPT_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)

IMAGE_DIMENSIONS = (3, 4)
LABEL_DIMENSIONS = (1,)


@contextmanager
def _open_idx(path: Path):
    with open(path, "rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as stream:
            yield stream
    except _CORRUPT_STREAM_ERRORS as error:
        raise DataFileError(
            path,
            "corrupt or truncated gzip stream",
            expected="a complete gzip-compressed IDX file",
            found=f"{type(error).__name__}: {error}",
            remedy="The file is damaged (an interrupted download?): fetch it again.",
        ) from error


def _magic_text(ndims: Sequence[int]) -> str:
    return " or ".join(f"0x{IDX_UNSIGNED_BYTE << 8 | n:08X}" for n in ndims)


def _read_header(stream: BinaryIO, path: Path, ndims: Sequence[int]) -> tuple[int, ...]:
    magic = stream.read(4)
    expected_magic = f"magic number {_magic_text(ndims)}"
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataFileError(
            path,
            "not an IDX file",
            expected=expected_magic,
            found=f"the bytes {magic.hex(' ') or 'nothing (empty file)'}",
            remedy="Check that this is the right file: MNIST-layout files are named like "
            "train-images-idx3-ubyte.gz.",
        )
    data_type, ndim = magic[2], magic[3]
    if data_type != IDX_UNSIGNED_BYTE:
        type_name = _IDX_TYPE_NAMES.get(data_type, "an unknown type")
        raise DataFileError(
            path,
            "unsupported IDX data type",
            expected=f"{expected_magic} (type 0x08, unsigned byte)",
            found=f"0x{int.from_bytes(magic, 'big'):08X} (type 0x{data_type:02X}, {type_name})",
            remedy="cnnbench keeps pixels and labels as unsigned bytes: convert the file to uint8.",
        )
    if ndim not in ndims:
        raise DataFileError(
            path,
            "wrong number of IDX dimensions",
            expected=f"{expected_magic} ({' or '.join(map(str, ndims))} dimensions)",
            found=f"0x{int.from_bytes(magic, 'big'):08X} ({ndim} dimensions)",
            remedy="Images need idx3 (count, rows, columns) or idx4 (..., channels) files "
            "and labels idx1 files: check that the files are not swapped.",
        )
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataFileError(
            path,
            "truncated IDX header",
            expected=f"{4 * ndim} bytes of dimension sizes",
            found=f"{len(sizes)} bytes",
            remedy="The file is damaged: fetch it again.",
        )
    return tuple(int(size) for size in np.frombuffer(sizes, dtype=">u4"))


def read_idx_shape(path: str | Path, *, ndims: Sequence[int]) -> tuple[int, ...]:
    """Return the array shape stored in an IDX file's header, reading nothing else.

    Parameters
    ----------
    path : path-like
        The file, plain or gzip-compressed.
    ndims : sequence of int
        The dimension counts accepted.

    Raises
    ------
    DataFileError
        On a wrong magic number, data type or dimension count, or a damaged file.
    """
    path = Path(path)
    with _open_idx(path) as stream:
        return _read_header(stream, path, ndims)


def read_idx(
    path: str | Path, *, ndims: Sequence[int], out: np.ndarray | None = None
) -> np.ndarray:
    """Read an unsigned-byte IDX file into a uint8 array.

    Parameters
    ----------
    path : path-like
        The file, plain or gzip-compressed.
    ndims : sequence of int
        The dimension counts accepted.
    out : numpy.ndarray, optional
        A C-contiguous uint8 array with as many elements as the file holds, filled in
        place (so train and test files land in one array with no extra copy).

    Returns
    -------
    numpy.ndarray
        ``out``, or a new array of the shape in the header.

    Raises
    ------
    DataFileError
        On a wrong header, a damaged gzip stream, too few or too many data bytes.
    """
    path = Path(path)
    with _open_idx(path) as stream:
        shape = _read_header(stream, path, ndims)
        count = int(np.prod(shape))
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        elif out.dtype != np.uint8 or out.size != count or not out.flags.c_contiguous:
            raise ValueError(
                f"{path}: out must be a C-contiguous uint8 array of {count} elements "
                f"(shape {shape}); got {out.dtype} {out.shape}"
            )
        view = memoryview(out).cast("B")
        filled = 0
        while filled < count:
            read = stream.readinto(view[filled : filled + _CHUNK_BYTES])
            if not read:
                break
            filled += read
        if filled < count:
            raise DataFileError(
                path,
                "truncated IDX data",
                expected=f"{count} data bytes for shape {shape}",
                found=f"{filled} bytes",
                remedy="The file is incomplete: fetch it again.",
            )
        if stream.read(1):
            raise DataFileError(
                path,
                "trailing bytes after the IDX data",
                expected=f"exactly {count} data bytes for shape {shape}",
                found="more",
                remedy="The header does not describe the file: it is damaged or not IDX.",
            )
    return out


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    return (shape[1], shape[2], shape[3] if len(shape) == 4 else 1)


def read_image_label_files(
    parts: Sequence[tuple[Path, Path]],
    *,
    image_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Read pairs of (images, labels) IDX files into one image and one label array.

    Parameters
    ----------
    parts : sequence of (path, path)
        ``(images file, labels file)`` per part, e.g. train then test.
    image_shape : (int, int, int), optional
        The ``(H, W, C)`` every image must have; otherwise the first file's.
    num_classes : int, optional
        Labels must lie in ``0 .. num_classes - 1``.

    Returns
    -------
    images : numpy.ndarray
        ``(N, H, W, C)`` uint8, the parts one after the other.
    labels : numpy.ndarray
        ``(N,)`` int64.
    starts : list of int
        Where each part begins in the arrays.
    """
    shapes = [read_idx_shape(images, ndims=IMAGE_DIMENSIONS) for images, _ in parts]
    expected_shape = image_shape or _image_shape(shapes[0])
    for (images_path, _), shape in zip(parts, shapes, strict=True):
        if _image_shape(shape) != expected_shape:
            raise DataFileError(
                images_path,
                "wrong image size",
                expected="x".join(map(str, expected_shape)) + " (height x width x channels)",
                found="x".join(map(str, _image_shape(shape))),
                remedy="All images of a data set must have one size; check that the file "
                "belongs to this data set.",
            )
    total = sum(shape[0] for shape in shapes)
    images = np.empty((total, *expected_shape), dtype=np.uint8)
    labels = np.empty(total, dtype=np.int64)
    starts = []
    start = 0
    for (images_path, labels_path), shape in zip(parts, shapes, strict=True):
        stop = start + shape[0]
        read_idx(images_path, ndims=IMAGE_DIMENSIONS, out=images[start:stop])
        part_labels = read_idx(labels_path, ndims=LABEL_DIMENSIONS)
        if len(part_labels) != shape[0]:
            raise DataFileError(
                labels_path,
                "label count does not match the images",
                expected=f"{shape[0]} labels, one per image in {images_path.name}",
                found=f"{len(part_labels)} labels",
                remedy="Check that the labels file belongs to the images file.",
            )
        if num_classes is not None:
            check_label_range(part_labels, num_classes, labels_path)
        labels[start:stop] = part_labels
        starts.append(start)
        start = stop
    return images, labels, starts


def check_label_range(
    labels: np.ndarray, num_classes: int, path: str | Path, offset: int = 0
) -> None:
    """Raise :class:`DataFileError` naming the first label outside ``offset .. offset+K-1``."""
    bad = np.flatnonzero((labels < offset) | (labels >= offset + num_classes))
    if bad.size:
        raise DataFileError(
            path,
            "label out of range",
            expected=f"labels {offset}..{offset + num_classes - 1}",
            found=f"label {labels[bad[0]]} at index {bad[0]} ({bad.size} labels out of range)",
            remedy="The file is damaged or belongs to another data set: fetch it again.",
        )


# Role -> name patterns of the MNIST layout ("emnist-digits-train-images-idx3-ubyte" fits).
_IDX_DIRECTORY_PATTERNS = {
    "train images": ("*train-images-idx[34]-ubyte",),
    "train labels": ("*train-labels-idx1-ubyte",),
    "test images": ("*t10k-images-idx[34]-ubyte", "*test-images-idx[34]-ubyte"),
    "test labels": ("*t10k-labels-idx1-ubyte", "*test-labels-idx1-ubyte"),
}
CLASS_NAMES_FILE = "classes.txt"


def _find_role(directory: Path, role: str) -> Path | None:
    matches = sorted(
        {
            path
            for pattern in _IDX_DIRECTORY_PATTERNS[role]
            for suffix in ("", ".gz")
            for path in directory.glob(pattern + suffix)
            if path.is_file()
        }
    )
    if len(matches) > 1:
        raise DataFileError(
            directory,
            f"more than one {role} file",
            expected="exactly one",
            found=", ".join(path.name for path in matches),
            remedy="Keep one file per role in the directory (plain or .gz, not both).",
        )
    return matches[0] if matches else None


def load_idx_directory(directory: str | Path, *, name: str | None = None) -> Dataset:
    """Load a directory of MNIST-layout IDX files as a custom data set (key ``idx:PATH``).

    The directory holds ``*train-images-idx3-ubyte`` (or ``idx4`` with channels) and
    ``*train-labels-idx1-ubyte``, plain or ``.gz``, and optionally the test pair
    ``*t10k-...`` or ``*test-...``. Without a test pair the split draws a test set from
    the training images. Class names come from ``classes.txt`` (one per line) when
    present, else ``"0" .. "K-1"`` for labels up to ``K - 1``.

    Parameters
    ----------
    directory : path-like
        The directory.
    name : str, optional
        The data set's name; ``"idx:" + directory`` when omitted.

    Raises
    ------
    DataFileNotFoundError
        If the directory or a required file is missing.
    DataFileError
        If a file is damaged or the files disagree.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataFileNotFoundError(
            f"idx:{directory}: no such directory. Give the directory that holds the "
            "MNIST-layout IDX files (train-images-idx3-ubyte.gz, ...)."
        )
    found = {role: _find_role(directory, role) for role in _IDX_DIRECTORY_PATTERNS}
    missing = [role for role in ("train images", "train labels") if found[role] is None]
    if (found["test images"] is None) != (found["test labels"] is None):
        missing.append("test labels" if found["test labels"] is None else "test images")
    if missing:
        raise DataFileNotFoundError(
            f"idx:{directory}: no {' and no '.join(missing)} file. An IDX data set "
            "directory holds train-images-idx3-ubyte and train-labels-idx1-ubyte (plain or "
            ".gz), and optionally t10k-images-idx3-ubyte with t10k-labels-idx1-ubyte."
        )
    parts = [(found["train images"], found["train labels"])]
    if found["test images"] is not None:
        parts.append((found["test images"], found["test labels"]))

    class_names_path = directory / CLASS_NAMES_FILE
    class_names = None
    if class_names_path.is_file():
        lines = class_names_path.read_text(encoding="utf-8").splitlines()
        class_names = tuple(line.strip() for line in lines if line.strip())
    images, labels, starts = read_image_label_files(
        parts, num_classes=len(class_names) if class_names else None
    )
    if class_names is None:
        class_names = tuple(str(label) for label in range(int(labels.max()) + 1))
    sources = [record_file(path) for pair in parts for path in pair]
    if class_names_path.is_file():
        sources.append(record_file(class_names_path))
    return Dataset(
        name=name or f"idx:{directory}",
        images=images,
        labels=labels,
        class_names=class_names,
        sources=tuple(sources),
        official_test_start=starts[1] if len(starts) > 1 else None,
    )
