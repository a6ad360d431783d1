"""Daily volatility: the measure the stock predictor forecasts, and its two fitted competitors.

The measure is Parkinson's (1980) high-low estimator of a day's standard deviation of log
returns, ``|ln(high / low)| / (2 sqrt(ln 2))``, in percent. It reads the day's whole range, not
one close-to-close move, so it is some five times as efficient as the absolute return: a day
with a wild intraday swing and an unchanged close counts as volatile, and a calm day is rarely
scored as exactly zero. A forecast of it is therefore scored against a less noisy truth.

GARCH(1,1) (Bollerslev 1986) is the textbook volatility baseline: fitted with ``arch`` on the
training part's close-to-close returns, its one-step conditional standard deviation is mapped to
the Parkinson measure by one scale, fitted by least squares on the training targets. HAR
(Corsi 2009) regresses tomorrow's volatility on today's and the means of the last week (5 days)
and month (22 days), fitted by least squares on the training part: the reference a volatility
network must be compared with.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from forge_learner.timeseries import Windows

Array = npt.NDArray[np.float64]

WEEK = 5
MONTH = 22
PARKINSON_SCALE = 100.0 / (2.0 * math.sqrt(math.log(2.0)))


def parkinson(high: Array, low: Array) -> Array:
    """Each day's Parkinson volatility in percent, from its high and low prices."""
    if np.any(low <= 0) or np.any(high < low):
        raise ValueError("parkinson: prices must be positive and each high at least its low")
    return PARKINSON_SCALE * np.log(high / low)


def garch_forecasts(
    returns: Array, target: Array, windows: Windows, train_end: int, horizon: int
) -> Array:
    """GARCH(1,1)'s forecasts of ``target`` at each window's target, in its units.

    ``returns`` are the close-to-close log returns in percent, step for step with ``target``
    (``returns[t]`` is known at the end of step ``t``). The model is fitted on
    ``returns[:train_end]``; with its parameters fixed, the conditional variance ``horizon``
    steps after each origin is forecast from the data up to the origin only. The scale from
    its standard deviation to ``target`` is fitted on the training steps.
    """
    from arch import arch_model  # lazily: slow to import

    def model(data: Array):  # type: ignore[no-untyped-def]
        return arch_model(data, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)

    fitted = model(returns[:train_end]).fit(disp="off")
    variance = (
        model(returns).fix(fitted.params).forecast(horizon=horizon, start=0, reindex=True)
    ).variance.to_numpy()[:, horizon - 1]
    spread = np.sqrt(variance)
    origins = np.arange(len(target) - horizon)
    training = origins[origins + horizon < train_end]
    x, y = spread[training], target[training + horizon]
    scale = float(x @ y / (x @ x))
    forecasts: Array = scale * spread[windows.origin]
    return forecasts


def har(target: Array, windows: Windows, train_end: int, horizon: int) -> Array:
    """HAR's forecasts of ``target`` at each window's target: least squares on the day's,
    the week's and the month's mean volatility up to the origin, fitted on training steps."""
    sums = np.concatenate([[0.0], np.cumsum(target)])

    def design(origins: npt.NDArray[np.int64]) -> Array:
        columns = [np.ones(len(origins))]
        for length in (1, WEEK, MONTH):
            columns.append((sums[origins + 1] - sums[origins + 1 - length]) / length)
        return np.stack(columns, axis=1)

    origins = np.arange(MONTH - 1, len(target) - horizon)
    training = origins[origins + horizon < train_end]
    coefficients, *_ = np.linalg.lstsq(design(training), target[training + horizon], rcond=None)
    forecasts: Array = design(windows.origin) @ coefficients
    return forecasts
