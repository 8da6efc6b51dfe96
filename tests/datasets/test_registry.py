"""``load_dataset`` keys."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from datasets import (
    DATASET_NAMES,
    ChecksumMismatchError,
    DataFileNotFoundError,
    UnknownDatasetError,
    info,
    load_dataset,
)
from datasets.__main__ import main


def test_keys():
    assert DATASET_NAMES == ("digits8x8", "mnist", "svhn", "cifar10")


def test_digits8x8():
    digits = load_dataset("digits8x8")
    assert (info("digits8x8").input_shape, info("digits8x8").num_classes) == ((8, 8, 1), 10)
    assert (info("digits8x8").train_count, info("digits8x8").test_count) == (1797, None)
    assert digits.images.shape == (1797, 8, 8, 1)
    assert digits.images.dtype == np.uint8
    assert digits.images.max() == 16 and digits.pixel_max == 16
    assert digits.official_test_start is None
    assert digits.class_names == tuple("0123456789")
    assert digits.sources[0].filename == "digits.csv.gz"
    assert len(digits.sources[0].md5) == 32


def test_info_of_every_key_needs_no_files():
    assert [info(name).name for name in DATASET_NAMES] == list(DATASET_NAMES)
    assert info("svhn").input_shape == (32, 32, 3) and info("svhn").test_count == 26032
    with pytest.raises(UnknownDatasetError, match="'fashion'"):
        info("fashion")


def test_info_of_an_idx_directory_reads_it(tmp_path, formats):
    formats.write_bytes(
        tmp_path / "train-images-idx3-ubyte", formats.idx_bytes(np.zeros((4, 3, 5), np.uint8))
    )
    formats.write_bytes(
        tmp_path / "train-labels-idx1-ubyte", formats.idx_bytes(np.arange(4, dtype=np.uint8))
    )
    described = info(f"idx:{tmp_path}")
    assert (described.input_shape, described.num_classes) == ((3, 5, 1), 4)
    assert (described.train_count, described.test_count) == (4, None)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(UnknownDatasetError) as caught:
        load_dataset("fashion")
    message = str(caught.value)
    assert "'fashion'" in message
    for name in DATASET_NAMES:
        assert name in message
    assert "idx:PATH" in message


def test_errors_survive_pickling_across_processes():
    error = ChecksumMismatchError(
        Path("/d/a.gz"), algorithm="md5", expected="1" * 32, actual="2" * 32, remedy="Fetch it."
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ChecksumMismatchError
    assert str(copy) == str(error)
    assert (copy.path, copy.expected, copy.actual) == (error.path, error.expected, error.actual)
    missing = pickle.loads(pickle.dumps(DataFileNotFoundError("no file")))
    assert (str(missing), missing.summary) == ("no file", "no file")
    missing = pickle.loads(pickle.dumps(DataFileNotFoundError("x\ny", summary="x missing")))
    assert (str(missing), missing.summary) == ("x\ny", "x missing")


def test_command_line_summary(capsys):
    assert main(["digits8x8", "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "digits8x8: 1797 images of (8, 8, 1), uint8" in printed
    assert (
        "fingerprint  a1f7507108e3c9da25e888352f3dbee9aaf1f45fbd3161c20b644f3f477bddb9" in printed
    )
    assert "{'train': 1293, 'validation': 144, 'test': 360}" in printed


def test_command_line_reports_a_missing_file(capsys, tmp_path):
    assert main(["mnist", "--no-download", "--cache-dir", str(tmp_path)]) == 1
    assert "train-images-idx3-ubyte.gz not found" in capsys.readouterr().err
