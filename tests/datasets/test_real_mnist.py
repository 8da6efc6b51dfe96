"""The genuine MNIST files from CNNBENCH_DATA (skipped cleanly where they are absent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import info, load_dataset, make_split

#: The canonical label histograms of MNIST's training and test files.
TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
#: make_split(mnist, seed=1).fingerprint, fixed for good, like every stored result's.
MNIST_SEED1_FINGERPRINT = "77221cae6105fe0604d6521aeafbd905e596997318377e778c3313c53d63347a"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    return load_dataset("mnist", data_dir=shared_data_dir, download=False)


def test_real_mnist_counts_and_histograms(mnist):
    assert mnist.images.shape == (70000, 28, 28, 1)
    assert mnist.images.dtype == np.uint8
    assert mnist.official_test_start == 60000
    assert (info("mnist").train_count, info("mnist").test_count) == (60000, 10000)
    assert info("mnist").input_shape == mnist.image_shape
    assert mnist.class_counts(np.arange(60000)).tolist() == TRAIN_HISTOGRAM
    assert mnist.class_counts(np.arange(60000, 70000)).tolist() == TEST_HISTOGRAM
    assert mnist.images.min() == 0 and mnist.images.max() == 255
    assert mnist.labels[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's well-known first digits
    assert [record.md5 for record in mnist.sources] == [
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ]


def test_real_mnist_split(mnist):
    split = make_split(mnist, seed=1)
    assert split.sizes == {"train": 55000, "validation": 5000, "test": 10000}
    exact = np.array(TRAIN_HISTOGRAM) * 5000 / 60000
    assert np.all(np.abs(mnist.class_counts(split.validation) - exact) < 1)
    assert split.fingerprint == MNIST_SEED1_FINGERPRINT


def test_real_mnist_fingerprint_identical_in_two_processes(mnist, shared_data_dir):
    code = (
        "import sys; from datasets import info, load_dataset, make_split; "
        "data = load_dataset('mnist', data_dir=sys.argv[1], download=False); "
        "print(make_split(data, seed=1).fingerprint)"
    )
    printed = [
        subprocess.run(
            [sys.executable, "-c", code, str(shared_data_dir)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert printed == [make_split(mnist, seed=1).fingerprint] * 2
