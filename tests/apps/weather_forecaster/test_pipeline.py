"""The weather forecaster end to end on the offline Seattle sample, held to its evidence bar."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.weather_forecaster import pipeline as weather
from apps.weather_forecaster.pipeline import WeatherForecaster
from apps.weather_forecaster.sources import load_weather
from forge_learner.pipeline import RunResult
from forge_learner.registry import get_pipeline
from forge_learner.sources import Series
from forge_learner.timeseries import mae, rmse


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run with every default: the offline sample, horizon 1, the last 20 % held out."""
    return WeatherForecaster().run({}, run_dir=tmp_path_factory.mktemp("weather"))


def sample_on_the_hour() -> pd.Series:
    """The sample on a full hourly grid, the hour that daylight saving skips interpolated."""
    sample = load_weather()
    hours = pd.Series(sample.values, index=pd.DatetimeIndex(sample.timestamps))
    return hours.asfreq("h").interpolate()


def test_it_is_registered_under_its_name():
    assert get_pipeline("weather_forecaster") is WeatherForecaster


def test_with_defaults_it_beats_persistence_by_10_percent_on_the_last_fifth(
    default_run: RunResult,
):
    config = default_run.config
    assert (config["source"], config["horizon"], config["test_fraction"]) == ("sample", 1, 0.2)
    # Persistence recomputed from the sample alone: the last 20 % of the hours that have a
    # full window before them, each forecast by the hour before it.
    y = sample_on_the_hour().to_numpy()
    span = len(y) - config["lookback"]
    targets = np.arange(len(y) - round(0.2 * span), len(y))
    persistence = default_run.evaluation.baselines["persistence"]
    assert persistence["rmse"] == pytest.approx(rmse(y[targets], y[targets - 1]))
    assert persistence["mae"] == pytest.approx(mae(y[targets], y[targets - 1]))
    seasonal = default_run.evaluation.baselines["seasonal naive"]
    assert seasonal["rmse"] == pytest.approx(rmse(y[targets], y[targets - 24]))

    assert default_run.evaluation.metrics["rmse"] <= 0.9 * persistence["rmse"]


def test_the_run_leaves_a_report_with_plots_metrics_and_weights(default_run: RunResult):
    run_dir = default_run.run_dir
    for name in ("report.md", "metrics.json", "model.npz", "transform.json"):
        assert (run_dir / name).is_file()
    for name in ("loss.png", "prediction.png", "residuals.png"):
        assert (run_dir / name).read_bytes().startswith(b"\x89PNG")
    report = default_run.report_path.read_text()
    for text in (
        "| persistence | the last value seen when the forecast is made |",
        "| seasonal naive | the value one season (24 hours) earlier |",
        "The model beats the persistence baseline",
        "| period | 2010-01-01 00:00 to 2010-12-31 23:00 (8760 hours) |",
        "| missing readings | 1 missing step(s) filled by linear interpolation (longest gap 1) |",
        "| test period (targets) | 2010-10-20 05:00 to 2010-12-31 23:00 (1747 hours) |",
        "the last 336 hours of the test period",
    ):
        assert text in report
    metrics = json.loads(default_run.metrics_path.read_text())
    assert set(metrics["metrics"]) == {"rmse", "mae"}  # no MAPE of temperatures in °C
    assert metrics["details"]["improvement"]["persistence"]["rmse"] >= 0.1


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
        }
    )
    data = pipeline.load_data(config)
    assert asked == {
        "args": ("open-meteo", 52.5, 13.4, dt.date(2024, 1, 1), dt.date(2024, 1, 30)),
        "kwargs": {"unit": "fahrenheit"},
    }
    assert data.summary["source"] == "open-meteo"
