"""The weather forecaster end to end on NOAA's daily Seattle observations, and its other sources."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from vega_datasets import local_data

from apps.weather_forecaster import pipeline as weather
from apps.weather_forecaster.pipeline import WeatherForecaster
from forge_learner.config import ConfigError
from forge_learner.pipeline import RunResult
from forge_learner.registry import get_pipeline
from forge_learner.sources import DataRequestError, Series
from forge_learner.timeseries import mae, rmse


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run with every default: daily observations, tomorrow's maximum, the last year out."""
    return WeatherForecaster().run({}, run_dir=tmp_path_factory.mktemp("weather"))


def test_it_is_registered_under_its_name():
    assert get_pipeline("weather_forecaster") is WeatherForecaster


def test_with_defaults_the_baselines_forecast_the_last_year_of_daily_maxima(
    default_run: RunResult,
):
    config = default_run.config
    assert (config["source"], config["horizon"], config["calendar_features"]) == (
        "seattle-weather",
        1,
        True,
    )
    # Persistence recomputed from the table alone: the last quarter of the days that have a
    # full window before them, each forecast by the day before it.
    y = local_data.seattle_weather()["temp_max"].to_numpy(dtype=np.float64)
    span = len(y) - config["lookback"]
    targets = np.arange(len(y) - round(config["test_fraction"] * span), len(y))
    assert len(targets) >= 360  # about the last year
    persistence = default_run.evaluation.baselines["persistence"]
    assert persistence["rmse"] == pytest.approx(rmse(y[targets], y[targets - 1]))
    assert persistence["mae"] == pytest.approx(mae(y[targets], y[targets - 1]))
    assert set(default_run.evaluation.baselines) == {"persistence", "climatology"}
    assert set(default_run.evaluation.references) == {"linear autoregression"}


def test_the_run_leaves_a_report_with_provenance_competitors_and_what_prediction_needs(
    default_run: RunResult,
):
    run_dir = default_run.run_dir
    for name in ("report.md", "metrics.json", "model.npz", "transform.json", "inputs.json"):
        assert (run_dir / name).is_file()
    for name in ("loss.png", "prediction.png", "residuals.png"):
        assert (run_dir / name).read_bytes().startswith(b"\x89PNG")
    report = default_run.report_path.read_text()
    for text in (
        "| source | seattle-weather |",
        "National Centers for Environmental Information",
        "public domain",
        "| period | 2012-01-01 to 2015-12-31 (1461 days) |",
        "| network inputs | temp_max, temp_min, precipitation, wind, day-of-year sine, "
        "day-of-year cosine |",
        "| climatology | the day of the year's usual value",
        "linear autoregression (reference)",
        "The model beats the persistence baseline",
        "The model beats the climatology baseline",
        "the linear autoregression reference",
    ):
        assert text in report
    metrics = json.loads(default_run.metrics_path.read_text())
    assert set(metrics["metrics"]) == {"rmse", "mae"}  # no MAPE of temperatures in °C
    assert set(metrics["references"]) == {"linear autoregression"}
    saved = json.loads((run_dir / "inputs.json").read_text())
    assert saved["columns"][:4] == ["temp_max", "temp_min", "precipitation", "wind"]
    assert saved["tail"]["timestamps"][-1].startswith("2015-12-31")


def test_the_hourly_sample_stays_an_option_labelled_for_demos():
    pipeline = WeatherForecaster()
    data = pipeline.load_data(pipeline.parse_config({"source": "sample", "lookback": 24}))
    assert "Climatology-smoothed, not observations: for demos" in str(data.summary["description"])
    ready = data.extras["series"]
    assert ready.season == 24
    test = ready.windows.take(ready.split.test)
    # Less than a year of training hours: no yearly curve is extrapolated from them.
    assert set(pipeline.baselines(data.extras["config"], ready, test)) == {
        "persistence",
        "seasonal naive",
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"source": "noaa"}, "source: "),
        ({"calendar_features": "sometimes"}, "calendar_features: "),
        ({"start": "yesterday"}, "start: "),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message):
        WeatherForecaster.parse_config(settings)


def test_open_meteo_needs_its_days():
    pipeline = WeatherForecaster()
    with pytest.raises(DataRequestError, match="needs both start and end"):
        pipeline.load_data(pipeline.parse_config({"source": "open-meteo", "start": "2024-01-01"}))


def test_the_open_meteo_settings_reach_the_source(monkeypatch: pytest.MonkeyPatch):
    asked: dict[str, Any] = {}

    def fake_load_weather(*args: Any, **kwargs: Any) -> Series:
        asked.update(args=args, kwargs=kwargs)
        hours = np.datetime64("2024-01-01T00", "ns") + np.arange(24 * 30) * np.timedelta64(1, "h")
        return Series(
            timestamps=hours,
            values=40 + np.sin(np.arange(24 * 30) / 4.0),
            name="temperature_2m",
            unit="°F",
            frequency="h",
            source="open-meteo",
            description="A stand-in for the archive's answer.",
        )

    monkeypatch.setattr(weather, "load_weather", fake_load_weather)
    pipeline = WeatherForecaster()
    config = pipeline.parse_config(
        {
            "source": "open-meteo",
            "latitude": 52.5,
            "longitude": 13.4,
            "start": "2024-01-01",
            "end": "2024-01-30",
            "unit": "fahrenheit",
            "calendar_features": False,
        }
    )
    data = pipeline.load_data(config)
    assert asked == {
        "args": ("open-meteo", 52.5, 13.4, dt.date(2024, 1, 1), dt.date(2024, 1, 30)),
        "kwargs": {"unit": "fahrenheit"},
    }
    assert data.summary["source"] == "open-meteo"
