"""Batch order and per-batch pixel scaling shared by both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets import (
    Batches,
    Dataset,
    PixelScaler,
    SourceRecord,
    batch_indices,
    epoch_order,
    load_dataset,
    make_split,
    num_batches,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits8x8")


def test_epoch_order_is_a_seeded_permutation():
    indices = np.arange(100, 200)
    order = epoch_order(indices, seed=5, epoch=0)
    np.testing.assert_array_equal(np.sort(order), indices)
    assert not np.array_equal(order, indices)
    np.testing.assert_array_equal(epoch_order(indices, seed=5, epoch=0), order)
    assert not np.array_equal(epoch_order(indices, seed=5, epoch=1), order)
    assert not np.array_equal(epoch_order(indices, seed=6, epoch=0), order)
    np.testing.assert_array_equal(epoch_order(indices, seed=None), indices)


def test_batch_indices_cover_every_index_once():
    indices = np.arange(10, 33)
    batches = list(batch_indices(indices, 5, seed=1, epoch=2))
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(batches), epoch_order(indices, 1, 2))
    assert [len(b) for b in batch_indices(indices, 5, drop_remainder=True)] == [5] * 4
    assert num_batches(23, 5) == 5 and num_batches(23, 5, drop_remainder=True) == 4
    with pytest.raises(ValueError, match="at least 1"):
        num_batches(23, 0)


def test_unit_scaler_maps_to_0_1(digits):
    scaler = PixelScaler.unit(digits)
    x = scaler(digits.images[:10])
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, digits.images[:10] / 16.0, rtol=1e-7, atol=0)
    assert scaler(digits.images[:2], np.float64).dtype == np.float64


def test_standardize_uses_the_given_indices_only(digits):
    split = make_split(digits, seed=0)
    scaler = PixelScaler.standardize(digits, split.train)
    train = digits.images[split.train].astype(np.float64)
    np.testing.assert_allclose(scaler.offset, [-train.mean() / train.std()], rtol=1e-12, atol=0)
    np.testing.assert_allclose(scaler.scale, [1 / train.std()], rtol=1e-12, atol=0)
    x = scaler(digits.images[split.train], np.float64)
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    other = PixelScaler.standardize(digits, split.test)
    assert other.scale[0] != scaler.scale[0]


def test_standardize_per_channel_and_constant_channel():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3000, 4, 4, 3), dtype=np.uint8)
    images[..., 2] = 9
    record = SourceRecord("x", Path("x"), "0" * 32, 1)
    dataset = Dataset("rgb", images, np.zeros(3000, np.int64), ("a",), (record,))
    indices = np.arange(0, 3000, 2)
    scaler = PixelScaler.standardize(dataset, indices)  # spans several chunks
    chosen = images[indices].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(scaler.scale[:2], 1 / chosen[:, :2].std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.offset[:2], -chosen[:, :2].mean(0) / chosen[:, :2].std(0))
    assert scaler.scale[2] == 1.0 and scaler.offset[2] == -9.0


def test_batches_yield_scaled_images_and_labels_in_epoch_order(digits):
    split = make_split(digits, seed=0)
    scaler = PixelScaler.unit(digits)
    batches = Batches(digits, split.train, 128, scaler, seed=3)
    assert len(batches) == 11
    x, y = batches[0]
    expected_order = epoch_order(split.train, 3, 0)
    np.testing.assert_array_equal(y, digits.labels[expected_order[:128]])
    np.testing.assert_array_equal(x, scaler(digits.images[expected_order[:128]]))
    assert batches[-1][0].shape == (1293 - 10 * 128, 8, 8, 1)
    assert sum(len(y) for _, y in batches) == 1293
    batches.set_epoch(1)
    np.testing.assert_array_equal(
        batches[0][1], digits.labels[epoch_order(split.train, 3, 1)[:128]]
    )
    with pytest.raises(IndexError):
        batches[11]
    # the data set itself is untouched
    assert digits.images.dtype == np.uint8 and not digits.images.flags.writeable


def test_two_consumers_see_identical_batches(digits):
    """What the harness relies on: Keras and scratch_cnn get the same batches, in order."""
    split = make_split(digits, seed=2)
    scaler = PixelScaler.unit(digits)
    keras_side = Batches(digits, split.train, 64, scaler, seed=9, epoch=4)
    scratch_side = Batches(digits, split.train, 64, scaler, seed=9, epoch=4)
    for (x1, y1), (x2, y2) in zip(keras_side, scratch_side, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_pixel_scaler_scales_array_api_batches_in_their_own_namespace():
    """A batch staged on another device (here array_api_strict, on a GPU CuPy) is scaled
    with that library's functions and gives the NumPy result."""
    import array_api_strict as xp

    from datasets import PixelScaler

    scaler = PixelScaler(np.array([0.5, 0.25]), np.array([-1.0, 2.0]))
    images = np.arange(24, dtype=np.uint8).reshape(1, 3, 4, 2)
    scaled = scaler(xp.asarray(images))
    assert scaled.dtype == xp.float32
    np.testing.assert_allclose(np.from_dlpack(scaled), scaler(images), rtol=1e-7)
