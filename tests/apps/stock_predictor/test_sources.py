"""Stock sources: the bundled sample, and Yahoo Finance behind the cache with no way out.

Yahoo cannot be reached from a test, and must not be: every test here sends yfinance's requests
to a proxy on a closed local port, so the download fails at once, exactly as with no network.
Cached bars are written through the cache's own API, the way a successful download writes them.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.stock_predictor.sources import (
    YFINANCE_NAMESPACE,
    Interval,
    load_bars,
    load_prices,
    prices_to_csv,
    yfinance_request,
)
from forge_learner.cache import DataCache, StaleDataWarning
from forge_learner.sources import DataRequestError, DataUnavailable, Series

DAY = 86400.0
JAN_2020 = (dt.date(2020, 1, 2), dt.date(2020, 1, 6))


@pytest.fixture(autouse=True)
def no_way_to_yahoo(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(tmp_path: Path, clock: Clock) -> DataCache:
    return DataCache(tmp_path / "cache", clock=clock)


def yahoo_bars(adj_close: list[float], start: str = "2020-01-02") -> pd.DataFrame:
    """Daily bars shaped as `yfinance.Ticker.history(auto_adjust=False)` returns them."""
    index = pd.bdate_range(start, periods=len(adj_close), tz="America/New_York", name="Date")
    close = np.array(adj_close) + 0.5
    return pd.DataFrame(
        {
            "Open": close - 1,
            "High": close + 1,
            "Low": close - 2,
            "Close": close,
            "Adj Close": adj_close,
            "Volume": np.arange(len(adj_close)) * 1000,
            "Dividends": 0.0,
        },
        index=index,
    )


def store(
    cache: DataCache, bars: pd.DataFrame, currency: str = "USD", interval: Interval = "1d"
) -> None:
    """Cache `bars` as a download of MSFT's early January 2020 bars would have."""
    params = yfinance_request("MSFT", *JAN_2020, interval)
    cache.fetch(YFINANCE_NAMESPACE, params, lambda: prices_to_csv(bars, currency), ttl=None)


def from_yahoo(cache: DataCache, **options: Any) -> Series:
    return load_prices("yfinance", "MSFT", *JAN_2020, cache=cache, **options)


# The sample


def test_sample_is_monthly_adjusted_closes_in_usd() -> None:
    series = load_prices()

    assert len(series) == 123
    assert series.timestamps.dtype == np.dtype("datetime64[ns]")
    assert series.values.dtype == np.float64 and series.values.shape == (123,)
    assert series.timestamps[0] == np.datetime64("2000-01-01")
    assert series.timestamps[-1] == np.datetime64("2010-03-01")
    assert series.values[:3].tolist() == [39.81, 36.35, 43.22]
    assert (series.name, series.unit, series.frequency, series.source) == (
        "adj_close",
        "USD",
        "MS",
        "sample",
    )
    assert "MSFT" in series.description and "adjusted" in series.description


def test_sample_ticker_is_case_insensitive_and_filters_by_date() -> None:
    series = load_prices("sample", "goog", start="2005-01-01", end=dt.date(2005, 12, 1))

    assert len(series) == 12
    assert series.timestamps[0] == np.datetime64("2005-01-01")
    assert series.timestamps[-1] == np.datetime64("2005-12-01")
    assert "GOOG" in series.description


def test_sample_without_the_ticker_lists_the_ones_it_has() -> None:
    with pytest.raises(
        ValueError, match=r"no TSLA; it holds AAPL, AMZN, GOOG, IBM, MSFT.*yfinance"
    ):
        load_prices("sample", "TSLA")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": "1d"}, "sample is monthly: use interval='1mo'"),
        ({"start": "2011-01-01"}, "no MSFT prices from 2011-01-01 to the end; it has 2000-01-01"),
        ({"start": "2005-02-01", "end": "2005-01-01"}, r"end \(2005-01-01\) is before start"),
        ({"interval": "5m"}, "unknown interval '5m'; choose one of 1h, 1d, 1wk, 1mo"),
        ({"end": "soon"}, "end must be a date"),
    ],
)
def test_sample_refuses_what_it_does_not_hold(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_prices("sample", "MSFT", **options)  # type: ignore[arg-type]


def test_sample_monthly_interval_may_be_named() -> None:
    assert len(load_prices("sample", "IBM", interval="1mo")) == 123


def test_unknown_source_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose 'indices', 'sample' or 'yfinance'"):
        load_prices("quandl")  # type: ignore[arg-type]


# The bundled daily indices


def test_indices_are_twenty_years_of_daily_bars() -> None:
    bars = load_bars("indices", "^GSPC")
    assert (bars.source, bars.frequency, bars.currency) == ("indices", "D", "USD")
    assert len(bars) == 5031
    assert str(bars.timestamps[0])[:10] == "1999-01-04"
    assert str(bars.timestamps[-1])[:10] == "2018-12-31"
    assert (bars.high >= bars.low).all() and (bars.low > 0).all()
    assert "S&P 500 (^GSPC)" in bars.description and "arch package" in bars.description
    nasdaq = load_bars("indices", "^ixic", start="2010-01-01", end="2010-12-31")
    assert len(nasdaq) == 252 and "NASDAQ Composite" in nasdaq.description


def test_indices_give_adjusted_closes_as_prices() -> None:
    prices = load_prices("indices", "^GSPC", end="1999-01-05")
    np.testing.assert_allclose(prices.values, [1228.099976, 1244.780029])
    assert prices.description.startswith("Adjusted closing price of the S&P 500")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ticker": "MSFT"}, r"bundled indices are \^GSPC, \^IXIC.*source='yfinance'"),
        ({"ticker": "^GSPC", "interval": "1wk"}, "daily: use interval='1d'"),
        ({"ticker": "^GSPC", "start": "2019-01-01"}, "cover 1999-01-04 to 2018-12-31"),
        ({"ticker": "^GSPC", "source": "sample"}, "closing prices only"),
    ],
)
def test_bars_refuse_what_they_do_not_hold(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DataRequestError, match=message):
        load_bars(**{"source": "indices", **options})


# Yahoo Finance, unreachable


def test_yahoo_unreachable_without_a_cached_copy_fails_fast_and_says_what_to_do(
    cache: DataCache,
) -> None:
    started = time.monotonic()
    with pytest.raises(DataUnavailable) as error:
        from_yahoo(cache)

    assert time.monotonic() - started < 15
    message = str(error.value)
    assert "Yahoo Finance cannot be reached" in message
    assert '"ticker":"MSFT"' in message
    assert message.endswith(
        "Connect to the internet once to fill the cache, or use source='indices' (S&P 500 and "
        "NASDAQ, daily, 1999-2018) or source='sample', which need no network."
    )


def test_yahoo_cached_bars_within_a_day_are_used_without_the_network(
    cache: DataCache, clock: Clock
) -> None:
    store(cache, yahoo_bars([150.0, 151.5, 149.25]), currency="USD")
    clock.now += DAY - 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        series = load_prices("yfinance", "msft", *JAN_2020, cache=cache)

    assert series.values.tolist() == [150.0, 151.5, 149.25]
    assert series.timestamps.tolist() == [
        np.datetime64("2020-01-02", "ns").item(),
        np.datetime64("2020-01-03", "ns").item(),
        np.datetime64("2020-01-06", "ns").item(),
    ]
    assert (series.name, series.unit, series.frequency, series.source) == (
        "adj_close",
        "USD",
        "D",
        "yfinance",
    )
    assert "from 2020-01-02 to 2020-01-06" in series.description


def test_yahoo_bars_older_than_a_day_are_used_with_a_warning_when_unreachable(
    cache: DataCache, clock: Clock
) -> None:
    store(cache, yahoo_bars([150.0, 151.5, 149.25]), currency="EUR")
    clock.now += 3 * DAY

    with pytest.warns(StaleDataWarning, match=r"fetched 3\.0 days ago.*Yahoo Finance cannot"):
        series = load_prices("yfinance", "MSFT", *JAN_2020, cache=cache)

    assert series.values.tolist() == [150.0, 151.5, 149.25]
    assert series.unit == "EUR"


def test_yahoo_offline_serves_old_bars_with_a_warning(cache: DataCache, clock: Clock) -> None:
    store(cache, yahoo_bars([10.0, 11.0]))
    clock.now += 10 * DAY

    with pytest.warns(StaleDataWarning, match="offline=True"):
        series = load_prices("yfinance", "MSFT", *JAN_2020, cache=cache, offline=True)

    assert len(series) == 2


def test_yahoo_offline_without_a_cached_copy_says_what_to_do(cache: DataCache) -> None:
    with pytest.raises(DataUnavailable, match=r"offline=True forbids.*use source='indices'"):
        from_yahoo(cache, offline=True)


def test_yahoo_cache_entry_belongs_to_its_request_only(cache: DataCache) -> None:
    store(cache, yahoo_bars([10.0, 11.0]), interval="1wk")

    assert len(load_prices("yfinance", "MSFT", *JAN_2020, "1wk", cache=cache)) == 2
    with pytest.raises(DataUnavailable):
        from_yahoo(cache)
    with pytest.raises(DataUnavailable):
        load_prices("yfinance", "MSFT", JAN_2020[0], None, "1wk", cache=cache)


def test_weekly_bars_are_labelled_by_their_monday(cache: DataCache) -> None:
    store(cache, yahoo_bars([10.0, 11.0]), interval="1wk")

    assert load_prices("yfinance", "MSFT", *JAN_2020, "1wk", cache=cache).frequency == "W-MON"


def test_cached_bars_keep_every_column_in_exchange_time() -> None:
    bars = yahoo_bars([1.5, 2.5], start="2020-03-09")
    bars.index = bars.index + pd.Timedelta(hours=9, minutes=30)

    text = prices_to_csv(bars, "USD").decode()

    assert text.splitlines()[:3] == [
        "# currency: USD",
        "time,open,high,low,close,adj_close,volume",
        "2020-03-09 09:30:00,1.0,3.0,0.0,2.0,1.5,0",
    ]
