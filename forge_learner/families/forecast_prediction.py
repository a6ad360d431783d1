"""Forecasts from a trained forecaster: past the end of its data, or from a caller's window.

``TimeSeriesPipeline.predict`` hands over here, so this module is the one place that knows how
a saved forecaster answers. The model comes from the run's ``model.npz`` and its transform from
``transform.json``, exactly as they were fitted on the training period; the series is loaded
again from the run's config (the data cache makes that cheap) and cleaned the way training
cleaned it.

- With no inputs, the answer forecasts each of the ``horizon`` steps after the series' end. The
  model forecasts ``horizon`` steps ahead of a window's last step, so the forecast of step
  ``end + k`` comes from the window that ends ``horizon - k`` steps before the end: the latest
  window that can reach it. The baselines forecast the same steps from the same origins.
- With ``inputs``, a window of exactly ``lookback`` rows, oldest first, the answer is the one
  value ``horizon`` steps after the window's last row. A row is a number, or an object with the
  series' column and, optionally, a ``timestamp``; when the rows carry timestamps the forecast
  gets one too.

Every answer carries the recent history the forecast starts from, so a chart can continue it.

The series is univariate, as the family's is: a row has one value column, named as the series,
and the network sees windows of shape ``(N, lookback, 1)``. A family that forecasts from several
columns reads each of them in ``read_window`` and gives ``_predict`` ``(N, lookback, F)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from forge_core import Tensor, nn, no_grad
from forge_learner.prediction import PredictionInputError, PredictionRequest, read_json
from forge_learner.sources import Series
from forge_learner.timeseries import Transform, transform_from_state

if TYPE_CHECKING:
    from forge_learner.families.time_series import TimeSeriesConfig

TIMESTAMP = "timestamp"
"""The optional column of a window row that says when the row was measured."""
HISTORY_STEPS = 48
"""Steps of the series' end an answer carries at least, for a chart to continue."""


@dataclass(frozen=True)
class SavedForecaster:
    """What a forecast needs: the trained model, its fitted transform, and the cleaned series."""

    model: nn.Module
    transform: Transform
    series: Series
    season: int | None
    persistence_name: str


def load_transform(run_dir: Path, name: str) -> Transform:
    """The transform the run fitted on its training period, from its saved state."""
    return transform_from_state(read_json(run_dir, name))


def forecast(
    saved: SavedForecaster, config: TimeSeriesConfig, request: PredictionRequest
) -> dict[str, Any]:
    """The JSON answer to ``request`` (see the module docstring)."""
    if request.images:
        raise PredictionInputError(
            "images", "a forecaster reads a window of rows, not images: send inputs instead"
        )
    if request.inputs is None:
        return _beyond_the_end(saved, config)
    return _from_window(saved, config, request.inputs)


def _beyond_the_end(saved: SavedForecaster, config: TimeSeriesConfig) -> dict[str, Any]:
    series, lookback, horizon = saved.series, config.lookback, config.horizon
    values = series.values
    end = len(values) - 1
    origins = end - horizon + np.arange(1, horizon + 1)
    windows = np.stack([values[origin - lookback + 1 : origin + 1] for origin in origins])
    targets = end + np.arange(1, horizon + 1)
    baselines = {saved.persistence_name: values[origins]}
    if saved.season is not None:
        lag = saved.season * -(-horizon // saved.season)
        if (targets - lag).min() >= 0:
            baselines["seasonal naive"] = values[targets - lag]
    shown = min(len(values), max(lookback, HISTORY_STEPS))
    return _answer(
        saved,
        config,
        "end of data",
        history_times=series.timestamps[-shown:],
        history=values[-shown:],
        forecast_times=_steps_after(series, series.timestamps[-1], horizon)[-horizon:],
        predicted=_predict(saved, windows),
        baselines=baselines,
    )


def _from_window(saved: SavedForecaster, config: TimeSeriesConfig, inputs: Any) -> dict[str, Any]:
    window, times = read_window(inputs, config.lookback, saved.series)
    horizon = config.horizon
    baselines = {saved.persistence_name: window[-1:]}
    if saved.season is not None:
        lag = saved.season * -(-horizon // saved.season)
        back = len(window) - 1 + horizon - lag
        if back >= 0:
            baselines["seasonal naive"] = window[back : back + 1]
    forecast_times = None if times is None else _steps_after(saved.series, times[-1], horizon)
    return _answer(
        saved,
        config,
        "inputs",
        history_times=times,
        history=window,
        forecast_times=None if forecast_times is None else forecast_times[-1:],
        predicted=_predict(saved, window[None, :]),
        baselines=baselines,
    )


def read_window(
    inputs: Any, lookback: int, series: Series
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.datetime64] | None]:
    """The caller's rows as values, and their timestamps when every row has one.

    ``PredictionInputError`` names the first thing wrong: not a list, the wrong length, a row
    without the series' column or with columns the model does not read, a value that is not a
    finite number, timestamps that are missing from some rows, unreadable or out of order.
    """
    column = series.name
    if not isinstance(inputs, list):
        raise PredictionInputError(
            "inputs",
            f"give a list of {lookback} rows, oldest first, each a number or an object with "
            f"{column!r} (and optionally {TIMESTAMP!r})",
        )
    if len(inputs) != lookback:
        raise PredictionInputError(
            "inputs",
            f"the model forecasts from a window of {lookback} rows (its lookback), got "
            f"{len(inputs)}: send the {lookback} latest rows, oldest first",
        )
    values = np.empty(lookback)
    stamps: list[str | None] = []
    for i, row in enumerate(inputs):
        where = f"inputs[{i}]"
        stamp = None
        if isinstance(row, dict):
            unknown = sorted(set(row) - {column, TIMESTAMP})
            if unknown:
                raise PredictionInputError(
                    where,
                    f"has column(s) {', '.join(map(repr, unknown))} that the model does not "
                    f"read; it reads {column!r} ({series.unit}) and an optional {TIMESTAMP!r}",
                )
            if column not in row:
                raise PredictionInputError(
                    where, f"has no {column!r} column: give {column} in {series.unit}"
                )
            value, where, stamp = row[column], f"{where}.{column}", row.get(TIMESTAMP)
        else:
            value = row
        values[i] = _finite(value, where)
        stamps.append(stamp)
    return values, _timestamps(stamps)


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PredictionInputError(where, f"must be a finite number, got {value!r}")
    return float(value)


def _timestamps(stamps: Sequence[str | None]) -> npt.NDArray[np.datetime64] | None:
    given = [i for i, stamp in enumerate(stamps) if stamp is not None]
    if not given:
        return None
    if len(given) != len(stamps):
        missing = next(i for i, stamp in enumerate(stamps) if stamp is None)
        raise PredictionInputError(
            f"inputs[{missing}].{TIMESTAMP}",
            "is missing, while other rows have one: give every row a timestamp, or none",
        )
    times = []
    for i, stamp in enumerate(stamps):
        try:
            times.append(np.datetime64(str(stamp).rstrip("Z"), "ns"))
        except ValueError:
            raise PredictionInputError(
                f"inputs[{i}].{TIMESTAMP}",
                f"{stamp!r} is not an ISO 8601 time such as 2010-12-31T23:00",
            ) from None
    array = np.array(times, dtype="datetime64[ns]")
    if np.any(np.diff(array) <= np.timedelta64(0)):
        first = int(np.flatnonzero(np.diff(array) <= np.timedelta64(0))[0]) + 1
        raise PredictionInputError(
            f"inputs[{first}].{TIMESTAMP}", "is not after the row before it: send rows oldest first"
        )
    return array


def _predict(saved: SavedForecaster, windows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The model's forecasts for ``(N, lookback)`` windows in the series' units."""
    scaled = saved.transform.transform(windows[:, :, None]).astype(np.float32)
    with no_grad():
        output = saved.model(Tensor(scaled)).numpy()
    return saved.transform.inverse_transform(output.astype(np.float64)[:, 0])


def _steps_after(series: Series, last: np.datetime64, count: int) -> npt.NDArray[np.datetime64]:
    """The ``count`` steps of the series' frequency after ``last``."""
    import pandas as pd  # lazily, as in the family: listing pipelines need not wait for it

    steps = pd.date_range(last, periods=count + 1, freq=series.frequency)
    return steps[1:].to_numpy().astype("datetime64[ns]")


def _answer(
    saved: SavedForecaster,
    config: TimeSeriesConfig,
    origin: str,
    *,
    history_times: npt.NDArray[np.datetime64] | None,
    history: npt.NDArray[np.float64],
    forecast_times: npt.NDArray[np.datetime64] | None,
    predicted: npt.NDArray[np.float64],
    baselines: dict[str, npt.NDArray[np.float64]],
) -> dict[str, Any]:
    series = saved.series
    return {
        "kind": "forecast",
        "from": origin,
        "series": {"name": series.name, "unit": series.unit, "frequency": series.frequency},
        "lookback": config.lookback,
        "horizon": config.horizon,
        "history": {"timestamps": _iso(history_times, len(history)), "values": history.tolist()},
        "forecast": {
            "timestamps": _iso(forecast_times, len(predicted)),
            "values": predicted.tolist(),
        },
        "baselines": {name: values.tolist() for name, values in baselines.items()},
    }


def _iso(times: npt.NDArray[np.datetime64] | None, count: int) -> list[str | None]:
    if times is None:
        return [None] * count
    return [str(np.datetime_as_string(t, unit="s")) for t in times]
