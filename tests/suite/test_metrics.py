"""Metrics against scikit-learn oracles on random and degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from suite import metrics


def random_case(seed: int, count: int = 300, num_classes: int = 5, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=count)
    logits = rng.normal(size=(count, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if decimals is not None:  # coarse rounding creates many tied scores
        probabilities = np.round(probabilities, decimals)
    return labels, probabilities


def sklearn_area_ratio(labels, probabilities, index):
    return 2.0 * roc_auc_score(labels == index, probabilities[:, index]) - 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [None, 1])
def test_precision_recall_f1_match_sklearn(seed, decimals):
    labels, probabilities = random_case(seed, decimals=decimals)
    predicted = probabilities.argmax(axis=1)
    confusion = metrics.confusion_matrix(labels, predicted, 5)
    ours = metrics.precision_recall_f1(confusion)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(5), zero_division=0
    )
    np.testing.assert_allclose(ours["precision"], precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], recall, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f1, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours["support"], support)
    weighted = metrics.support_weighted_mean(ours["f1"], ours["support"])
    expected = f1_score(labels, predicted, average="weighted", labels=range(5), zero_division=0)
    assert weighted == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(confusion, sklearn_confusion_matrix(labels, predicted))
    assert metrics.accuracy(labels, predicted) == pytest.approx(accuracy_score(labels, predicted))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_area_ratio_is_twice_auc_minus_one(seed, decimals):
    labels, probabilities = random_case(seed, decimals=decimals)
    ratios = metrics.per_class_area_ratio(labels, probabilities)
    expected = [sklearn_area_ratio(labels, probabilities, index) for index in range(5)]
    np.testing.assert_allclose(ratios, expected, rtol=0, atol=1e-12)


def test_all_scores_tied_gives_zero_area_ratio():
    labels = np.array([0, 1, 1, 0, 1, 0, 0])
    probabilities = np.full((7, 2), 0.5)
    np.testing.assert_allclose(metrics.per_class_area_ratio(labels, probabilities), [0.0, 0.0])


def test_perfect_and_inverted_rankings():
    labels = np.array([0, 0, 1, 1, 1, 2])
    perfect = np.eye(3)[labels] * 0.8 + 0.2 / 3
    np.testing.assert_allclose(metrics.per_class_area_ratio(labels, perfect), 1.0, atol=1e-12)
    is_target = labels == 1
    inverted_scores = np.where(is_target, 0.1, 0.9)
    assert metrics.area_ratio(is_target, inverted_scores) == pytest.approx(-1.0, abs=1e-12)
    assert metrics.area_ratio(is_target, inverted_scores) == pytest.approx(
        2 * roc_auc_score(is_target, inverted_scores) - 1, abs=1e-12
    )


def test_absent_class_is_nan_and_left_out_of_the_weighted_mean():
    labels, probabilities = random_case(5, num_classes=4)
    labels = np.where(labels == 2, 0, labels)  # class 2 no longer in the test set
    ratios = metrics.per_class_area_ratio(labels, probabilities)
    assert np.isnan(ratios[2])
    present = [0, 1, 3]
    expected = [sklearn_area_ratio(labels, probabilities, index) for index in present]
    np.testing.assert_allclose(ratios[present], expected, atol=1e-12)
    support = np.bincount(labels, minlength=4)
    weighted = metrics.support_weighted_mean(ratios, support)
    assert weighted == pytest.approx(np.average(expected, weights=support[present]), abs=1e-12)

    record = metrics.classification_metrics(labels, probabilities)
    assert record["per_class"]["area_ratio"][2] is None
    assert record["per_class"]["support"][2] == 0
    assert record["weighted_area_ratio"] == pytest.approx(weighted, abs=1e-12)
    assert record["weighted_f1"] == pytest.approx(
        f1_score(labels, probabilities.argmax(1), average="weighted", zero_division=0), abs=1e-12
    )
    assert all(value is None for value in record["gains_curves"]["per_class"][2])


def test_class_that_is_the_whole_set_has_no_area_ratio():
    labels = np.zeros(4, dtype=int)
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    ratios = metrics.per_class_area_ratio(labels, probabilities)
    assert np.isnan(ratios).all()
    assert np.isnan(metrics.support_weighted_mean(ratios, [4, 0]))


def test_gains_curve_endpoints_grid_and_perfect_shape():
    labels, probabilities = random_case(7, count=200, num_classes=3, decimals=1)
    grid, curves = metrics.gains_curves_on_grid(labels, probabilities)
    assert grid.shape == (101,) and curves.shape == (3, 101)
    np.testing.assert_allclose(curves[:, 0], 0.0)
    np.testing.assert_allclose(curves[:, -1], 1.0)
    assert np.all(np.diff(curves, axis=1) >= -1e-12)
    # the trapezoid area of the sampled curve approximates the exact area ratio
    share = np.bincount(labels, minlength=3) / labels.size
    sampled = (np.trapezoid(curves, grid, axis=1) - 0.5) / ((1 - share) / 2)
    np.testing.assert_allclose(
        sampled, metrics.per_class_area_ratio(labels, probabilities), atol=2e-3
    )
    # a perfect ranking reaches 1 at the class's share of the set
    is_target = np.array([True, True, False, False, False])
    targeted, found = metrics.cumulative_gains_curve(is_target, np.array([5, 4, 3, 2, 1.0]))
    assert np.interp(0.4, targeted, found) == pytest.approx(1.0)


def test_tied_group_is_a_straight_segment():
    is_target = np.array([True, False, True, False])
    targeted, found = metrics.cumulative_gains_curve(is_target, np.array([0.5, 0.5, 0.5, 0.5]))
    np.testing.assert_allclose(targeted, [0.0, 1.0])
    np.testing.assert_allclose(found, [0.0, 1.0])


def test_classification_metrics_record_is_consistent():
    labels, probabilities = random_case(11, count=120, num_classes=4)
    record = metrics.classification_metrics(labels, probabilities, class_names=list("abcd"))
    assert record["class_names"] == ["a", "b", "c", "d"]
    assert np.sum(record["confusion_matrix"]) == 120
    assert record["accuracy"] == pytest.approx(np.trace(record["confusion_matrix"]) / 120)
    expected_loss = -np.mean(np.log(probabilities[np.arange(120), labels]))
    assert record["loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert record["weighted_recall"] == pytest.approx(record["accuracy"], abs=1e-12)
    one_hot = np.eye(4)[labels]
    assert metrics.classification_metrics(one_hot, probabilities)["weighted_f1"] == pytest.approx(
        record["weighted_f1"]
    )


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="labels span"):
        metrics.classification_metrics(np.array([0, 5]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="diverged"):
        metrics.classification_metrics(np.array([0, 1]), np.array([[np.nan, 1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="one row per label"):
        metrics.classification_metrics(np.array([0, 1, 1]), np.full((2, 2), 0.5))
