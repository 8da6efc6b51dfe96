"""Any directory of MNIST-layout IDX files loads as a custom data set (``idx:PATH``)."""

from __future__ import annotations

import numpy as np
import pytest

from datasets import DataFileError, DataFileNotFoundError, load_dataset, make_split
from datasets.idx import load_idx_directory


def _write_pair(formats, directory, prefix, images, labels, suffix=".gz"):
    kind = "idx4" if images.ndim == 4 else "idx3"
    formats.write_bytes(directory / f"{prefix}-images-{kind}-ubyte{suffix}",
                        formats.idx_bytes(images))  # fmt: skip
    formats.write_bytes(directory / f"{prefix}-labels-idx1-ubyte{suffix}",
                        formats.idx_bytes(labels))  # fmt: skip


def test_directory_with_train_and_test_pairs(tmp_path, formats):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(12, 6, 5), dtype=np.uint8)
    test = rng.integers(0, 256, size=(4, 6, 5), dtype=np.uint8)
    train_labels = np.array([0, 1, 2] * 4, dtype=np.uint8)
    test_labels = np.array([2, 1, 0, 1], dtype=np.uint8)
    _write_pair(formats, tmp_path, "fashion-train", train, train_labels, suffix="")
    _write_pair(formats, tmp_path, "fashion-t10k", test, test_labels)

    dataset = load_dataset(f"idx:{tmp_path}")

    assert dataset.name == f"idx:{tmp_path}"
    assert dataset.image_shape == (6, 5, 1)
    np.testing.assert_array_equal(dataset.images[..., 0], np.concatenate([train, test]))
    np.testing.assert_array_equal(dataset.labels, np.concatenate([train_labels, test_labels]))
    assert dataset.official_test_start == 12
    assert dataset.class_names == ("0", "1", "2")
    assert sorted(record.filename for record in dataset.sources) == sorted(
        path.name for path in tmp_path.iterdir()
    )
    assert all(record.md5 == formats.md5_of(record.path) for record in dataset.sources)


def test_idx4_colour_images_and_class_names_file(tmp_path, formats):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(10, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(10, dtype=np.uint8) % 2
    _write_pair(formats, tmp_path, "train", images, labels)
    (tmp_path / "classes.txt").write_text("cat\ndog\n", encoding="utf-8")

    dataset = load_idx_directory(tmp_path)

    np.testing.assert_array_equal(dataset.images, images)
    assert dataset.class_names == ("cat", "dog")
    assert dataset.official_test_start is None
    split = make_split(dataset, seed=0, test_size=2, validation_size=2)
    assert split.sizes == {"train": 6, "validation": 2, "test": 2}


def test_labels_beyond_the_class_names_file_are_refused(tmp_path, formats):
    _write_pair(formats, tmp_path, "train", np.zeros((3, 2, 2), np.uint8),
                np.array([0, 1, 2], np.uint8))  # fmt: skip
    (tmp_path / "classes.txt").write_text("cat\ndog\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"labels 0\.\.1"):
        load_idx_directory(tmp_path)


def test_missing_directory_and_files_are_named(tmp_path, formats):
    with pytest.raises(DataFileNotFoundError, match="no such directory"):
        load_dataset(f"idx:{tmp_path / 'absent'}")
    with pytest.raises(DataFileNotFoundError, match="no train images and no train labels"):
        load_idx_directory(tmp_path)
    _write_pair(formats, tmp_path, "train", np.zeros((3, 2, 2), np.uint8), np.zeros(3, np.uint8))
    formats.write_bytes(tmp_path / "t10k-images-idx3-ubyte.gz",
                        formats.idx_bytes(np.zeros((1, 2, 2), np.uint8)))  # fmt: skip
    with pytest.raises(DataFileNotFoundError, match="no test labels"):
        load_idx_directory(tmp_path)


def test_two_files_for_one_role_are_ambiguous(tmp_path, formats):
    images, labels = np.zeros((3, 2, 2), np.uint8), np.zeros(3, np.uint8)
    _write_pair(formats, tmp_path, "train", images, labels)
    _write_pair(formats, tmp_path, "train", images, labels, suffix="")
    with pytest.raises(DataFileError, match="more than one train images file"):
        load_idx_directory(tmp_path)


def test_test_images_of_another_size_are_refused(tmp_path, formats):
    _write_pair(formats, tmp_path, "train", np.zeros((3, 2, 2), np.uint8), np.zeros(3, np.uint8))
    _write_pair(formats, tmp_path, "t10k", np.zeros((3, 2, 3), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(DataFileError, match="wrong image size") as caught:
        load_idx_directory(tmp_path)
    assert caught.value.path.name == "t10k-images-idx3-ubyte.gz"
