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

Every answer carries the recent history of the target the forecast starts from, so a chart can
continue it.

A row carries every variable the network reads, by name: the target (the series' name) and any
other variables of the series, as in ``inputs.json``'s ``columns``. A forecaster of one
variable also takes a bare number per row. When the network reads calendar features, they are
computed from the rows' timestamps, which are then required.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from forge_core import Tensor, nn, no_grad
from forge_learner.prediction import PredictionInputError, PredictionRequest, read_json
from forge_learner.sources import Series
from forge_learner.timeseries import transform_from_state

from .preparation import CALENDAR_COLUMNS, PreparedSeries, calendar_features, scale_inputs
from .saved import INPUTS_NAME, TRANSFORM_NAME

if TYPE_CHECKING:
    from .config import TimeSeriesConfig

TIMESTAMP = "timestamp"
"""The optional column of a window row that says when the row was measured."""
HISTORY_STEPS = 48
"""Steps of the series' end an answer carries at least, for a chart to continue."""


@dataclass(frozen=True)
class SavedForecaster:
    """What a forecast needs: the trained model, and the series loaded and cleaned again with
    the run's own fitted transforms in place of freshly fitted ones."""

    model: nn.Module
    prepared: PreparedSeries
    persistence_name: str
    calendar: bool

    @property
    def series(self) -> Series:
        return self.prepared.series

    @property
    def own_columns(self) -> tuple[str, ...]:
        """The columns a caller's row gives: every input but the calendar features."""
        columns = self.prepared.columns
        return columns[: len(columns) - len(CALENDAR_COLUMNS)] if self.calendar else columns


def with_fitted_transforms(prepared: PreparedSeries, run_dir: Path) -> PreparedSeries:
    """``prepared`` with the transforms the run fitted (``transform.json``, ``inputs.json``),
    so a forecast scales as training did even if the source has gained data since."""
    transform = transform_from_state(read_json(run_dir, TRANSFORM_NAME))
    features = read_json(run_dir, INPUTS_NAME).get("feature_transform")
    return replace(
        prepared,
        transform=transform,
        feature_transform=None if features is None else transform_from_state(features),
    )


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
    inputs, values = saved.prepared.inputs, saved.prepared.target
    end = len(values) - 1
    origins = end - horizon + np.arange(1, horizon + 1)
    windows = np.stack([inputs[origin - lookback + 1 : origin + 1] for origin in origins])
    targets = end + np.arange(1, horizon + 1)
    baselines = {saved.persistence_name: values[origins]}
    season = saved.prepared.season
    if season is not None:
        lag = season * -(-horizon // season)
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
    rows, times = read_window(inputs, config.lookback, saved.own_columns, saved.series.unit)
    if saved.calendar:
        if times is None:
            raise PredictionInputError(
                f"inputs[0].{TIMESTAMP}",
                "is required: the model reads the day of the year, so give every row a "
                f"{TIMESTAMP!r}",
            )
        rows = np.concatenate([rows, calendar_features(times)], axis=1)
    window = rows[:, 0]
    horizon = config.horizon
    baselines = {saved.persistence_name: window[-1:]}
    season = saved.prepared.season
    if season is not None:
        lag = season * -(-horizon // season)
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
        predicted=_predict(saved, rows[None]),
        baselines=baselines,
    )


def read_window(
    inputs: Any, lookback: int, columns: Sequence[str], unit: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.datetime64] | None]:
    """The caller's rows as ``(lookback, len(columns))`` values, and their timestamps when
    every row has one.

    ``PredictionInputError`` names the first thing wrong: not a list, the wrong length, a row
    without one of the columns or with columns the model does not read, a value that is not a
    finite number, timestamps that are missing from some rows, unreadable or out of order.
    """
    listed = ", ".join(map(repr, columns))
    if not isinstance(inputs, list):
        bare = "a number or " if len(columns) == 1 else ""
        raise PredictionInputError(
            "inputs",
            f"give a list of {lookback} rows, oldest first, each {bare}an object with "
            f"{listed} (and optionally {TIMESTAMP!r})",
        )
    if len(inputs) != lookback:
        raise PredictionInputError(
            "inputs",
            f"the model forecasts from a window of {lookback} rows (its lookback), got "
            f"{len(inputs)}: send the {lookback} latest rows, oldest first",
        )
    values = np.empty((lookback, len(columns)))
    stamps: list[str | None] = []
    for i, row in enumerate(inputs):
        where = f"inputs[{i}]"
        stamp = None
        if isinstance(row, dict):
            unknown = sorted(set(row) - {*columns, TIMESTAMP})
            if unknown:
                raise PredictionInputError(
                    where,
                    f"has column(s) {', '.join(map(repr, unknown))} that the model does not "
                    f"read; it reads {listed} and an optional {TIMESTAMP!r}",
                )
            for j, column in enumerate(columns):
                if column not in row:
                    units = f" in {unit}" if j == 0 else ""
                    raise PredictionInputError(
                        where, f"has no {column!r} column: give {column}{units}"
                    )
                values[i, j] = _finite(row[column], f"{where}.{column}")
            stamp = row.get(TIMESTAMP)
        elif len(columns) == 1:
            values[i, 0] = _finite(row, where)
        else:
            raise PredictionInputError(
                where, f"must be an object with {listed}: the model reads {len(columns)} columns"
            )
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
    """The model's forecasts for ``(N, lookback, F)`` raw windows, in the series' units."""
    scaled = scale_inputs(saved.prepared, windows).astype(np.float32)
    with no_grad():
        output = saved.model(Tensor(scaled)).numpy()
    return saved.prepared.transform.inverse_transform(output.astype(np.float64)[:, 0])


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
