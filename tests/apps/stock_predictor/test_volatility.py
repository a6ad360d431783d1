"""The volatility measure and its fitted competitors: Parkinson, GARCH(1,1) and HAR, each fitted
on the training part only and forecasting from what is known at each origin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from apps.stock_predictor.volatility import MONTH, WEEK, garch_forecasts, har, parkinson
from forge_learner.timeseries import make_windows


def simulated_garch(steps: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns in percent from a GARCH(1,1), and each day's true standard deviation."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 0.05, 0.08, 0.9
    variance = np.empty(steps)
    returns = np.empty(steps)
    variance[0] = omega / (1 - alpha - beta)
    for t in range(steps):
        if t:
            variance[t] = omega + alpha * returns[t - 1] ** 2 + beta * variance[t - 1]
        returns[t] = math.sqrt(variance[t]) * rng.normal()
    return returns, np.sqrt(variance)


def test_parkinson_is_the_scaled_log_range_in_percent():
    high, low = np.array([101.0, 100.0]), np.array([99.0, 100.0])
    expected = 100 * math.log(101 / 99) / (2 * math.sqrt(math.log(2)))
    np.testing.assert_allclose(parkinson(high, low), [expected, 0.0])
    with pytest.raises(ValueError, match="each high at least its low"):
        parkinson(np.array([1.0]), np.array([2.0]))


def test_har_is_least_squares_on_the_day_week_and_month_fitted_on_training():
    target = np.abs(np.random.default_rng(0).normal(size=400)) + 0.5
    windows = make_windows(target, lookback=MONTH)
    train_end = 300
    test = windows.take(np.flatnonzero(windows.target_index >= train_end))

    def features(origins: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                [
                    target[o],
                    target[o - WEEK + 1 : o + 1].mean(),
                    target[o - MONTH + 1 : o + 1].mean(),
                ]
                for o in origins
            ]
        )

    origins = np.arange(MONTH - 1, train_end - 1)
    reference = LinearRegression().fit(features(origins), target[origins + 1])
    np.testing.assert_allclose(
        har(target, test, train_end, horizon=1), reference.predict(features(test.origin)), rtol=1e-8
    )


def test_garch_tracks_a_garch_process_and_reads_nothing_after_each_origin():
    returns, deviation = simulated_garch()
    windows = make_windows(deviation, lookback=5)
    train_end = 1000
    test = windows.take(np.flatnonzero(windows.target_index >= train_end))

    forecast = garch_forecasts(returns, deviation, test, train_end, horizon=1)
    assert np.corrcoef(forecast, deviation[test.target_index])[0, 1] > 0.9
    # Returns after step 1200 changed: forecasts made at earlier origins stay as they were.
    changed = returns.copy()
    changed[1200:] *= 3
    again = garch_forecasts(changed, deviation, test, train_end, horizon=1)
    early = test.origin < 1200
    np.testing.assert_allclose(again[early], forecast[early])
    assert not np.allclose(again[~early], forecast[~early])
