"""The IDX reader and the MNIST loader, on files written to the IDX specification."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from datasets import ChecksumMismatchError, DataFileError, DataLocator
from datasets.idx import IMAGE_DIMENSIONS, LABEL_DIMENSIONS, read_idx, read_idx_shape
from datasets.mnist import load_mnist
from datasets.sources import MNIST


@pytest.mark.parametrize("filename", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_plain_and_gzip(tmp_path, formats, filename):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    path = formats.write_bytes(tmp_path / filename, formats.idx_bytes(images))
    assert read_idx_shape(path, ndims=IMAGE_DIMENSIONS) == (7, 5, 4)
    np.testing.assert_array_equal(read_idx(path, ndims=IMAGE_DIMENSIONS), images)


def test_read_idx_fills_a_given_array_in_place(tmp_path, formats):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    path = formats.write_bytes(tmp_path / "x-idx3-ubyte.gz", formats.idx_bytes(images))
    out = np.zeros((4, 3, 3, 1), dtype=np.uint8)
    read_idx(path, ndims=IMAGE_DIMENSIONS, out=out[1:3])
    np.testing.assert_array_equal(out[1:3, ..., 0], images)
    assert not out[0].any() and not out[3].any()


def _header(type_code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(
        size.to_bytes(4, "big") for size in shape
    )


@pytest.mark.parametrize(
    ("data", "problem", "fragments"),
    [
        (b"\x1f\x00\x08\x03" + bytes(20), "not an IDX file", ["0x00000803", "1f 00 08 03"]),
        (b"", "not an IDX file", ["empty file"]),
        (_header(0x0D, (1, 2, 2)) + bytes(16), "unsupported IDX data type", ["0x0D", "float"]),
        (_header(0x08, (4,)) + bytes(4), "wrong number of IDX dimensions", ["1 dimensions"]),
        (_header(0x08, (2, 3, 3))[:9], "truncated IDX header", ["12 bytes", "found 5 bytes"]),
        (_header(0x08, (2, 3, 3)) + bytes(17), "truncated IDX data", ["18 data bytes", "17"]),
        (_header(0x08, (2, 3, 3)) + bytes(19), "trailing bytes", ["exactly 18"]),
    ],
)
def test_bad_idx_files_name_the_file_and_the_mismatch(tmp_path, formats, data, problem, fragments):
    path = formats.write_bytes(tmp_path / "bad-images-idx3-ubyte.gz", data)
    with pytest.raises(DataFileError) as caught:
        read_idx(path, ndims=IMAGE_DIMENSIONS)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert caught.value.path == path
    for fragment in fragments:
        assert fragment in message


def test_truncated_gzip_stream_is_reported(tmp_path, formats):
    images = np.random.default_rng(1).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    whole = gzip.compress(formats.idx_bytes(images))
    path = tmp_path / "cut-images-idx3-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip stream") as caught:
        read_idx(path, ndims=IMAGE_DIMENSIONS)
    assert str(path) in str(caught.value)
    assert "fetch it again" in str(caught.value)


def test_labels_read_as_one_dimension(tmp_path, formats):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = formats.write_bytes(tmp_path / "l-idx1-ubyte", formats.idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(path, ndims=LABEL_DIMENSIONS), labels)
    with pytest.raises(DataFileError, match="wrong number of IDX dimensions"):
        read_idx(path, ndims=IMAGE_DIMENSIONS)


def test_load_mnist_from_canonical_layout(mnist_files):
    dataset = load_mnist(DataLocator(data_dir=mnist_files.data_dir), source=mnist_files.source)
    assert dataset.name == "mnist"
    assert dataset.images.shape == (80, 28, 28, 1)
    assert dataset.images.dtype == np.uint8
    assert dataset.image_shape == (28, 28, 1)
    np.testing.assert_array_equal(dataset.images, mnist_files.images)
    np.testing.assert_array_equal(dataset.labels, mnist_files.labels)
    assert dataset.labels.dtype == np.int64
    assert dataset.official_test_start == 60
    assert dataset.class_names == tuple("0123456789")
    assert [record.filename for record in dataset.sources] == [f.filename for f in MNIST.files]
    assert [record.md5 for record in dataset.sources] == [f.md5 for f in mnist_files.source.files]


def test_dataset_arrays_are_read_only(mnist_files):
    dataset = load_mnist(DataLocator(data_dir=mnist_files.data_dir), source=mnist_files.source)
    with pytest.raises(ValueError, match="read-only"):
        dataset.images[0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        dataset.labels[0] = 1


def test_mnist_with_canonical_checksums_rejects_other_files(mnist_files):
    with pytest.raises(ChecksumMismatchError) as caught:
        load_mnist(DataLocator(data_dir=mnist_files.data_dir, download=False))
    error = caught.value
    path = mnist_files.path("train-images-idx3-ubyte.gz")
    assert error.path == path
    assert error.expected == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert error.actual == mnist_files.source.files[0].md5
    message = str(error)
    for fragment in (str(path), error.expected, error.actual, "bytes instead of 9912422",
                     "delete it"):  # fmt: skip
        assert fragment in message


def test_label_out_of_range_names_file_and_index(mnist_files, formats):
    labels = np.zeros(20, dtype=np.uint8)
    labels[13] = 10
    path = formats.write_bytes(
        mnist_files.path("t10k-labels-idx1-ubyte.gz"), formats.idx_bytes(labels)
    )
    source = mnist_files.source.with_checksums({path.name: formats.md5_of(path)})
    with pytest.raises(DataFileError, match="label out of range") as caught:
        load_mnist(DataLocator(data_dir=mnist_files.data_dir), source=source)
    assert caught.value.path == path
    assert "labels 0..9" in str(caught.value)
    assert "label 10 at index 13" in str(caught.value)


def test_label_count_must_match_image_count(mnist_files, formats):
    path = formats.write_bytes(
        mnist_files.path("train-labels-idx1-ubyte.gz"),
        formats.idx_bytes(np.zeros(59, dtype=np.uint8)),
    )
    source = mnist_files.source.with_checksums({path.name: formats.md5_of(path)})
    with pytest.raises(DataFileError, match="label count does not match") as caught:
        load_mnist(DataLocator(data_dir=mnist_files.data_dir), source=source)
    assert caught.value.path == path
    assert "60 labels" in str(caught.value) and "found 59 labels" in str(caught.value)


def test_wrong_image_size_is_reported(mnist_files, formats):
    path = formats.write_bytes(
        mnist_files.path("t10k-images-idx3-ubyte.gz"),
        formats.idx_bytes(np.zeros((20, 32, 28), dtype=np.uint8)),
    )
    source = mnist_files.source.with_checksums({path.name: formats.md5_of(path)})
    with pytest.raises(DataFileError, match="wrong image size") as caught:
        load_mnist(DataLocator(data_dir=mnist_files.data_dir), source=source)
    assert caught.value.path == path
    assert "expected 28x28x1" in str(caught.value) and "found 32x28x1" in str(caught.value)
