"""Classification metrics on a test split, computed with NumPy from labels and probabilities.

The definitions follow seed 001 ("Goodness of fit") and SPEC "Metrics":

* accuracy: the fraction of images whose most probable class (``argmax``; the first class
  wins a tie, as in Keras) equals the label;
* per-class precision (PPV), recall (TPR) and F1 = 2 PPV TPR / (PPV + TPR), each class
  one-vs-rest; a ratio whose denominator is zero is 0 (scikit-learn's ``zero_division=0``);
* support-weighted averages, seed 001 eq. (8): ``sum_i m_i N_i / sum_i N_i`` where ``N_i``
  is the number of test images of class ``i``;
* the cumulative-gains (lift) curve of a class: test images sorted from most to least
  probable for the class, fraction targeted on x, fraction of the class's images found on
  y. Images with equal scores form one group and the curve runs straight across the
  group, which is the average over every order of the tied images; with that convention
  the area ratio equals ``2 * AUC - 1`` exactly (AUC with ties counted one half);
* area ratio (seed 001 eq. 1): area between the model curve and the baseline ``y = x``
  divided by the area between the perfect curve and the baseline. With ``p`` the class's
  share of the test set the perfect curve encloses ``(1 - p) / 2``, so
  ``AR = (A_model - 1/2) / ((1 - p) / 2)``, in ``[-1, 1]``.

A class absent from the test set (``p = 0``) and a class that makes up the whole test set
(``p = 1``) have no defined area ratio: both are NaN and are left out of the weighted mean
(an absent class has support 0, so the weighted mean is unchanged by leaving it out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: number of points on which each class's cumulative-gains curve is stored
GAINS_GRID_POINTS = 101

#: probabilities are clipped to [EPSILON, 1 - EPSILON] in the loss, as Keras does
PROBABILITY_EPSILON = 1e-7


def _as_labels(y_true: Any, num_classes: int) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(axis=1)
    labels = labels.astype(np.int64, copy=False)
    if labels.ndim != 1:
        raise ValueError(
            f"labels have shape {labels.shape}; expected integer labels (N,) or one-hot (N, C)"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels span {labels.min()}..{labels.max()}; expected 0..{num_classes - 1} "
            f"for {num_classes} classes: check that the label encoding matches the model output"
        )
    return labels


def _as_probabilities(probabilities: Any) -> np.ndarray:
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(
            f"probabilities have shape {scores.shape}; expected (N, C), one row per image"
        )
    return scores


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correctly classified images, seed 001 eq. (7).

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)
        True and predicted class indices.

    Returns
    -------
    float
        ``mean(y_true == y_pred)``; NaN for an empty set.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Count images per (true class, predicted class).

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)
        True and predicted class indices in ``0..num_classes-1``.
    num_classes : int
        Number of classes C.

    Returns
    -------
    numpy.ndarray of int64, shape (C, C)
        Row ``i``, column ``j``: images of class ``i`` predicted as ``j``.
    """
    y_true = _as_labels(y_true, num_classes)
    y_pred = _as_labels(y_pred, num_classes)
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def precision_recall_f1(confusion: Any) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix.

    ``precision_i = C_ii / sum_k C_ki``, ``recall_i = C_ii / sum_k C_ik``,
    ``F1_i = 2 precision_i recall_i / (precision_i + recall_i)``; a zero denominator gives 0.

    Parameters
    ----------
    confusion : array_like, shape (C, C)
        Confusion matrix, rows true classes, columns predicted classes.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (float64) and ``support`` (int64), each shape (C,).
    """
    confusion = np.asarray(confusion)
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = _safe_divide(true_positive, predicted)
    recall = _safe_divide(true_positive, support)
    f1 = _safe_divide(2.0 * precision * recall, precision + recall)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
    }


def support_weighted_mean(values: Any, support: Any) -> float:
    """Support-weighted average of per-class values, seed 001 eq. (8).

    ``sum_i v_i N_i / sum_i N_i`` over the classes whose value is finite (NaN values, such
    as the area ratio of an absent class, are left out with their support).

    Parameters
    ----------
    values : array_like of float, shape (C,)
        Per-class values.
    support : array_like of int, shape (C,)
        Number of test images of each class.

    Returns
    -------
    float
        The weighted mean; NaN when no class with a finite value has any support.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(support, dtype=np.float64)
    usable = np.isfinite(values) & (weights > 0)
    total = weights[usable].sum()
    if total == 0:
        return float("nan")
    return float(np.dot(values[usable], weights[usable]) / total)


def cumulative_gains_curve(is_target: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative-gains (lift) curve of one class, one-vs-rest, with tied scores grouped.

    Images are sorted by decreasing score; one point is emitted at the end of each group of
    equal scores, so the straight segment across a group is the average over every order of
    its images.

    Parameters
    ----------
    is_target : array_like of bool, shape (N,)
        Whether each image belongs to the class.
    scores : array_like of float, shape (N,)
        Predicted probability (or any score) of the class for each image.

    Returns
    -------
    fraction_targeted, fraction_found : numpy.ndarray
        Curve vertices starting at (0, 0) and ending at (1, 1); ``fraction_found`` is NaN
        throughout when the class has no image in the set.
    """
    is_target = np.asarray(is_target, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if is_target.shape != scores.shape or is_target.ndim != 1:
        raise ValueError(
            f"is_target has shape {is_target.shape} and scores {scores.shape}; "
            "expected two equal 1-D shapes"
        )
    count = scores.size
    if count == 0:
        raise ValueError("cannot build a gains curve from an empty set of scores")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    found = np.cumsum(is_target[order])
    # the last index of each run of equal scores closes one group
    group_ends = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    targeted = np.r_[0.0, (group_ends + 1) / count]
    total_targets = found[-1]
    if total_targets == 0:
        return targeted, np.full_like(targeted, np.nan)
    return targeted, np.r_[0.0, found[group_ends] / total_targets]


def area_ratio(is_target: Any, scores: Any) -> float:
    """Area ratio of one class's cumulative-gains curve (seed 001 eq. 1).

    ``AR = (A_model - 1/2) / ((1 - p) / 2)`` with ``A_model`` the area under the gains
    curve (fractions on both axes) and ``p`` the class's share of the set; equals
    ``2 * AUC - 1``.

    Parameters
    ----------
    is_target : array_like of bool, shape (N,)
        Whether each image belongs to the class.
    scores : array_like of float, shape (N,)
        Predicted probability of the class for each image.

    Returns
    -------
    float
        AR in [-1, 1]; NaN when the class is absent from the set or is the whole set.
    """
    is_target = np.asarray(is_target, dtype=bool)
    share = is_target.mean() if is_target.size else 0.0
    if share == 0.0 or share == 1.0:
        return float("nan")
    targeted, found = cumulative_gains_curve(is_target, scores)
    model_area = float(np.trapezoid(found, targeted))
    return (model_area - 0.5) / ((1.0 - share) / 2.0)


def per_class_area_ratio(y_true: Any, probabilities: Any) -> np.ndarray:
    """One-vs-rest area ratio of every class.

    Parameters
    ----------
    y_true : array_like of int, shape (N,)
        True class indices (or one-hot rows).
    probabilities : array_like of float, shape (N, C)
        Predicted class probabilities.

    Returns
    -------
    numpy.ndarray of float64, shape (C,)
        AR per class; NaN for a class absent from ``y_true`` (see the module docstring).
    """
    scores = _as_probabilities(probabilities)
    labels = _as_labels(y_true, scores.shape[1])
    return np.array(
        [area_ratio(labels == index, scores[:, index]) for index in range(scores.shape[1])]
    )


def gains_curves_on_grid(
    y_true: Any, probabilities: Any, grid_points: int = GAINS_GRID_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Every class's cumulative-gains curve sampled at evenly spaced fractions targeted.

    Parameters
    ----------
    y_true : array_like of int, shape (N,)
        True class indices (or one-hot rows).
    probabilities : array_like of float, shape (N, C)
        Predicted class probabilities.
    grid_points : int, default 101
        Number of fractions from 0 to 1 inclusive.

    Returns
    -------
    fraction_targeted : numpy.ndarray, shape (grid_points,)
    fraction_found : numpy.ndarray, shape (C, grid_points)
        Linear interpolation of each curve (NaN rows for absent classes).
    """
    scores = _as_probabilities(probabilities)
    labels = _as_labels(y_true, scores.shape[1])
    grid = np.linspace(0.0, 1.0, grid_points)
    curves = np.empty((scores.shape[1], grid_points))
    for index in range(scores.shape[1]):
        targeted, found = cumulative_gains_curve(labels == index, scores[:, index])
        curves[index] = np.interp(grid, targeted, found)
    return grid, curves


def categorical_cross_entropy(y_true: Any, probabilities: Any) -> float:
    """Mean categorical cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7] as Keras does.

    Parameters
    ----------
    y_true : array_like of int, shape (N,)
        True class indices (or one-hot rows).
    probabilities : array_like of float, shape (N, C)
        Predicted class probabilities.

    Returns
    -------
    float
        ``-mean(log p[i, y_i])``.
    """
    scores = _as_probabilities(probabilities)
    labels = _as_labels(y_true, scores.shape[1])
    clipped = np.clip(scores, PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
    return float(-np.mean(np.log(clipped[np.arange(labels.size), labels])))


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    # JSON has no NaN: absent values are stored as null
    return [float(value) if np.isfinite(value) else None for value in np.asarray(values).ravel()]


def _round_list(values: np.ndarray, decimals: int) -> list[float | None]:
    return [None if value is None else round(value, decimals) for value in _finite_or_none(values)]


def classification_metrics(
    y_true: Any,
    probabilities: Any,
    class_names: Sequence[str] | None = None,
    grid_points: int = GAINS_GRID_POINTS,
) -> dict[str, Any]:
    """All test-split metrics of one run, in the results-store form (plain JSON types).

    Parameters
    ----------
    y_true : array_like of int, shape (N,)
        True class indices (or one-hot rows).
    probabilities : array_like of float, shape (N, C)
        Predicted class probabilities; every value must be finite.
    class_names : sequence of str, optional
        Display names of the C classes; ``"0".."C-1"`` when omitted.
    grid_points : int, default 101
        Points of the stored gains curves.

    Returns
    -------
    dict
        Keys as in ``docs/results-schema.md`` ``metrics``: ``accuracy``, ``loss``,
        ``weighted_precision``, ``weighted_recall``, ``weighted_f1``,
        ``weighted_area_ratio``, ``class_names``, ``per_class``, ``confusion_matrix``,
        ``gains_curves``. Undefined values (NaN) are stored as ``None``.
    """
    scores = _as_probabilities(probabilities)
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            "probabilities contain NaN or infinite values; the run diverged and has no metrics"
        )
    num_classes = scores.shape[1]
    labels = _as_labels(y_true, num_classes)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"{labels.shape[0]} labels but {scores.shape[0]} rows of probabilities; "
            "expected one row per label"
        )
    names = [str(index) for index in range(num_classes)] if class_names is None else class_names
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for {num_classes} classes")
    predicted = scores.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, num_classes)
    per_class = precision_recall_f1(confusion)
    ratios = per_class_area_ratio(labels, scores)
    grid, curves = gains_curves_on_grid(labels, scores, grid_points)
    support = per_class["support"]

    def weighted(values: np.ndarray) -> float | None:
        value = support_weighted_mean(values, support)
        return value if np.isfinite(value) else None

    return {
        "accuracy": accuracy(labels, predicted),
        "loss": categorical_cross_entropy(labels, scores),
        "weighted_precision": weighted(per_class["precision"]),
        "weighted_recall": weighted(per_class["recall"]),
        "weighted_f1": weighted(per_class["f1"]),
        "weighted_area_ratio": weighted(ratios),
        "class_names": [str(name) for name in names],
        "per_class": {
            "precision": _finite_or_none(per_class["precision"]),
            "recall": _finite_or_none(per_class["recall"]),
            "f1": _finite_or_none(per_class["f1"]),
            "area_ratio": _finite_or_none(ratios),
            "support": [int(value) for value in support],
        },
        "confusion_matrix": confusion.tolist(),
        "gains_curves": {
            "fraction_targeted": [round(float(value), 6) for value in grid],
            "per_class": [_round_list(row, 6) for row in curves],
        },
    }
