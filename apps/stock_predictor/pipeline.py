"""``StockPredictor``: an LSTM that forecasts a ticker's next adjusted close.

The time-series family does the windows, the leak-free scaling, the baselines and the report;
this app says where the prices come from and which network reads them. Its persistence baseline
is called what it is for prices, the random walk: tomorrow's price is today's. Markets close on
weekends and holidays, so the steps are the bars as they come, not calendar days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from apps.stock_predictor.sources import load_prices
from forge_core import nn
from forge_learner.config import BatchSize, Epochs, LearningRate
from forge_learner.families.time_series import (
    LSTMForecaster,
    TimeSeriesConfig,
    TimeSeriesPipeline,
)
from forge_learner.pipeline import PipelineData
from forge_learner.sources import Series

# Bars in a season, by the series' frequency: a year of months or weeks, a week of trading days.
SEASONS = {"MS": 12, "W-MON": 52, "D": 5}


class StockConfig(TimeSeriesConfig):
    """Forecast next month's price from the last year's, MSFT 2000-2010 by default."""

    field_groups: ClassVar[Mapping[str, str]] = {"ticker": "Data", "interval": "Data"}

    epochs: Epochs = 30
    batch_size: BatchSize = 16
    learning_rate: LearningRate = 0.01
    lookback: int = Field(
        default=12, ge=1, le=1000, description="Past bars the network sees for each forecast."
    )
    log_target: bool = Field(
        default=True,
        description=(
            "Model the log of the price, whose changes are relative; forecasts are turned back "
            "into the price's currency."
        ),
    )
    hidden_size: int = Field(default=16, ge=1, le=1024, description="Units in each LSTM layer.")

    source: Literal["sample", "yfinance"] = Field(
        default="sample",
        description=(
            "sample: monthly prices of AAPL, AMZN, GOOG, IBM and MSFT, 2000-2010, shipped with "
            "vega_datasets (no network); yfinance: any ticker from Yahoo Finance (cached)."
        ),
    )
    ticker: str = Field(
        default="MSFT",
        min_length=1,
        max_length=24,
        pattern=r"^[A-Za-z0-9.^=-]+$",
        description="The symbol, as Yahoo Finance writes it (MSFT, BRK-B, ^GSPC).",
    )
    start: dt.date | None = Field(
        default=None, description="First day of the prices (none: the first there is)."
    )
    end: dt.date | None = Field(
        default=None, description="Last day of the prices, included (none: the latest)."
    )
    interval: Literal["1h", "1d", "1wk", "1mo"] | None = Field(
        default=None,
        description="Bar length (none: the source's own, monthly for sample, daily for yfinance).",
    )


class StockPredictor(TimeSeriesPipeline[StockConfig]):
    name = "stock_predictor"
    summary = "Forecasts a ticker's next adjusted close with an LSTM, against the random walk."
    Config = StockConfig
    calendar_steps = False
    persistence_name = "random walk"

    def load_series(self, config: StockConfig) -> Series:
        return load_prices(config.source, config.ticker, config.start, config.end, config.interval)

    def season(self, config: StockConfig, series: Series) -> int | None:
        return SEASONS.get(series.frequency)

    def create_model(self, config: StockConfig, data: PipelineData) -> nn.Module:
        return LSTMForecaster(1, config.hidden_size, config.num_layers)
