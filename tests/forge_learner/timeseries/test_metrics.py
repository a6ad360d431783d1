"""Forecast errors: hand-computed values, scikit-learn as the reference, zeros handled."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as reference

from forge_learner.timeseries import improvement, mae, mape, rmse, smape

TRUE = np.array([2.0, 4.0, -1.0, 10.0])
PRED = np.array([3.0, 2.0, -1.0, 6.0])  # errors 1, -2, 0, -4


def test_hand_computed_errors() -> None:
    assert mae(TRUE, PRED) == pytest.approx(7 / 4)
    assert rmse(TRUE, PRED) == pytest.approx(math.sqrt(21 / 4))
    assert mape(TRUE, PRED) == pytest.approx((1 / 2 + 2 / 4 + 0 + 4 / 10) / 4)
    assert smape(TRUE, PRED) == pytest.approx((2 / 5 + 4 / 6 + 0 + 8 / 16) / 4)


@given(
    shape=st.sampled_from([(1,), (7,), (5, 3)]),
    seed=st.integers(0, 2**16),
)
def test_errors_match_scikit_learn(shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    true, pred = rng.normal(size=shape) * 10, rng.normal(size=shape) * 10
    true.flat[0] = 0.0  # MAPE's floor on |y_true| must be scikit-learn's too
    flat_true, flat_pred = true.ravel(), pred.ravel()

    assert rmse(true, pred) == pytest.approx(
        math.sqrt(reference.mean_squared_error(flat_true, flat_pred))
    )
    assert mae(true, pred) == pytest.approx(reference.mean_absolute_error(flat_true, flat_pred))
    assert mape(true, pred) == pytest.approx(
        reference.mean_absolute_percentage_error(flat_true, flat_pred)
    )


def test_mape_divides_by_epsilon_at_zero_and_smape_stays_bounded() -> None:
    true, pred = np.array([0.0, 1.0]), np.array([1e-3, 1.0])

    assert mape(true, pred, epsilon=1e-2) == pytest.approx(0.05)
    assert math.isfinite(mape(true, pred))
    assert smape(true, pred) == pytest.approx(1.0)  # terms 2 and 0
    assert smape(np.zeros(3), np.zeros(3)) == 0.0


@given(
    hnp.arrays(np.float64, 6, elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, 6, elements=st.floats(-1e6, 1e6)),
)
def test_smape_lies_between_0_and_2_and_is_symmetric(true: np.ndarray, pred: np.ndarray) -> None:
    value = smape(true, pred)
    assert 0.0 <= value <= 2.0
    assert value == pytest.approx(smape(pred, true))


def test_improvement_is_the_fraction_of_the_baselines_error_saved() -> None:
    assert improvement(0.75, 1.0) == pytest.approx(0.25)
    assert improvement(3.0, 2.0) == pytest.approx(-0.5)
    assert improvement(0.0, 4.0) == 1.0
    assert improvement(0.0, 0.0) == 0.0
    assert improvement(1.0, 0.0) == -math.inf


def test_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"shape \(4,\) and y_pred \(4, 1\).*pred\[:, 0\]"):
        rmse(TRUE, PRED[:, None])
    with pytest.raises(ValueError, match="no values"):
        mae(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="cannot be negative"):
        improvement(-1.0, 1.0)
