"""Prices for the stock predictor: daily index bars bundled offline, Yahoo Finance, a sample.

``"indices"`` (the default) is the daily bars (open, high, low, close, volume) of the S&P 500
(``^GSPC``) and the NASDAQ Composite (``^IXIC``) from 1999 to 2018 that the ``arch`` package
ships, so the app trains on twenty years of real trading days with no network. ``"sample"`` is
the monthly stock series ``vega_datasets`` ships (AAPL, AMZN, GOOG, IBM and MSFT, 2000 to
2010), closing prices only. ``"yfinance"`` downloads any ticker's bars with ``yfinance`` behind
the data cache. The cache keeps a day's bars for a day and an hour's for an
hour, even for old dates: adjusted closes are rewritten after every dividend and split.

``load_bars`` gives the highs, lows and adjusted closes a volatility is measured from;
``load_prices`` the adjusted close alone, the price that makes returns comparable across splits
and dividends. The cache keeps every column Yahoo gives (open, high, low, close, adjusted close,
volume) as CSV, so other features need no new download.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import yfinance
from vega_datasets import local_data
from yfinance.exceptions import YFRateLimitError, YFTickerMissingError

from forge_learner.cache import DataCache
from forge_learner.sources import (
    DataRequestError,
    Series,
    SourceUnavailable,
    as_date,
    network_errors_as_unavailable,
)

StockSource = Literal["indices", "sample", "yfinance"]
Interval = Literal["1h", "1d", "1wk", "1mo"]

SAMPLE_TICKERS = ("AAPL", "AMZN", "GOOG", "IBM", "MSFT")
INDICES = {"^GSPC": "S&P 500", "^IXIC": "NASDAQ Composite"}
"""The bundled daily index bars, by Yahoo's symbol."""
YFINANCE_NAMESPACE = "stock_predictor.yfinance"

# Pandas offset aliases for the intervals: Yahoo's weeks start on Monday, months on the 1st.
_FREQUENCIES: dict[Interval, str] = {"1h": "h", "1d": "D", "1wk": "W-MON", "1mo": "MS"}
_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


def load_prices(
    source: StockSource = "sample",
    ticker: str = "MSFT",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    interval: Interval | None = None,
    *,
    cache: DataCache | None = None,
    offline: bool = False,
    timeout: float = 20.0,
) -> Series:
    """The adjusted closing prices of `ticker` from `start` to `end` (both included).

    No `start` means from the first price there is, no `end` up to the last. `interval` defaults
    to the source's own: monthly for the sample (the only one it has), daily for Yahoo Finance.
    Yahoo's bars are cached in `cache` (the default cache when None); `offline` serves only what
    is cached. `timeout` bounds each request to Yahoo, in seconds.
    """
    first = None if start is None else as_date(start, "start")
    last = None if end is None else as_date(end, "end")
    if first is not None and last is not None and last < first:
        raise DataRequestError(f"end ({last}) is before start ({first})")
    if interval is not None and interval not in _FREQUENCIES:
        raise DataRequestError(
            f"unknown interval {interval!r}; choose one of {', '.join(_FREQUENCIES)}"
        )
    if source == "sample":
        return _sample(ticker.upper(), first, last, interval)
    bars = load_bars(
        source, ticker, first, last, interval, cache=cache, offline=offline, timeout=timeout
    )
    return Series(
        timestamps=bars.timestamps,
        values=bars.close,
        name="adj_close",
        unit=bars.currency,
        frequency=bars.frequency,
        source=bars.source,
        description=f"Adjusted closing price of {bars.description}",
    )


@dataclass(frozen=True)
class Bars:
    """Daily (or other) price bars: what a volatility needs, the ranges and the closes.

    ``close`` is adjusted for splits and dividends; ``high`` and ``low`` are as traded (their
    ratio, all a range estimator reads, is the same either way). ``description`` completes
    "... of": the ticker, the bar length, the period and where the bars come from.
    """

    timestamps: npt.NDArray[np.datetime64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    currency: str
    frequency: str
    source: str
    description: str

    def __len__(self) -> int:
        return len(self.timestamps)


def load_bars(
    source: StockSource,
    ticker: str,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    interval: Interval | None = None,
    *,
    cache: DataCache | None = None,
    offline: bool = False,
    timeout: float = 20.0,
) -> Bars:
    """The bars of `ticker` from `start` to `end` (both included), from the bundled indices or
    Yahoo Finance (the monthly sample has closing prices only)."""
    first = None if start is None else as_date(start, "start")
    last = None if end is None else as_date(end, "end")
    if first is not None and last is not None and last < first:
        raise DataRequestError(f"end ({last}) is before start ({first})")
    if source == "indices":
        return _indices(ticker.upper(), first, last, interval)
    if source == "yfinance":
        return _yfinance(
            ticker.upper(), first, last, interval or "1d", cache or DataCache(), offline, timeout
        )
    if source == "sample":
        raise DataRequestError(
            "the monthly stock sample has closing prices only, no highs and lows: use "
            "source='indices' or 'yfinance' for volatility, or target='close'"
        )
    raise DataRequestError(
        f"unknown stock source {source!r}; choose 'indices', 'sample' or 'yfinance'"
    )


def _indices(
    ticker: str, first: dt.date | None, last: dt.date | None, interval: Interval | None
) -> Bars:
    if ticker not in INDICES:
        raise DataRequestError(
            f"the bundled indices are {', '.join(INDICES)} ({', '.join(INDICES.values())}), "
            f"not {ticker}; use source='yfinance' for other tickers"
        )
    if interval not in (None, "1d"):
        raise DataRequestError(
            f"the bundled indices are daily: use interval='1d' (or none) instead of "
            f"{interval!r}, or source='yfinance'"
        )
    from arch.data import nasdaq, sp500  # lazily: listing pipelines need not read the CSVs

    frame = (sp500 if ticker == "^GSPC" else nasdaq).load()
    days = frame.index.to_numpy().astype("datetime64[ns]")
    keep = np.ones(len(days), dtype=bool)
    if first is not None:
        keep &= days >= np.datetime64(first)
    if last is not None:
        keep &= days < np.datetime64(last + dt.timedelta(days=1))
    if keep.sum() < 2:
        raise DataRequestError(
            f"the bundled {ticker} bars cover 1999-01-04 to 2018-12-31; "
            f"{first or 'the start'} to {last or 'the end'} holds fewer than two of them"
        )
    rows = frame[keep]
    period = (
        f"{np.datetime_as_string(days[keep][0], unit='D')} to "
        f"{np.datetime_as_string(days[keep][-1], unit='D')}"
    )
    return Bars(
        timestamps=days[keep],
        high=rows["High"].to_numpy(dtype=np.float64),
        low=rows["Low"].to_numpy(dtype=np.float64),
        close=rows["Adj Close"].to_numpy(dtype=np.float64),
        currency="USD",
        frequency="D",
        source="indices",
        description=(
            f"the {INDICES[ticker]} ({ticker}) in USD index points, one row per trading day "
            f"from {period}: Yahoo Finance's daily bars as the arch package ships them "
            "(arch: NCSA licence; the prices are Yahoo's)."
        ),
    )


def yfinance_request(
    ticker: str, start: dt.date | None, end: dt.date | None, interval: Interval
) -> dict[str, Any]:
    """What identifies a download of Yahoo bars: the cache key's parameters."""
    return {"ticker": ticker, "start": start, "end": end, "interval": interval}


def prices_to_csv(frame: pd.DataFrame, currency: str) -> bytes:
    """Bars as ``yfinance`` returns them, written as the cache keeps them.

    The first line records the currency (``# currency: USD``); then one row per bar, its time in
    the exchange's local clock, as the bars' own timezone-aware index has it.
    """
    table = frame[list(_COLUMNS)].rename(columns=_COLUMNS)
    table.index = table.index.tz_localize(None)
    table.index.name = "time"
    return f"# currency: {currency}\n{table.to_csv()}".encode()


def _sample(
    ticker: str, first: dt.date | None, last: dt.date | None, interval: Interval | None
) -> Series:
    if ticker not in SAMPLE_TICKERS:
        raise DataRequestError(
            f"the stock sample has no {ticker}; it holds {', '.join(SAMPLE_TICKERS)}. "
            "Use source='yfinance' for other tickers"
        )
    if interval not in (None, "1mo"):
        raise DataRequestError(
            f"the stock sample is monthly: use interval='1mo' (or none) instead of {interval!r}, "
            "or source='yfinance'"
        )
    frame = local_data.stocks()
    rows = frame[frame["symbol"] == ticker]
    timestamps = rows["date"].to_numpy().astype("datetime64[ns]")
    prices = rows["price"].to_numpy(dtype=np.float64)
    keep = np.ones(len(timestamps), dtype=bool)
    if first is not None:
        keep &= timestamps >= np.datetime64(first)
    if last is not None:
        keep &= timestamps < np.datetime64(last + dt.timedelta(days=1))
    if not keep.any():
        raise DataRequestError(
            f"the stock sample has no {ticker} prices from {first or 'the start'} to "
            f"{last or 'the end'}; it has {np.datetime_as_string(timestamps[0], unit='D')} to "
            f"{np.datetime_as_string(timestamps[-1], unit='D')}"
        )
    return Series(
        timestamps=timestamps[keep],
        values=prices[keep],
        name="adj_close",
        unit="USD",
        frequency="MS",
        source="sample",
        description=(
            f"Monthly adjusted closing price of {ticker} in USD (the month's last close, "
            "adjusted for splits and dividends as of 2010, dated the month's first day), "
            "from vega_datasets' stocks sample."
        ),
    )


def _yfinance(
    ticker: str,
    first: dt.date | None,
    last: dt.date | None,
    interval: Interval,
    cache: DataCache,
    offline: bool,
    timeout: float,
) -> Bars:
    result = cache.fetch(
        YFINANCE_NAMESPACE,
        yfinance_request(ticker, first, last, interval),
        lambda: _download(ticker, first, last, interval, timeout),
        3600.0 if interval == "1h" else 86400.0,
        offline=offline,
        hint=(
            "use source='indices' (S&P 500 and NASDAQ, daily, 1999-2018) or source='sample', "
            "which need no network"
        ),
    )
    currency, table = _read_csv(result.data)
    span = f"from {first or 'the first bar'} to {last or 'the latest'}"
    return Bars(
        timestamps=table["time"].to_numpy().astype("datetime64[ns]"),
        high=table["high"].to_numpy(dtype=np.float64),
        low=table["low"].to_numpy(dtype=np.float64),
        close=table["adj_close"].to_numpy(dtype=np.float64),
        currency=currency,
        frequency=_FREQUENCIES[interval],
        source="yfinance",
        description=(
            f"{ticker} in {currency}, one per {interval} bar {span}, adjusted for splits and "
            "dividends, from Yahoo Finance through yfinance. Times are the exchange's local time."
        ),
    )


def _download(
    ticker: str, first: dt.date | None, last: dt.date | None, interval: Interval, timeout: float
) -> bytes:
    """Yahoo's bars for the request, as CSV; a network failure is `SourceUnavailable`."""
    # Yahoo's end is exclusive; ours includes the last day.
    end = None if last is None else last + dt.timedelta(days=1)
    # yfinance swallows errors and returns an empty table unless told otherwise, which would
    # make a lost network look like an unknown ticker. The setting is process-wide.
    yfinance.config.debug.hide_exceptions = False
    symbol = yfinance.Ticker(ticker)
    try:
        with network_errors_as_unavailable("Yahoo Finance"):
            frame = symbol.history(
                period="max" if first is None else None,
                start=first,
                end=end,
                interval=interval,
                auto_adjust=False,
                actions=False,
                timeout=timeout,
            )
            currency = symbol.history_metadata.get("currency") or "unknown currency"
    except YFRateLimitError as exc:
        raise SourceUnavailable(f"Yahoo Finance is rate-limiting requests: {exc}") from exc
    except YFTickerMissingError as exc:
        raise DataRequestError(
            f"Yahoo Finance has no {interval} prices for {ticker}: {exc}"
        ) from exc
    if frame.empty:
        raise DataRequestError(f"Yahoo Finance has no {interval} prices for {ticker} in that range")
    return prices_to_csv(frame, str(currency))


def _read_csv(data: bytes) -> tuple[str, pd.DataFrame]:
    header, _, body = data.partition(b"\n")
    currency = header.decode().removeprefix("# currency: ").strip()
    return currency, pd.read_csv(io.BytesIO(body), parse_dates=["time"])
