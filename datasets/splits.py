"""Seeded, stratified train / validation / test splits and their fingerprints.

A split is three sorted index arrays into a :class:`~datasets.dataset.Dataset`. For a
data set with an official test set, the test part is that set and the validation part
is drawn from the official training images (5,000 by default, as seed 001 did). For one
without (``digits8x8``), the test part is drawn from all images (20% by default, as
seed 000 did) and the validation part from the rest.

Every draw is stratified (each class contributes in proportion to its size, rounded by
largest remainder) and random only through raw 64-bit words of NumPy's PCG64 bit
generator seeded by a :class:`numpy.random.SeedSequence`. NumPy guarantees both streams
stay the same across versions and platforms (unlike the ``Generator`` methods), so the
same (data set, seed, sizes) gives the same indices, and the same fingerprint, anywhere.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from datasets.dataset import Dataset
from datasets.files import SourceRecord

#: default validation size of data sets with an official test set (seed 001)
DEFAULT_VALIDATION_SIZE = 5000
#: default test fraction of data sets without one (seed 000)
DEFAULT_TEST_FRACTION = 0.2
#: default validation fraction of the remaining training part of such data sets
DEFAULT_VALIDATION_FRACTION = 0.1

FINGERPRINT_VERSION = b"cnnbench-split-v1"

# Independent random streams for the draws, so changing one size leaves the other draw
# (e.g. the test set) as it was.
TEST_STREAM = 0
VALIDATION_STREAM = 1
BATCH_ORDER_STREAM = 2


def random_keys(count: int, *entropy: int) -> np.ndarray:
    """Return ``count`` uint64 random words from PCG64 seeded by ``entropy``.

    Sorting by these keys gives a permutation that is the same on every platform and
    NumPy version.
    """
    if any(not isinstance(value, int | np.integer) or value < 0 for value in entropy):
        raise ValueError(f"seeds must be non-negative integers; got {entropy}")
    bit_generator = np.random.PCG64(np.random.SeedSequence([int(v) for v in entropy]))
    return bit_generator.random_raw(count)


def random_permutation(count: int, *entropy: int) -> np.ndarray:
    """Return a permutation of ``range(count)`` determined by ``entropy`` alone."""
    return np.argsort(random_keys(count, *entropy), kind="stable")


def stratified_counts(class_counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``class_counts`` (largest remainder).

    Exact integer arithmetic; ties in the remainder go to the lower class index.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    population = int(class_counts.sum())
    if not 0 <= total <= population:
        raise ValueError(f"cannot draw {total} of {population} images")
    if population == 0:
        return np.zeros_like(class_counts)
    quotas, remainders = np.divmod(class_counts * total, population)
    shortfall = total - int(quotas.sum())
    # Largest remainder first; stable sort keeps the lower class first among equals.
    quotas[np.argsort(-remainders, kind="stable")[:shortfall]] += 1
    return quotas


def stratified_draw(
    pool: np.ndarray, labels: np.ndarray, total: int, *entropy: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``total`` of the indices in ``pool``, stratified by ``labels[pool]``.

    Returns
    -------
    drawn, rest : numpy.ndarray
        Sorted int64 indices: those drawn and those left.
    """
    pool = np.asarray(pool, dtype=np.int64)
    pool_labels = labels[pool]
    quotas = stratified_counts(np.bincount(pool_labels, minlength=labels.max() + 1), total)
    # Group the pool by class, in random order within each class; take each class's first
    # `quota` members.
    order = np.lexsort((random_keys(len(pool), *entropy), pool_labels))
    sorted_labels = pool_labels[order]
    class_starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank_in_class = np.arange(len(pool)) - class_starts
    chosen = np.zeros(len(pool), dtype=bool)
    chosen[order] = rank_in_class < quotas[sorted_labels]
    return pool[chosen], pool[~chosen]


def _resolve_size(size: int | float, population: int, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int | float | np.integer | np.floating):
        raise TypeError(f"{what} must be a count or a fraction; got {size!r}")
    if isinstance(size, float | np.floating):
        if not 0.0 <= size < 1.0:
            raise ValueError(f"{what} as a fraction must lie in [0, 1); got {size}")
        # Round up like scikit-learn's train_test_split (20% of 1797 is 360).
        return math.ceil(size * population)
    if not 0 <= size < population:
        raise ValueError(f"{what} must lie in 0..{population - 1} images; got {size}")
    return int(size)


def split_fingerprint(
    parts: Sequence[tuple[str, np.ndarray]], sources: Sequence[SourceRecord]
) -> str:
    """Return the sha256 (hex) of the split's index arrays and its source checksums.

    Only names, checksums and indices enter (never paths), as little-endian int64, so
    the fingerprint is the same on every machine and in every process.
    """
    digest = hashlib.sha256(FINGERPRINT_VERSION + b"\0")
    for name, indices in parts:
        indices = np.ascontiguousarray(indices, dtype="<i8")
        digest.update(f"{name}\0{len(indices)}\0".encode())
        digest.update(indices.tobytes())
    for record in sorted(sources, key=lambda record: (record.filename, record.md5)):
        digest.update(f"{record.filename}\0{record.md5}\0".encode())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Split:
    """Train, validation and test indices into one data set, and their fingerprint.

    Attributes
    ----------
    dataset : str
        The data set's name.
    seed : int
        The seed the split was drawn with.
    train, validation, test : numpy.ndarray
        Sorted, disjoint int64 indices (read-only).
    fingerprint : str
        :func:`split_fingerprint` of the three parts and the data set's sources.
    """

    dataset: str
    seed: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    fingerprint: str

    def __post_init__(self) -> None:
        for indices in (self.train, self.validation, self.test):
            indices.flags.writeable = False

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images per part."""
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }

    def to_record(self) -> dict[str, object]:
        """Return the results store's ``split`` field: fingerprint and part sizes."""
        return {"fingerprint": self.fingerprint, **self.sizes}


def make_split(
    dataset: Dataset,
    *,
    seed: int = 0,
    validation_size: int | float | None = None,
    test_size: int | float | None = None,
) -> Split:
    """Draw a seeded, stratified train / validation / test split.

    Parameters
    ----------
    dataset : Dataset
        The data set.
    seed : int
        Non-negative seed; the split depends on nothing else but the sizes and data.
    validation_size : int or float, optional
        Images (int) or fraction of the training part (float) held out for validation;
        5000 for data sets with an official test set, else 0.1. 0 for none.
    test_size : int or float, optional
        Only for data sets without an official test set: images (int) or fraction of all
        images (float); 0.2 when omitted.

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        If a size does not fit, or ``test_size`` is given for a data set whose test set
        is fixed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    everything = np.arange(len(dataset), dtype=np.int64)
    if dataset.official_test_start is not None:
        if test_size is not None:
            raise ValueError(
                f"{dataset.name} has an official test set of "
                f"{len(dataset) - dataset.official_test_start} images; test_size cannot be "
                "set (leave it out)."
            )
        test = everything[dataset.official_test_start :]
        training_pool = everything[: dataset.official_test_start]
        default_validation = DEFAULT_VALIDATION_SIZE
    else:
        test_count = _resolve_size(
            DEFAULT_TEST_FRACTION if test_size is None else test_size, len(dataset), "test_size"
        )
        test, training_pool = stratified_draw(
            everything, dataset.labels, test_count, seed, TEST_STREAM
        )
        default_validation = DEFAULT_VALIDATION_FRACTION
    validation_count = _resolve_size(
        default_validation if validation_size is None else validation_size,
        len(training_pool),
        "validation_size",
    )
    validation, train = stratified_draw(
        training_pool, dataset.labels, validation_count, seed, VALIDATION_STREAM
    )
    parts = (("train", train), ("validation", validation), ("test", test))
    return Split(
        dataset=dataset.name,
        seed=seed,
        train=train,
        validation=validation,
        test=test,
        fingerprint=split_fingerprint(parts, dataset.sources),
    )
