"""``WeatherForecaster``: an LSTM that forecasts tomorrow's maximum temperature.

The time-series family does the windows, the leak-free scaling, the competitors and the
report; this app says where the weather comes from, which network reads it, and which naive
forecasts and reference model it must be held against. By default it reads NOAA's daily
observations at Seattle (2012 to 2015): the last days' maximum and minimum temperature,
precipitation and wind, and the day of the year, to forecast the next day's maximum; the last
year is the test part. Its competitors: persistence (tomorrow is like today), climatology (a
smooth day-of-year curve fitted on the training years) and, as the reference, a linear
autoregression on the very same inputs. Temperatures are in °C or °F, scales with an arbitrary
zero, so the app reports no percentage errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from apps.weather_forecaster.sources import (
    DAILY_END,
    DAILY_START,
    SAMPLE_END,
    SAMPLE_START,
    SEATTLE_LATITUDE,
    SEATTLE_LONGITUDE,
    load_weather,
)
from forge_learner.config import BatchSize, Epochs, LearningRate
from forge_learner.families.time_series import (
    Competitor,
    PreparedSeries,
    TimeSeriesConfig,
    TimeSeriesPipeline,
)
from forge_learner.sources import DataRequestError, Series
from forge_learner.timeseries import Windows, climatology

HOURS_PER_DAY = 24
CLIMATOLOGY_HARMONICS = 3
YEAR = np.timedelta64(365, "D")

_PERIODS = {
    "seattle-weather": (DAILY_START, DAILY_END),
    "sample": (SAMPLE_START, SAMPLE_END),
}


class WeatherConfig(TimeSeriesConfig):
    """Forecast tomorrow's maximum temperature from the last two weeks' weather, in Seattle."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "latitude": "Data",
        "longitude": "Data",
        "unit": "Data",
    }

    epochs: Epochs = 20
    batch_size: BatchSize = 32
    learning_rate: LearningRate = 0.005
    lookback: int = Field(
        default=14, ge=1, le=1000, description="Past steps (days) the network sees per forecast."
    )
    hidden_size: int = Field(
        default=16,
        ge=1,
        le=1024,
        description=(
            "The network's width: units per recurrent layer, transformer features or TCN channels."
        ),
    )
    test_fraction: float = Field(
        default=0.25,
        ge=0.05,
        le=0.5,
        description=(
            "Share at the end of the series held out to score the model and the competitors "
            "(0.25: the last of the observations' four years)."
        ),
    )
    calendar_features: bool = Field(
        default=True,
        description="Give the network the day of the year as a sine and a cosine.",
    )

    source: Literal["seattle-weather", "sample", "open-meteo"] = Field(
        default="seattle-weather",
        description=(
            "seattle-weather: NOAA's daily observations at Seattle, 2012-2015 (max and min "
            "temperature, precipitation, wind), shipped with vega_datasets (no network). "
            "sample: Seattle's 2010 hourly temperatures, climatology-smoothed; for demos. "
            "open-meteo: the Open-Meteo archive's hourly temperature for any place (cached)."
        ),
    )
    latitude: float = Field(
        default=SEATTLE_LATITUDE, ge=-90.0, le=90.0, description="Where, in degrees north."
    )
    longitude: float = Field(
        default=SEATTLE_LONGITUDE, ge=-180.0, le=180.0, description="Where, in degrees east."
    )
    start: dt.date | None = Field(
        default=None,
        description="First day of the series (none: the source's first; open-meteo needs one).",
    )
    end: dt.date | None = Field(
        default=None,
        description="Last day of the series, included (none: the source's last; open-meteo "
        "needs one).",
    )
    unit: Literal["celsius", "fahrenheit"] = Field(
        default="celsius", description="The unit of the temperatures and of every error."
    )


class WeatherForecaster(TimeSeriesPipeline[WeatherConfig]):
    name = "weather_forecaster"
    summary = (
        "Forecasts tomorrow's maximum temperature with an LSTM (or the GRU, Transformer or TCN "
        "that `model` names), against persistence, "
        "climatology and a linear autoregression."
    )
    Config = WeatherConfig
    percentage_errors = False

    def load_series(self, config: WeatherConfig) -> Series:
        start, end = config.start, config.end
        if config.source in _PERIODS:
            first, last = _PERIODS[config.source]
            start, end = start or first, end or last
        elif start is None or end is None:
            raise DataRequestError(
                "source='open-meteo' needs both start and end: set the days to fetch"
            )
        return load_weather(
            config.source, config.latitude, config.longitude, start, end, unit=config.unit
        )

    def season(self, config: WeatherConfig, series: Series) -> int | None:
        return HOURS_PER_DAY if series.frequency == "h" else None

    def baselines(
        self, config: WeatherConfig, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        found = super().baselines(config, prepared, test)
        timestamps = prepared.series.timestamps
        if timestamps[prepared.split.train_end - 1] - timestamps[0] < YEAR:
            return found  # a yearly curve fitted on less than a year would be extrapolated
        found["climatology"] = Competitor(
            f"the day of the year's usual value: {CLIMATOLOGY_HARMONICS} yearly harmonics "
            "fitted by least squares on the training part",
            climatology(
                prepared.target,
                prepared.series.timestamps,
                test,
                prepared.split.train_end,
                CLIMATOLOGY_HARMONICS,
            ),
        )
        return found

    def references(
        self, config: WeatherConfig, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        return {"linear autoregression": self.linear_autoregression(prepared, test)}
