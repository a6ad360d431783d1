"""Confusion matrix and per-class report: by hand, and against scikit-learn on random labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as reference

from forge_learner.classification import confusion_matrix, per_class_report

TRUE = np.array([0, 0, 0, 1, 1, 2])
PRED = np.array([0, 0, 1, 1, 0, 0])


def test_rows_are_true_classes_and_columns_predictions() -> None:
    matrix = confusion_matrix(TRUE, PRED, num_classes=4)

    np.testing.assert_array_equal(matrix, [[2, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert matrix.dtype == np.int64


def test_hand_computed_report_with_a_class_never_predicted_and_one_absent() -> None:
    report = per_class_report(confusion_matrix(TRUE, PRED, num_classes=4))

    np.testing.assert_allclose(report.precision, [2 / 4, 1 / 2, 0, 0])
    np.testing.assert_allclose(report.recall, [2 / 3, 1 / 2, 0, 0])
    np.testing.assert_allclose(report.f1, [4 / 7, 1 / 2, 0, 0])
    np.testing.assert_array_equal(report.support, [3, 2, 1, 0])
    assert report.accuracy == pytest.approx(3 / 6)
    assert report.macro.precision == pytest.approx(1 / 4)
    assert report.macro.f1 == pytest.approx((4 / 7 + 1 / 2) / 4)
    assert report.weighted.recall == pytest.approx((3 * 2 / 3 + 2 / 2) / 6)
    assert report.weighted.f1 == pytest.approx((3 * 4 / 7 + 2 / 2) / 6)


def test_an_empty_matrix_reports_zeros() -> None:
    report = per_class_report(np.zeros((3, 3), dtype=np.int64))

    assert report.accuracy == 0.0
    assert tuple(report.macro) == tuple(report.weighted) == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(report.f1, np.zeros(3))


# scikit-learn warns when the random labels happen to hold one class; labels= handles that
@pytest.mark.filterwarnings("ignore:A single label was found")
@given(
    num_classes=st.integers(1, 6),
    size=st.integers(1, 60),
    seed=st.integers(0, 2**16),
)
def test_matches_scikit_learn_on_random_labels(num_classes: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, num_classes, size)
    pred = rng.integers(0, num_classes, size)
    classes = list(range(num_classes))

    matrix = confusion_matrix(true, pred, num_classes)
    np.testing.assert_array_equal(matrix, reference.confusion_matrix(true, pred, labels=classes))

    report = per_class_report(matrix)
    precision, recall, f1, support = reference.precision_recall_fscore_support(
        true, pred, labels=classes, zero_division=0
    )
    np.testing.assert_allclose(report.precision, precision)
    np.testing.assert_allclose(report.recall, recall)
    np.testing.assert_allclose(report.f1, f1)
    np.testing.assert_array_equal(report.support, support)
    assert report.accuracy == pytest.approx(reference.accuracy_score(true, pred))
    for average in ("macro", "weighted"):
        expected = reference.precision_recall_fscore_support(
            true, pred, labels=classes, average=average, zero_division=0
        )[:3]
        np.testing.assert_allclose(tuple(getattr(report, average)), expected, atol=1e-12)


def test_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"scores.argmax\(axis=1\)"):
        confusion_matrix(TRUE, np.zeros((6, 3)), num_classes=3)
    with pytest.raises(ValueError, match="y_pred must hold integer labels from 0 to 2"):
        confusion_matrix(TRUE, np.array([0, 1, 2, 3, 0, 0]), num_classes=3)
    with pytest.raises(ValueError, match="y_true must hold integer labels"):
        confusion_matrix(np.array([-1]), np.array([0]), num_classes=3)
    with pytest.raises(ValueError, match="square matrix of integer counts"):
        per_class_report(np.zeros((2, 3), dtype=np.int64))
