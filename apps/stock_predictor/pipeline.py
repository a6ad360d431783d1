"""``StockPredictor``: an LSTM that forecasts tomorrow's volatility, or a ticker's next close.

The time-series family does the windows, the leak-free scaling, the competitors and the
report; this app says where the prices come from, which network reads them and what it is
held against. By default it forecasts the S&P 500's next-day volatility (Parkinson's high-low
measure, see ``volatility``) from the last month of it, on twenty years of daily bars (1999 to
2018, bundled with ``arch``), against persistence, the 22-day mean and GARCH(1,1), with HAR as
the reference model. ``target=close`` forecasts the adjusted close instead, against the random
walk (tomorrow's price is today's), the forecast markets make hard to beat. Markets close on
weekends and holidays, so the steps are the bars as they come, not calendar days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from apps.stock_predictor.sources import Bars, load_bars, load_prices
from apps.stock_predictor.volatility import MONTH, garch_forecasts, har, parkinson
from forge_learner.config import BatchSize, Epochs, LearningRate
from forge_learner.families.time_series import (
    Competitor,
    PreparedSeries,
    TimeSeriesConfig,
    TimeSeriesPipeline,
)
from forge_learner.sources import Series
from forge_learner.timeseries import Windows, persistence, rolling_mean

# Bars in a season, by the series' frequency: a year of months or weeks, a week of trading days.
SEASONS = {"MS": 12, "W-MON": 52, "D": 5}


class StockConfig(TimeSeriesConfig):
    """Forecast the S&P 500's next-day volatility from the last month's, 1999-2018 by default."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "target": "Data",
        "ticker": "Data",
        "interval": "Data",
    }

    epochs: Epochs = 10
    batch_size: BatchSize = 64
    learning_rate: LearningRate = 0.002
    lookback: int = Field(
        default=MONTH, ge=1, le=1000, description="Past bars the network sees for each forecast."
    )
    log_target: bool = Field(
        default=True,
        description=(
            "Model the log of the target, whose changes are relative (volatility and prices "
            "both); forecasts are turned back into its units."
        ),
    )
    hidden_size: int = Field(
        default=16,
        ge=1,
        le=1024,
        description=(
            "The network's width: units per recurrent layer, transformer features or TCN channels."
        ),
    )

    target: Literal["volatility", "close"] = Field(
        default="volatility",
        description=(
            "volatility: the next bar's Parkinson high-low volatility, in percent. close: the "
            "next adjusted closing price, against the random walk."
        ),
    )
    source: Literal["indices", "sample", "yfinance"] = Field(
        default="indices",
        description=(
            "indices: daily bars of the S&P 500 (^GSPC) and NASDAQ Composite (^IXIC), "
            "1999-2018, shipped with arch (no network); sample: monthly prices of AAPL, AMZN, "
            "GOOG, IBM and MSFT, 2000-2010, from vega_datasets (closes only); yfinance: any "
            "ticker from Yahoo Finance (cached)."
        ),
    )
    ticker: str = Field(
        default="^GSPC",
        min_length=1,
        max_length=24,
        pattern=r"^[A-Za-z0-9.^=-]+$",
        description="The symbol, as Yahoo Finance writes it (^GSPC, MSFT, BRK-B).",
    )
    start: dt.date | None = Field(
        default=None, description="First day of the prices (none: the first there is)."
    )
    end: dt.date | None = Field(
        default=None, description="Last day of the prices, included (none: the latest)."
    )
    interval: Literal["1h", "1d", "1wk", "1mo"] | None = Field(
        default=None,
        description=(
            "Bar length (none: the source's own, daily for indices and yfinance, monthly for "
            "sample)."
        ),
    )


class StockPredictor(TimeSeriesPipeline[StockConfig]):
    name = "stock_predictor"
    summary = (
        "Forecasts the next day's volatility of a stock index with an LSTM (or the GRU, "
        "Transformer or TCN that `model` names), against "
        "persistence, the 22-day mean, GARCH(1,1) and HAR (or the next close, against the "
        "random walk)."
    )
    Config = StockConfig
    calendar_steps = False
    persistence_name = "random walk"

    def load_series(self, config: StockConfig) -> Series:
        if config.target == "close":
            return load_prices(
                config.source, config.ticker, config.start, config.end, config.interval
            )
        return volatility_series(self._bars(config))

    def season(self, config: StockConfig, series: Series) -> int | None:
        return SEASONS.get(series.frequency) if config.target == "close" else None

    def baselines(
        self, config: StockConfig, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        if config.target == "close":
            return super().baselines(config, prepared, test)
        target, train_end = prepared.target, prepared.split.train_end
        returns = close_returns(self._bars(config))
        return {
            "persistence": Competitor("the last bar's volatility", persistence(target, test)),
            f"{MONTH}-day mean": Competitor(
                f"the mean volatility of the last {MONTH} bars", rolling_mean(target, test, MONTH)
            ),
            "GARCH(1,1)": Competitor(
                "the conditional standard deviation of a GARCH(1,1) of the close-to-close "
                "returns, fitted on the training part, scaled to the measure by least squares "
                "on the training part",
                garch_forecasts(returns, target, test, train_end, config.horizon),
            ),
        }

    def references(
        self, config: StockConfig, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        if config.target == "close":
            return {}
        return {
            "HAR": Competitor(
                f"least squares on the last bar's, the last 5 bars' and the last {MONTH} bars' "
                "mean volatility (Corsi 2009), fitted on the training part",
                har(prepared.target, test, prepared.split.train_end, config.horizon),
            )
        }

    def _bars(self, config: StockConfig) -> Bars:
        return load_bars(config.source, config.ticker, config.start, config.end, config.interval)


def volatility_series(bars: Bars) -> Series:
    """Each bar's Parkinson volatility from the second bar on, step for step with
    ``close_returns`` (the first bar has no return before it)."""
    values = parkinson(bars.high, bars.low)[1:]
    return Series(
        timestamps=bars.timestamps[1:],
        values=values,
        name="volatility",
        unit="%",
        frequency=bars.frequency,
        source=bars.source,
        description=(
            "Parkinson volatility (the bar's high-low range, |ln(high/low)| / (2 sqrt(ln 2)), "
            f"an estimate of the standard deviation of its log return) in percent, of "
            f"{bars.description}"
        ),
    )


def close_returns(bars: Bars) -> np.ndarray:
    """Close-to-close log returns in percent, from the second bar on."""
    return np.asarray(100.0 * np.diff(np.log(bars.close)), dtype=np.float64)
