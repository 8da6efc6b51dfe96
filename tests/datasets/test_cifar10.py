"""CIFAR-10 from a tar.gz of Python-2 pickled batches, unpickled with a restricted unpickler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from datasets import ChecksumMismatchError, DataFileError, DataLocator, UnsafePickleError
from datasets.cifar10 import load_cifar10

ARCHIVE = "cifar-10-python.tar.gz"


def _load(written, source=None):
    return load_cifar10(DataLocator(data_dir=written.data_dir), source=source or written.source)


def _archive_with(cifar_files, cifar_members, formats, **replaced):
    members = {**cifar_members.members, **replaced}
    members = {name: data for name, data in members.items() if data is not None}
    path = formats.write_cifar_archive(cifar_files.path(ARCHIVE), members)
    return path, cifar_files.source.with_checksums({ARCHIVE: formats.md5_of(path)})


def test_cifar10_loads_nhwc_in_batch_order(cifar_files):
    dataset = _load(cifar_files)
    assert dataset.images.shape == (26, 32, 32, 3)
    np.testing.assert_array_equal(dataset.images, cifar_files.images)
    np.testing.assert_array_equal(dataset.labels, cifar_files.labels)
    assert dataset.official_test_start == 20
    assert dataset.class_names[:3] == ("airplane", "automobile", "bird")
    assert dataset.num_classes == 10
    assert dataset.sources[0].filename == ARCHIVE


def test_rows_are_channel_planes(cifar_files, cifar_members):
    """Row value c*1024 + h*32 + w is pixel (h, w) of channel c."""
    row = pickle.loads(cifar_members.members["data_batch_2"], encoding="latin1")["data"][1]
    image = _load(cifar_files).images[5]
    for h, w, c in [(0, 0, 0), (3, 17, 1), (31, 30, 2)]:
        assert image[h, w, c] == row[c * 1024 + h * 32 + w]


def test_python3_repickled_batches_are_accepted(cifar_files, cifar_members, formats):
    """NumPy 2's module name and bytes keys, as a Python 3 re-pickle writes them."""
    batch = pickle.loads(cifar_members.members["test_batch"], encoding="latin1")
    repickled = pickle.dumps({key.encode(): value for key, value in batch.items()}, protocol=4)
    assert b"numpy._core" in repickled or b"numpy.core" in repickled
    _, source = _archive_with(cifar_files, cifar_members, formats, test_batch=repickled)
    np.testing.assert_array_equal(_load(cifar_files, source).images, cifar_files.images)


def test_checksum_mismatch(cifar_files):
    with pytest.raises(ChecksumMismatchError) as caught:
        load_cifar10(DataLocator(data_dir=cifar_files.data_dir, download=False))
    assert "c58f30108f718f92721af3b95e74349a" in str(caught.value)
    assert "bytes instead of 170498071" in str(caught.value)


def test_code_in_a_pickle_is_refused_not_run(cifar_files, cifar_members, formats, tmp_path):
    marker = tmp_path / "pwned"
    payload = (
        b"\x80\x02cposix\nsystem\nq\x00X" + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode() + b"\x85R."
    )  # fmt: skip
    path, source = _archive_with(cifar_files, cifar_members, formats, data_batch_3=payload)
    with pytest.raises(UnsafePickleError) as caught:
        _load(cifar_files, source)
    assert not marker.exists()
    message = str(caught.value)
    assert f"{path}[cifar-10-batches-py/data_batch_3]" in message
    assert "posix.system" in message
    assert "NumPy uint8 arrays" in message


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        (np.zeros((2, 3072), dtype=np.float32), "dtype"),
        (np.array([object()], dtype=object)[:0], "dtype"),
        (np.ma.zeros((1, 3072), dtype=np.uint8), "numpy.ma"),
        (np.uint8(3), "scalar"),
    ],
)
def test_anything_but_plain_uint8_arrays_is_refused(
    cifar_files, cifar_members, formats, value, refused
):
    pickled = formats.python2_pickle({"data": value, "labels": []})
    _, source = _archive_with(cifar_files, cifar_members, formats, data_batch_1=pickled)
    with pytest.raises(UnsafePickleError, match=refused):
        _load(cifar_files, source)


def test_missing_member(cifar_files, cifar_members, formats):
    path, source = _archive_with(cifar_files, cifar_members, formats, data_batch_4=None)
    with pytest.raises(DataFileError, match="missing archive members") as caught:
        _load(cifar_files, source)
    assert caught.value.path == path
    assert "found no data_batch_4" in str(caught.value)


def test_truncated_archive(cifar_files, formats):
    path = cifar_files.path(ARCHIVE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    source = cifar_files.source.with_checksums({ARCHIVE: formats.md5_of(path)})
    with pytest.raises(DataFileError, match=r"corrupt or truncated tar\.gz") as caught:
        _load(cifar_files, source)
    assert caught.value.path == path


def test_wrong_row_length(cifar_files, cifar_members, formats):
    pickled = formats.python2_pickle(
        {"data": np.zeros((4, 1024), dtype=np.uint8), "labels": [0, 1, 2, 3]}
    )
    _, source = _archive_with(cifar_files, cifar_members, formats, data_batch_2=pickled)
    with pytest.raises(DataFileError, match=r"wrong 'data': expected a uint8 array of shape"):
        _load(cifar_files, source)


def test_label_out_of_range(cifar_files, cifar_members, formats):
    images = cifar_files.images[20:]
    labels = np.zeros(len(images), dtype=np.int64)
    labels[2] = 12
    pickled = formats.python2_pickle(formats.cifar_batch(images, labels, "testing batch 1 of 1"))
    _, source = _archive_with(cifar_files, cifar_members, formats, test_batch=pickled)
    with pytest.raises(DataFileError, match="label out of range") as caught:
        _load(cifar_files, source)
    assert "test_batch" in str(caught.value)
    assert "label 12 at index 2" in str(caught.value)


def test_not_a_dict(cifar_files, cifar_members, formats):
    _, source = _archive_with(
        cifar_files, cifar_members, formats, **{"batches.meta": formats.python2_pickle([1, 2])}
    )
    with pytest.raises(DataFileError, match="expected a pickled dict, found list"):
        _load(cifar_files, source)
