"""The default weather forecaster predicts from several columns and the calendar, as it trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from apps.weather_forecaster.pipeline import WeatherForecaster
from forge_learner.prediction import PredictionInputError, PredictionRequest

CONFIG = {"epochs": 1, "horizon": 2}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("weather")
    WeatherForecaster().run(CONFIG, run_dir=directory)
    return directory


def predict(run_dir: Path, inputs: object = None) -> dict:
    return WeatherForecaster().predict(run_dir, PredictionRequest(inputs=inputs))


def saved_rows(run_dir: Path) -> list[dict[str, object]]:
    """The run's last window as a caller would send it: every column, and the dates."""
    saved = json.loads((run_dir / "inputs.json").read_text())
    own = [c for c in saved["columns"] if not c.startswith("day-of-year")]
    return [
        {"timestamp": stamp, **dict(zip(own, values, strict=True))}
        for stamp, values in zip(saved["tail"]["timestamps"], saved["tail"]["values"], strict=True)
    ]


def test_past_the_data_it_forecasts_each_day_of_the_horizon(run_dir: Path) -> None:
    answer = predict(run_dir)

    assert answer["from"] == "end of data"
    assert answer["forecast"]["timestamps"] == ["2016-01-01T00:00:00", "2016-01-02T00:00:00"]
    assert all(np.isfinite(answer["forecast"]["values"]))
    assert set(answer["baselines"]) == {"persistence"}


def test_the_last_window_sent_back_gives_the_forecast_of_the_day_after_the_data(
    run_dir: Path,
) -> None:
    rows = saved_rows(run_dir)

    answer = predict(run_dir, rows)

    assert len(rows) == 14 and len(rows[0]) == 5  # a timestamp and four variables
    assert answer["from"] == "inputs"
    assert answer["forecast"]["timestamps"] == ["2016-01-02T00:00:00"]
    # The window ending on the data's last day, horizon 2: the last step "end of data" forecasts.
    assert answer["forecast"]["values"] == pytest.approx(
        predict(run_dir)["forecast"]["values"][-1:]
    )


def test_without_dates_or_a_column_the_window_is_refused_naming_it(run_dir: Path) -> None:
    rows = saved_rows(run_dir)
    undated = [{k: v for k, v in row.items() if k != "timestamp"} for row in rows]
    missing = [*rows[:-1], {k: v for k, v in rows[-1].items() if k != "wind"}]

    with pytest.raises(PredictionInputError) as no_dates:
        predict(run_dir, undated)
    with pytest.raises(PredictionInputError) as no_wind:
        predict(run_dir, missing)
    with pytest.raises(PredictionInputError) as bare:
        predict(run_dir, [1.0] * 14)

    assert no_dates.value.field == "inputs[0].timestamp"
    assert "day of the year" in str(no_dates.value)
    assert no_wind.value.field == "inputs[13]"
    assert "'wind'" in str(no_wind.value)
    assert bare.value.field == "inputs[0]"
