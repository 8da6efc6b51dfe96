"""Seeded, stratified splits and their fingerprints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import Dataset, SourceRecord, load_dataset, make_split, split_fingerprint
from datasets.splits import random_keys, stratified_counts, stratified_draw

#: make_split(load_dataset("digits8x8"), seed=0).fingerprint, fixed for good: a change
#: here means every recorded digits8x8 result stops matching its split.
DIGITS_SEED0_FINGERPRINT = "a1f7507108e3c9da25e888352f3dbee9aaf1f45fbd3161c20b644f3f477bddb9"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits8x8")


def _toy(counts, test_count=None, name="toy"):
    labels = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    images = np.zeros((len(labels), 2, 2, 1), dtype=np.uint8)
    record = SourceRecord("toy.bin", Path("toy.bin"), "0" * 32, 1)
    start = None if test_count is None else len(labels) - test_count
    return Dataset(name, images, labels, tuple(map(str, range(len(counts)))), (record,), start)


def test_digits_split_sizes_and_coverage(digits):
    split = make_split(digits, seed=0)
    assert split.sizes == {"train": 1293, "validation": 144, "test": 360}  # 20% test, 10% val
    everything = np.concatenate([split.train, split.validation, split.test])
    np.testing.assert_array_equal(np.sort(everything), np.arange(1797))
    for part in (split.train, split.validation, split.test):
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0)  # sorted, no repeats


def test_digits_split_is_stratified(digits):
    split = make_split(digits, seed=3)
    all_counts = digits.class_counts()
    for part in (split.test, split.validation, split.train):
        exact = all_counts * len(part) / len(digits)
        assert np.all(np.abs(digits.class_counts(part) - exact) < 1.0 + 1e-9)


def test_same_seed_same_split_other_seed_other_split(digits):
    first, again = make_split(digits, seed=7), make_split(digits, seed=7)
    assert first.fingerprint == again.fingerprint
    np.testing.assert_array_equal(first.test, again.test)
    other = make_split(digits, seed=8)
    assert other.fingerprint != first.fingerprint
    assert not np.array_equal(other.test, first.test)


def test_digits_fingerprint_is_fixed(digits):
    assert make_split(digits, seed=0).fingerprint == DIGITS_SEED0_FINGERPRINT


def test_fingerprint_is_the_same_in_another_process(digits):
    code = (
        "from datasets import load_dataset, make_split;"
        "print(make_split(load_dataset('digits8x8'), seed=0).fingerprint)"
    )
    printed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed == make_split(digits, seed=0).fingerprint


def test_changing_the_validation_size_keeps_the_test_set(digits):
    small, large = (make_split(digits, seed=1, validation_size=size) for size in (0.1, 300))
    np.testing.assert_array_equal(small.test, large.test)
    assert len(large.validation) == 300
    assert small.fingerprint != large.fingerprint
    assert len(make_split(digits, seed=1, validation_size=0).validation) == 0


def test_fingerprint_covers_indices_and_sources():
    parts = [("train", np.array([0, 2])), ("validation", np.array([1])), ("test", np.array([3]))]
    record = SourceRecord("a.gz", Path("/x/a.gz"), "1" * 32, 10)
    base = split_fingerprint(parts, [record])
    moved = SourceRecord("a.gz", Path("/elsewhere/a.gz"), "1" * 32, 10)
    assert split_fingerprint(parts, [moved]) == base  # paths never count
    changed = SourceRecord("a.gz", Path("/x/a.gz"), "2" * 32, 10)
    assert split_fingerprint(parts, [changed]) != base
    swapped = [("train", np.array([0, 1])), ("validation", np.array([2])), parts[2]]
    assert split_fingerprint(swapped, [record]) != base
    int32 = [(name, indices.astype(np.int32)) for name, indices in parts]
    assert split_fingerprint(int32, [record]) == base


def test_official_test_set_is_kept_and_validation_drawn_from_training():
    dataset = _toy([300, 200, 100, 50], test_count=100)
    split = make_split(dataset, seed=0, validation_size=65)
    np.testing.assert_array_equal(split.test, np.arange(550, 650))
    assert split.sizes == {"train": 485, "validation": 65, "test": 100}
    assert split.validation.max() < 550
    # 65 of [300, 200, 100, 0 + 50 - 100 in test]: the training part's classes
    train_pool_counts = dataset.class_counts(np.arange(550))
    np.testing.assert_array_equal(
        dataset.class_counts(split.validation), stratified_counts(train_pool_counts, 65)
    )
    assert split.to_record() == {"fingerprint": split.fingerprint, **split.sizes}


def test_large_sets_default_to_5000_validation_images():
    dataset = _toy([4000, 3000, 2000, 1000], test_count=1000)
    assert make_split(dataset, seed=0).sizes == {"train": 4000, "validation": 5000, "test": 1000}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"test_size": 0.1}, "official test set of 100 images"),
        ({"validation_size": 550}, r"0\.\.549"),
        ({"validation_size": 1.5}, r"\[0, 1\)"),
        ({"validation_size": -1}, r"0\.\.549"),
        ({"seed": -1}, "non-negative"),
    ],
)
def test_bad_split_requests(options, message):
    dataset = _toy([300, 200, 100, 50], test_count=100)
    with pytest.raises(ValueError, match=message):
        make_split(dataset, **options)


def test_stratified_counts_largest_remainder():
    np.testing.assert_array_equal(stratified_counts([5, 3, 2], 5), [3, 1, 1])
    np.testing.assert_array_equal(stratified_counts([1, 1, 1], 2), [1, 1, 0])  # ties: low first
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = rng.integers(0, 50, size=rng.integers(1, 12))
        total = int(rng.integers(0, counts.sum() + 1))
        quotas = stratified_counts(counts, total)
        assert quotas.sum() == total
        assert np.all(quotas <= counts)
        exact = counts * total / max(counts.sum(), 1)
        assert np.all(np.abs(quotas - exact) < 1.0)


def test_stratified_draw_partitions_the_pool():
    labels = np.array([0, 1] * 10 + [2] * 5)
    pool = np.arange(3, 25)
    drawn, rest = stratified_draw(pool, labels, 7, 11, 0)
    assert len(drawn) == 7
    np.testing.assert_array_equal(np.sort(np.concatenate([drawn, rest])), pool)


def test_random_keys_are_numpys_stable_pcg64_stream():
    # Raw PCG64 output for SeedSequence([0, 0]); NumPy keeps bit generator streams fixed.
    expected = np.random.PCG64(np.random.SeedSequence([0, 0])).random_raw(3)
    np.testing.assert_array_equal(random_keys(3, 0, 0), expected)
    assert random_keys(2, 0, 1).tolist() != random_keys(2, 0, 0).tolist()
