"""SVHN cropped digits from .mat files in the canonical (32, 32, 3, N) layout."""

from __future__ import annotations

import numpy as np
import pytest

from datasets import ChecksumMismatchError, DataFileError, DataLocator
from datasets.svhn import load_svhn


def _load(written, source=None):
    return load_svhn(DataLocator(data_dir=written.data_dir), source=source or written.source)


def _rewrite(svhn_files, formats, filename, images, labels, **options):
    path = formats.write_svhn_mat(svhn_files.path(filename), images, labels, **options)
    return path, svhn_files.source.with_checksums({filename: formats.md5_of(path)})


def test_svhn_loads_nhwc_with_label_10_as_digit_0(svhn_files):
    dataset = _load(svhn_files)
    assert dataset.images.shape == (40, 32, 32, 3)
    assert dataset.images.dtype == np.uint8
    np.testing.assert_array_equal(dataset.images, svhn_files.images)
    np.testing.assert_array_equal(dataset.labels, svhn_files.labels)
    assert dataset.official_test_start == 30
    assert set(dataset.labels.tolist()) == set(range(10))
    assert dataset.class_names == tuple("0123456789")


def test_the_mat_layout_is_height_width_channel_count(svhn_files):
    """X[row, column, channel, image] in the file is image[row, column, channel]."""
    from scipy.io import loadmat

    raw = loadmat(svhn_files.path("train_32x32.mat"))
    assert raw["X"].shape == (32, 32, 3, 30)
    assert 10 in raw["y"]
    dataset = _load(svhn_files)
    assert dataset.images[7, 3, 5, 2] == raw["X"][3, 5, 2, 7]
    assert dataset.labels[int(np.argmax(raw["y"][:, 0] == 10))] == 0


def test_float_labels_as_matlab_writes_them_are_accepted(svhn_files, formats):
    images, labels = svhn_files.images[30:], svhn_files.labels[30:]
    floats = np.where(labels == 0, 10, labels).astype(np.float64).reshape(-1, 1)
    _, source = _rewrite(svhn_files, formats, "test_32x32.mat", images, labels,
                         variables={"y": floats})  # fmt: skip
    np.testing.assert_array_equal(_load(svhn_files, source).labels[30:], labels)


def test_checksum_mismatch_names_file_and_both_checksums(svhn_files):
    with pytest.raises(ChecksumMismatchError) as caught:
        load_svhn(DataLocator(data_dir=svhn_files.data_dir, download=False))
    message = str(caught.value)
    assert str(svhn_files.path("train_32x32.mat")) in message
    assert "e26dedcc434d2e4c54c9b2d4a06d8373" in message
    assert svhn_files.source.files[0].md5 in message


def test_missing_variable(svhn_files, formats):
    from scipy.io import savemat

    path = svhn_files.path("test_32x32.mat")
    savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "labels": np.ones((2, 1))})
    source = svhn_files.source.with_checksums({path.name: formats.md5_of(path)})
    with pytest.raises(DataFileError, match="missing variables") as caught:
        _load(svhn_files, source)
    assert caught.value.path == path
    assert "variables X and y" in str(caught.value) and "'labels'" in str(caught.value)


def test_wrong_image_layout(svhn_files, formats):
    nchw_like = np.zeros((2, 32, 32, 3), np.uint8)  # saved as (32, 32, 3, 2) would be right
    _, source = _rewrite(svhn_files, formats, "test_32x32.mat", nchw_like, np.ones(2, np.uint8),
                         variables={"X": nchw_like})  # fmt: skip
    with pytest.raises(DataFileError, match=r"wrong shape of X: expected \(32, 32, 3, N\)"):
        _load(svhn_files, source)


@pytest.mark.parametrize("bad_label", [0, 11])
def test_labels_outside_1_to_10(svhn_files, formats, bad_label):
    images = svhn_files.images[30:]
    y = np.full((10, 1), 3, np.uint8)
    y[4] = bad_label
    path, source = _rewrite(svhn_files, formats, "test_32x32.mat", images, np.zeros(10),
                            variables={"y": y})  # fmt: skip
    with pytest.raises(DataFileError, match="label out of range") as caught:
        _load(svhn_files, source)
    assert caught.value.path == path
    assert f"labels 1..10, found label {bad_label} at index 4" in str(caught.value)


def test_non_uint8_pixels(svhn_files, formats):
    x = svhn_files.images[30:].transpose(1, 2, 3, 0).astype(np.float64)
    _, source = _rewrite(svhn_files, formats, "test_32x32.mat", svhn_files.images[30:],
                         svhn_files.labels[30:], variables={"X": x})  # fmt: skip
    with pytest.raises(DataFileError, match="wrong type of X: expected uint8 pixels"):
        _load(svhn_files, source)


@pytest.mark.parametrize("filename", ["train_32x32.mat", "test_32x32.mat"])
def test_truncated_mat_file(svhn_files, formats, filename):
    """A cut file whose checksum is (wrongly) trusted still fails with a clear error."""
    path = svhn_files.path(filename)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    source = svhn_files.source.with_checksums({filename: formats.md5_of(path)})
    with pytest.raises(DataFileError) as caught:
        _load(svhn_files, source)
    assert caught.value.path == path
    assert "fetch it again" in str(caught.value)
