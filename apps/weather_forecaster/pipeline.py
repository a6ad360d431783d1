"""``WeatherForecaster``: an LSTM that forecasts the hourly air temperature.

The time-series family does the windows, the leak-free scaling, the baselines and the report;
this app says where the temperatures come from and which network reads them. Temperatures are
in °C or °F, scales with an arbitrary zero, so the app reports no percentage errors; a day is
the season, so the seasonal-naive baseline is the same hour the day before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from apps.weather_forecaster.sources import (
    SAMPLE_END,
    SAMPLE_START,
    SEATTLE_LATITUDE,
    SEATTLE_LONGITUDE,
    load_weather,
)
from forge_core import nn
from forge_learner.config import BatchSize, Epochs, LearningRate
from forge_learner.families.time_series import (
    LSTMForecaster,
    TimeSeriesConfig,
    TimeSeriesPipeline,
)
from forge_learner.pipeline import PipelineData
from forge_learner.sources import Series

HOURS_PER_DAY = 24


class WeatherConfig(TimeSeriesConfig):
    """Forecast an hour's temperature from the day before it, Seattle 2010 by default."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "latitude": "Data",
        "longitude": "Data",
        "unit": "Data",
    }

    epochs: Epochs = 10
    batch_size: BatchSize = 64
    learning_rate: LearningRate = 0.01

    source: Literal["sample", "open-meteo"] = Field(
        default="sample",
        description=(
            "sample: Seattle's 2010 hourly temperatures, shipped with vega_datasets (no "
            "network); open-meteo: the Open-Meteo archive for any place and dates (cached)."
        ),
    )
    latitude: float = Field(
        default=SEATTLE_LATITUDE, ge=-90.0, le=90.0, description="Where, in degrees north."
    )
    longitude: float = Field(
        default=SEATTLE_LONGITUDE, ge=-180.0, le=180.0, description="Where, in degrees east."
    )
    start: dt.date = Field(default=SAMPLE_START, description="First day of the series.")
    end: dt.date = Field(default=SAMPLE_END, description="Last day of the series (included).")
    unit: Literal["celsius", "fahrenheit"] = Field(
        default="celsius", description="The unit of the temperatures and of every error."
    )


class WeatherForecaster(TimeSeriesPipeline[WeatherConfig]):
    name = "weather_forecaster"
    summary = (
        "Forecasts the hourly air temperature with an LSTM, against persistence and the same "
        "hour the day before."
    )
    Config = WeatherConfig
    percentage_errors = False

    def load_series(self, config: WeatherConfig) -> Series:
        return load_weather(
            config.source,
            config.latitude,
            config.longitude,
            config.start,
            config.end,
            unit=config.unit,
        )

    def season(self, config: WeatherConfig, series: Series) -> int | None:
        return HOURS_PER_DAY

    def create_model(self, config: WeatherConfig, data: PipelineData) -> nn.Module:
        return LSTMForecaster(1, config.hidden_size, config.num_layers)
