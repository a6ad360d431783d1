"""The linear autoregression reference: least squares on the windows, fitted on training only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from forge_learner.timeseries import linear_autoregression, make_windows


def test_it_matches_scikit_learn_on_the_flattened_windows() -> None:
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=(300, 2)), axis=0)
    windows = make_windows(values, lookback=5)
    train, test = slice(0, 200), slice(200, None)
    flat = windows.inputs.reshape(len(windows), -1)
    expected = LinearRegression().fit(flat[train], windows.targets[train]).predict(flat[test])

    forecast = linear_autoregression(
        windows.inputs[train], windows.targets[train], windows.inputs[test]
    )
    np.testing.assert_allclose(forecast, expected, rtol=1e-6, atol=1e-8)


def test_an_ar1_process_is_recovered() -> None:
    rng = np.random.default_rng(1)
    values = np.zeros(2000)
    for t in range(1, len(values)):
        values[t] = 0.8 * values[t - 1] + rng.normal()
    windows = make_windows(values, lookback=1)

    forecast = linear_autoregression(windows.inputs, windows.targets, np.array([[[1.0]]]))
    assert forecast[0] == pytest.approx(0.8, abs=0.05)


def test_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"windows must be \(N, lookback, features\)"):
        linear_autoregression(np.zeros((4, 2)), np.zeros(4), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="4 training windows but 3 targets"):
        linear_autoregression(np.zeros((4, 2, 1)), np.zeros(3), np.zeros((1, 2, 1)))
