"""The confusion matrix and what a classification report reads from it.

Accuracy hides a class the model never gets right when that class is rare; per-class precision
and recall show it. Everything is computed from the confusion matrix, so a report needs only
that ``(C, C)`` table, which is small enough to store with the run.

Division by zero gives 0, as scikit-learn's ``zero_division=0``: a class never predicted has
precision 0, a class absent from the data recall 0, and either makes its F1 0. Macro averages
are over all ``num_classes`` classes, absent ones included, so a class missing from a small
test set pulls the macro average down rather than vanishing from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> Array:
    """``(num_classes, num_classes)`` int64 counts: row = true class, column = predicted class.

    Labels are integers in ``[0, num_classes)`` of shape ``(N,)``; the layout is
    scikit-learn's, so ``matrix[i, i]`` counts the right answers for class ``i``.
    """
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.shape != pred.shape or true.ndim != 1:
        raise ValueError(
            f"confusion_matrix: y_true {true.shape} and y_pred {pred.shape} must be class labels "
            "of the same shape (N,); for class scores take pred = scores.argmax(axis=1)"
        )
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and (
            labels.dtype.kind not in "biu" or labels.min() < 0 or labels.max() >= num_classes
        ):
            raise ValueError(
                f"confusion_matrix: {name} must hold integer labels from 0 to {num_classes - 1}"
            )
    counts = np.bincount(
        true.astype(np.int64) * num_classes + pred.astype(np.int64), minlength=num_classes**2
    )
    return counts.reshape(num_classes, num_classes).astype(np.int64)


class Average(NamedTuple):
    """Precision, recall and F1 averaged over classes."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, eq=False)
class ClassificationReport:
    """Per class (float64 or int64 arrays of shape ``(C,)``) and overall measures.

    ``macro`` is the plain mean over classes, ``weighted`` the mean weighted by ``support`` (the
    number of true samples of each class); both average the per-class F1 scores, not the F1 of
    the averaged precision and recall (scikit-learn's convention).
    """

    precision: Array
    recall: Array
    f1: Array
    support: Array
    accuracy: float
    macro: Average
    weighted: Average


def _ratio(numerator: Array, denominator: Array) -> Array:
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def per_class_report(confusion: ArrayLike) -> ClassificationReport:
    """Precision, recall, F1 and support of each class, accuracy and averages (0 where undefined).

    ``confusion`` is a ``confusion_matrix`` (rows true, columns predicted). An empty matrix
    (no samples) gives 0 everywhere.
    """
    matrix = np.asarray(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.dtype.kind not in "biu":
        raise ValueError(
            "per_class_report: give a square matrix of integer counts from confusion_matrix, got "
            f"dtype {matrix.dtype} and shape {matrix.shape}"
        )
    matrix = matrix.astype(np.int64)
    right = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(right, predicted)
    recall = _ratio(right, support)
    # 2tp / (2tp + fp + fn): the harmonic mean of precision and recall, and 0 when tp is 0
    f1 = _ratio(2 * right, support + predicted)
    total = int(support.sum())
    weights = support / total if total else np.zeros(len(support))
    return ClassificationReport(
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        accuracy=float(right.sum() / total) if total else 0.0,
        macro=Average(*(float(v.mean()) for v in (precision, recall, f1))),
        weighted=Average(*(float(v @ weights) for v in (precision, recall, f1))),
    )
