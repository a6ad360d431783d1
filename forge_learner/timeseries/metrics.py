"""Forecast errors in the series' own units, and how much a model improves on a baseline.

These compare whole arrays at once (a test set's predictions, after ``inverse_transform``), unlike
``forge_learner.metrics``, which accumulates over the batches of training. Each takes
``y_true`` and ``y_pred`` of the same shape (refused otherwise: NumPy would broadcast ``(N,)``
against ``(N, 1)`` into an ``(N, N)`` error), computes in float64 and returns a float. The
percentage errors are fractions: 0.05 means 5 %.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray

EPSILON = float(np.finfo(np.float64).eps)


def _pair(who: str, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[Array, Array]:
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape:
        raise ValueError(
            f"{who}: y_true has shape {true.shape} and y_pred {pred.shape}; they must match "
            "(reshape the predictions, e.g. pred[:, 0] for a model with one output)"
        )
    if true.size == 0:
        raise ValueError(f"{who}: there are no values to compare")
    return true, pred


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    true, pred = _pair("rmse", y_true, y_pred)
    return float(np.sqrt(np.mean(np.square(pred - true))))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error."""
    true, pred = _pair("mae", y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


def mape(y_true: ArrayLike, y_pred: ArrayLike, epsilon: float = EPSILON) -> float:
    """Mean absolute percentage error, ``mean(|y_pred - y_true| / max(|y_true|, epsilon))``.

    Safe near zero in that it never divides by zero: a true value smaller than ``epsilon``
    counts as ``epsilon`` (scikit-learn's ``mean_absolute_percentage_error`` does the same, with
    the same default). It is not meaningful near zero, though: one true value of 0 makes it
    astronomically large. For series that reach zero (temperatures in °C) report ``smape``.
    """
    true, pred = _pair("mape", y_true, y_pred)
    return float(np.mean(np.abs(pred - true) / np.maximum(np.abs(true), epsilon)))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE, ``mean(2 |y_pred - y_true| / (|y_true| + |y_pred|))``, between 0 and 2.

    Bounded where MAPE explodes: a term is at most 2, reached when one of the two is 0 or they
    have opposite signs. A term where both are 0 is a perfect forecast and counts as 0.
    """
    true, pred = _pair("smape", y_true, y_pred)
    denominator = np.abs(true) + np.abs(pred)
    safe = np.where(denominator == 0, 1.0, denominator)
    return float(np.mean(np.where(denominator == 0, 0.0, 2 * np.abs(pred - true) / safe)))


def improvement(model_error: float, baseline_error: float) -> float:
    """``1 - model_error / baseline_error``: the fraction of the baseline's error the model saves.

    0.25 means "beats persistence by 25 %"; 0 is no better, a negative value worse. Use an error
    where lower is better (RMSE, MAE). A perfect baseline (error 0) leaves nothing to improve: the
    result is 0 for a perfect model too and ``-inf`` otherwise.
    """
    if model_error < 0 or baseline_error < 0:
        raise ValueError(
            f"improvement: errors cannot be negative, got model_error={model_error} and "
            f"baseline_error={baseline_error}"
        )
    if baseline_error == 0:
        return 0.0 if model_error == 0 else float("-inf")
    return 1.0 - model_error / baseline_error
