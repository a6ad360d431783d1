"""What a forecaster's run saves beside ``model.npz`` so that it can forecast again later.

``transform.json`` is the target's fitted transform (``transform_from_state`` rebuilds it).
``inputs.json`` holds the rest a forecast needs: the input columns in order, whether calendar
features are computed from the timestamps, the feature columns' fitted scaler, the lookback and
horizon, and the series' last ``lookback`` rows in their own units with their timestamps: the
window from which the step ``horizon`` steps after the data is forecast.
``next_forecast_inputs(run_dir)`` turns those files back into the network's input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from forge_learner.timeseries import Transform, transform_from_state

from .config import TimeSeriesConfig
from .preparation import CALENDAR_COLUMNS, PreparedSeries, calendar_features

__all__ = ["INPUTS_NAME", "TRANSFORM_NAME", "NextForecastInputs", "next_forecast_inputs"]

TRANSFORM_NAME = "transform.json"
INPUTS_NAME = "inputs.json"


@dataclass(frozen=True)
class NextForecastInputs:
    """The network's input for the forecast after the data, and how to read its answer.

    ``inputs`` is ``(1, lookback, F)`` float32, scaled as in training; the model's output goes
    through ``transform.inverse_transform`` into the series' units. ``after`` is the last
    timestamp of the window; the forecast is for ``horizon`` steps of ``frequency`` later.
    """

    inputs: npt.NDArray[np.float32]
    transform: Transform
    after: np.datetime64
    horizon: int
    frequency: str


def save_for_prediction(run_dir: Path, config: TimeSeriesConfig, prepared: PreparedSeries) -> None:
    """Write ``transform.json`` and ``inputs.json`` into ``run_dir``."""
    run_dir.joinpath(TRANSFORM_NAME).write_text(
        json.dumps(prepared.transform.state_dict(), indent=2) + "\n", encoding="utf-8"
    )
    own = len(prepared.columns) - (len(CALENDAR_COLUMNS) if config.calendar_features else 0)
    tail = slice(len(prepared.inputs) - config.lookback, len(prepared.inputs))
    content = {
        "columns": list(prepared.columns),
        "calendar_features": config.calendar_features,
        "feature_transform": (
            None if prepared.feature_transform is None else prepared.feature_transform.state_dict()
        ),
        "lookback": config.lookback,
        "horizon": config.horizon,
        "frequency": prepared.series.frequency,
        "unit": prepared.series.unit,
        "tail": {
            "timestamps": [
                str(t) for t in np.datetime_as_string(prepared.series.timestamps[tail], unit="s")
            ],
            "values": prepared.inputs[tail, :own].tolist(),
        },
    }
    run_dir.joinpath(INPUTS_NAME).write_text(json.dumps(content, indent=2) + "\n", "utf-8")


def next_forecast_inputs(run_dir: Path) -> NextForecastInputs:
    """The input for forecasting the step after a run's data, from its saved files."""
    saved = json.loads(run_dir.joinpath(INPUTS_NAME).read_text(encoding="utf-8"))
    transform = transform_from_state(
        json.loads(run_dir.joinpath(TRANSFORM_NAME).read_text(encoding="utf-8"))
    )
    timestamps = np.array(saved["tail"]["timestamps"], dtype="datetime64[ns]")
    values = np.asarray(saved["tail"]["values"], dtype=np.float64).reshape(len(timestamps), -1)
    if saved["calendar_features"]:
        values = np.concatenate([values, calendar_features(timestamps)], axis=1)
    scaled = np.empty_like(values)
    scaled[:, 0] = transform.transform(values[:, 0])
    if saved["feature_transform"] is not None:
        features = transform_from_state(saved["feature_transform"])
        scaled[:, 1:] = features.transform(values[:, 1:])
    return NextForecastInputs(
        inputs=scaled[None].astype(np.float32),
        transform=transform,
        after=timestamps[-1],
        horizon=int(saved["horizon"]),
        frequency=str(saved["frequency"]),
    )
