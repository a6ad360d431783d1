"""Baselines: each forecasts from what was observed at the origin, in the series' own units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_learner.timeseries import (
    StandardScaler,
    climatology,
    make_windows,
    persistence,
    rmse,
    rolling_mean,
    seasonal_naive,
    train_mean,
)

SERIES = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])


def test_persistence_repeats_the_last_observed_value() -> None:
    windows = make_windows(SERIES, lookback=2, horizon=3)  # origins 1 … 6, targets 4 … 9

    np.testing.assert_array_equal(persistence(SERIES, windows), [1, 4, 1, 5, 9, 2])


def test_persistence_repeats_it_over_every_step_of_a_multi_step_window() -> None:
    windows = make_windows(SERIES, lookback=3, horizon=2, multi_step=True)

    forecast = persistence(SERIES, windows)
    assert forecast.shape == (6, 2)
    np.testing.assert_array_equal(forecast[:, 0], forecast[:, 1])
    np.testing.assert_array_equal(forecast[:, 0], SERIES[2:8])


def test_baselines_read_original_units_when_the_model_sees_scaled_values() -> None:
    scaled = StandardScaler().fit_transform(SERIES)
    windows = make_windows(scaled, lookback=2)

    np.testing.assert_array_equal(persistence(SERIES, windows), SERIES[1:-1])


def test_seasonal_naive_reads_one_season_back() -> None:
    windows = make_windows(SERIES, lookback=4, horizon=1)  # targets at 4 … 9
    np.testing.assert_array_equal(seasonal_naive(SERIES, windows, season=3), SERIES[1:7])


def test_seasonal_naive_reaches_back_whole_seasons_to_before_the_origin() -> None:
    # origin 5; targets 6 … 9 are 1 … 4 steps ahead; season 2 reads back 2, 2, 4, 4 steps
    windows = make_windows(SERIES, lookback=6, horizon=4, multi_step=True)

    forecast = seasonal_naive(SERIES, windows, season=2)
    np.testing.assert_array_equal(forecast, [[SERIES[4], SERIES[5], SERIES[4], SERIES[5]]])


def test_seasonal_naive_is_perfect_on_a_periodic_series() -> None:
    series = np.tile([1.0, 5.0, 2.0, 8.0], 10)
    windows = make_windows(series, lookback=6, horizon=3)

    forecast = seasonal_naive(series, windows, season=4)
    np.testing.assert_array_equal(forecast, series[windows.target_index])


def test_seasonal_naive_refuses_windows_without_a_season_of_history() -> None:
    windows = make_windows(SERIES, lookback=2)  # first target at step 2

    with pytest.raises(ValueError, match=r"window 0 \(target at step 2\) has no value 3 steps"):
        seasonal_naive(SERIES, windows, season=3)
    # the later windows have that history
    assert seasonal_naive(SERIES, windows.take(np.arange(1, 8)), season=3).shape == (7,)


@given(
    steps=st.integers(12, 40),
    lookback=st.integers(1, 5),
    horizon=st.integers(1, 6),
    season=st.integers(1, 6),
    multi_step=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_baselines_use_only_what_was_observed_at_the_origin(
    steps: int, lookback: int, horizon: int, season: int, multi_step: bool, seed: int
) -> None:
    series = np.random.default_rng(seed).normal(size=steps)
    windows = make_windows(series, lookback, horizon, multi_step=multi_step)
    windows = windows.take(np.flatnonzero(windows.origin >= 2 * season))
    if len(windows) == 0:
        return
    # a future rewritten after every origin changes nothing a forecast may read
    forecasts = [seasonal_naive(series, windows, season), persistence(series, windows)]
    for i, origin in enumerate(windows.origin):
        rewritten = series.copy()
        rewritten[origin + 1 :] = 1e9
        one = windows.take([i])
        np.testing.assert_array_equal(seasonal_naive(rewritten, one, season), forecasts[0][[i]])
        np.testing.assert_array_equal(persistence(rewritten, one), forecasts[1][[i]])
    np.testing.assert_array_equal(seasonal_naive(series, windows, 1), forecasts[1])


def test_train_mean_forecasts_the_training_periods_mean() -> None:
    windows = make_windows(SERIES, lookback=2, horizon=2, multi_step=True)

    forecast = train_mean(SERIES, windows, train_end=4)
    assert forecast.shape == windows.targets.shape
    np.testing.assert_array_equal(forecast, np.full((7, 2), 9.0 / 4))


def test_rolling_mean_averages_the_last_values_up_to_each_origin() -> None:
    windows = make_windows(SERIES, lookback=3, horizon=2)  # origins 2 … 7

    expected = [np.mean(SERIES[origin - 2 : origin + 1]) for origin in windows.origin]
    np.testing.assert_allclose(rolling_mean(SERIES, windows, 3), expected)
    np.testing.assert_array_equal(rolling_mean(SERIES, windows, 1), persistence(SERIES, windows))
    with pytest.raises(ValueError, match="fewer than 4 values behind it"):
        rolling_mean(SERIES, windows, 4)


def daily(days: int) -> np.ndarray:
    return np.datetime64("2012-01-01", "ns") + np.arange(days) * np.timedelta64(1, "D")


def test_climatology_recovers_a_yearly_cycle_from_the_training_years_alone() -> None:
    timestamps = daily(4 * 365)
    day = (timestamps.astype("datetime64[D]") - np.datetime64("2012-01-01")).astype(float)
    cycle = 10 + 8 * np.sin(2 * np.pi * day / 365.25) + 2 * np.cos(4 * np.pi * day / 365.25)
    noisy = cycle + np.random.default_rng(0).normal(0, 3, size=day.size)
    windows = make_windows(noisy, lookback=7)
    test = windows.origin >= 3 * 365
    ahead = windows.take(np.flatnonzero(test))
    # A test period shifted by 50 degrees: only a fit on the first three years cannot see it.
    shifted = noisy.copy()
    shifted[3 * 365 :] += 50

    forecast = climatology(shifted, timestamps, ahead, train_end=3 * 365)
    assert rmse(cycle[ahead.target_index], forecast) < 0.5
    with pytest.raises(ValueError, match="must leave at least 7 training steps"):
        climatology(noisy, timestamps, ahead, train_end=5)


def test_a_model_is_compared_on_the_same_targets() -> None:
    windows = make_windows(SERIES, lookback=2)
    truth = SERIES[windows.target_index]

    assert rmse(truth, persistence(SERIES, windows)) == pytest.approx(
        np.sqrt(np.mean(np.diff(SERIES)[1:] ** 2))
    )


def test_mistakes_are_refused_with_what_to_do() -> None:
    windows = make_windows(SERIES, lookback=2)
    with pytest.raises(ValueError, match=r"target column in original units, \(T,\)"):
        persistence(SERIES[:, None], windows)
    with pytest.raises(ValueError, match="reach step 9 but the series has 5 steps"):
        persistence(SERIES[:5], windows)
    with pytest.raises(ValueError, match="season must be at least 1"):
        seasonal_naive(SERIES, windows, season=0)
    with pytest.raises(ValueError, match="train_end=0 must be between 1 and"):
        train_mean(SERIES, windows, train_end=0)
