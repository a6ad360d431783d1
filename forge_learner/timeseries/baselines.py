"""Naive forecasts a model must beat, on the same windows and in the series' own units.

An RMSE alone says little: a weather model with an RMSE of 1.2 °C is good or useless depending
on how well "tomorrow is like today" does. Each baseline here forecasts every window of a
``Windows`` (normally the test part) from the original, unscaled target series, and returns an
array of the windows' ``targets`` shape, so ``rmse(series[w.target_index], baseline)`` compares
with the model's error on exactly the same targets.

``series`` is always the target column in original units, ``(T,)``, the series the windows were
cut from; each baseline reads it only at or before each window's origin, as a forecast made at
the origin could.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from forge_learner.timeseries.windows import Windows

Array = np.ndarray


def _target_series(series: ArrayLike, windows: Windows, who: str) -> Array:
    array = np.asarray(series, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(
            f"{who}: series must be the target column in original units, (T,), got shape "
            f"{array.shape}"
        )
    if len(windows) and array.shape[0] <= int(windows.target_index.max()):
        raise ValueError(
            f"{who}: the windows reach step {int(windows.target_index.max())} but the series "
            f"has {array.shape[0]} steps; pass the series the windows were cut from"
        )
    return array


def _per_target(origin_values: Array, windows: Windows) -> Array:
    """One value per window, repeated over a multi-step window's targets."""
    shape = windows.target_index.shape
    return np.broadcast_to(origin_values.reshape(-1, *([1] * (len(shape) - 1))), shape).copy()


def persistence(series: ArrayLike, windows: Windows) -> Array:
    """The last observed value, ``y_hat(origin + h) = y(origin)``, for every step ahead ``h``."""
    array = _target_series(series, windows, "persistence")
    return _per_target(array[windows.origin], windows)


def seasonal_naive(series: ArrayLike, windows: Windows, season: int) -> Array:
    """The last observed value one season earlier: ``y_hat(t) = y(t - season * k)``.

    ``k = ceil(h / season)`` for a target ``h`` steps ahead of its origin, the fewest whole
    seasons that reach back to the origin or before (``k = 1`` whenever ``h <= season``, the
    textbook ``y(t - season)``); a farther-ahead target would otherwise read a value not yet
    observed at the origin. E.g. ``season=24`` for hourly data with a daily cycle.

    A window whose seasonal lag falls before the series' first step has no such forecast and is
    refused with an error, rather than given a made-up value that would flatter or hurt the
    baseline. Test windows lie at the end of a series and are affected only when the series is
    shorter than about one season plus the training period.
    """
    if season < 1:
        raise ValueError(f"seasonal_naive: season must be at least 1 step, got {season}")
    array = _target_series(series, windows, "seasonal_naive")
    ahead = windows.target_index - _per_target(windows.origin, windows)
    lagged = windows.target_index - season * -(-ahead // season)
    if lagged.size and lagged.min() < 0:
        first = int(np.flatnonzero((lagged < 0).reshape(len(windows), -1).any(axis=1))[0])
        raise ValueError(
            f"seasonal_naive: window {first} (target at step "
            f"{int(windows.target_index[first].min())}) has no value {season} steps earlier in "
            "the series; evaluate it on windows at least one season into the series, such as "
            "the test windows"
        )
    return array[lagged]


def train_mean(series: ArrayLike, windows: Windows, train_end: int) -> Array:
    """The training period's mean, ``mean(y[:train_end])``, as the forecast of every target.

    ``train_end`` is ``ChronologicalSplit.train_end``. The weakest baseline: a model that does not
    beat it has learned nothing about the series' dynamics.
    """
    array = _target_series(series, windows, "train_mean")
    if not 0 < train_end <= array.shape[0]:
        raise ValueError(
            f"train_mean: train_end={train_end} must be between 1 and the series' "
            f"{array.shape[0]} steps"
        )
    return np.full(windows.target_index.shape, array[:train_end].mean())


def climatology(
    series: ArrayLike,
    timestamps: np.ndarray,
    windows: Windows,
    train_end: int,
    harmonics: int = 3,
) -> Array:
    """The usual value for each target's day of the year: a smooth yearly curve.

    The curve is a mean plus ``harmonics`` sine/cosine pairs of the day of the year, fitted by
    least squares on the training steps ``series[:train_end]``; it forecasts each target from
    its date alone. For weather this is what "a normal day in early May" means, and a forecast
    that does not beat it has learnt nothing from the days before. Three harmonics follow a
    seasonal cycle's skew without chasing the noise of single days.
    """
    array = _target_series(series, windows, "climatology")
    if harmonics < 1:
        raise ValueError(f"climatology: harmonics must be at least 1, got {harmonics}")
    if not 2 * harmonics + 1 <= train_end <= array.shape[0]:
        raise ValueError(
            f"climatology: train_end={train_end} must leave at least {2 * harmonics + 1} "
            f"training steps and lie within the series' {array.shape[0]} steps"
        )
    design = _yearly_design(np.asarray(timestamps), harmonics)
    coefficients, *_ = np.linalg.lstsq(design[:train_end], array[:train_end], rcond=None)
    curve: Array = design @ coefficients
    return curve[windows.target_index]


def _yearly_design(timestamps: np.ndarray, harmonics: int) -> Array:
    days = timestamps.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype("datetime64[D]")
    angle = 2 * np.pi * (days - years).astype(np.float64) / 365.25
    columns = [np.ones_like(angle)]
    for k in range(1, harmonics + 1):
        columns += [np.sin(k * angle), np.cos(k * angle)]
    return np.stack(columns, axis=1)


def rolling_mean(series: ArrayLike, windows: Windows, length: int) -> Array:
    """The mean of the last ``length`` values up to each window's origin ``o``.

    That is ``mean(y[o - length + 1 : o + 1])`` for every target of the window.

    E.g. ``length=22``, a month of trading days, for volatility: a smoother "recently" than
    persistence's single last value. A window whose origin has fewer than ``length`` values
    behind it is refused, as in ``seasonal_naive``.
    """
    if length < 1:
        raise ValueError(f"rolling_mean: length must be at least 1 step, got {length}")
    array = _target_series(series, windows, "rolling_mean")
    if len(windows) and int(windows.origin.min()) < length - 1:
        raise ValueError(
            f"rolling_mean: a window's origin at step {int(windows.origin.min())} has fewer "
            f"than {length} values behind it; evaluate it on later windows, such as the test ones"
        )
    sums = np.concatenate([[0.0], np.cumsum(array)])
    means = (sums[windows.origin + 1] - sums[windows.origin + 1 - length]) / length
    return _per_target(means, windows)
