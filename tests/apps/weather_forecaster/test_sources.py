"""Weather sources: the bundled sample, and Open-Meteo through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.weather_forecaster.sources import load_weather
from forge_learner.cache import DataCache, StaleDataWarning
from forge_learner.sources import DataUnavailable, Series

DAY = 86400.0


class Archive(ThreadingHTTPServer):
    """An Open-Meteo archive stand-in: answers as the real API does, records what it was asked.

    The temperature at hour h of the request is h / 10 °C. `status` and `body` override the
    answer, to play a refused request, a server error or a broken proxy.
    """

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ArchiveHandler)
        self.queries: list[dict[str, str]] = []
        self.status = 200
        self.body: bytes | None = None
        self.missing_hours: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/archive"

    def answer(self, query: dict[str, str]) -> bytes:
        first = dt.datetime.fromisoformat(query["start_date"])
        hours = (dt.date.fromisoformat(query["end_date"]) - first.date()).days * 24 + 24
        times = [(first + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M") for h in range(hours)]
        temperatures = [None if h in self.missing_hours else h / 10 for h in range(hours)]
        return json.dumps(
            {
                "latitude": 47.595562,
                "longitude": -122.32442,
                "generationtime_ms": 0.7,
                "utc_offset_seconds": 0,
                "timezone": "GMT",
                "timezone_abbreviation": "GMT",
                "elevation": 56.0,
                "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
                "hourly": {"time": times, "temperature_2m": temperatures},
            }
        ).encode()


class ArchiveHandler(BaseHTTPRequestHandler):
    server: Archive

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.server.queries.append(query)
        body = self.server.body if self.server.body is not None else self.server.answer(query)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows the test's own output."""


@pytest.fixture
def archive() -> Iterator[Archive]:
    server = Archive()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


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


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a local port nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/archive"


def from_archive(url: str, cache: DataCache, **options: Any) -> Series:
    return load_weather(
        "open-meteo", 47.6, -122.3, "2021-06-01", "2021-06-02", cache=cache, base_url=url, **options
    )


# The daily observations


def test_daily_observations_are_four_variables_a_day_from_2012_to_2015() -> None:
    series = load_weather("seattle-weather", start="2012-01-01", end="2015-12-31")
    assert (series.unit, series.frequency, series.source) == ("°C", "D", "seattle-weather")
    assert series.columns == ("temp_max", "temp_min", "precipitation", "wind")
    assert series.values.shape == (1461, 4)
    assert (series.values[:, 0] >= series.values[:, 1]).all()  # each day's max is its max
    assert "public domain" in series.description


def test_daily_observations_in_fahrenheit_convert_the_temperatures_only() -> None:
    celsius = load_weather("seattle-weather", start="2013-07-01", end="2013-07-31")
    fahrenheit = load_weather(
        "seattle-weather", start="2013-07-01", end="2013-07-31", unit="fahrenheit"
    )
    np.testing.assert_allclose(fahrenheit.values[:, :2], celsius.values[:, :2] * 9 / 5 + 32)
    np.testing.assert_array_equal(fahrenheit.values[:, 2:], celsius.values[:, 2:])


def test_daily_observations_refuse_days_they_do_not_hold() -> None:
    with pytest.raises(ValueError, match=r"cover 2012-01-01 to 2015-12-31.*open-meteo"):
        load_weather("seattle-weather", start="2011-12-31", end="2012-01-31")
    with pytest.raises(ValueError, match="seattle-weather is Seattle's"):
        load_weather("seattle-weather", 51.5, -0.1, "2012-01-01", "2012-01-31")


# The sample


def test_sample_is_seattle_2010_hourly_in_celsius() -> None:
    series = load_weather()

    assert len(series) == 8759
    assert series.timestamps.dtype == np.dtype("datetime64[ns]")
    assert series.values.dtype == np.float64 and series.values.shape == (8759,)
    assert series.timestamps[0] == np.datetime64("2010-01-01T00:00")
    assert series.timestamps[-1] == np.datetime64("2010-12-31T23:00")
    assert (series.unit, series.frequency, series.source) == ("°C", "h", "sample")
    assert series.values[0] == pytest.approx((39.4 - 32) * 5 / 9)
    assert "Seattle" in series.description and "local" in series.description


def test_sample_in_fahrenheit_is_as_recorded() -> None:
    celsius = load_weather()
    fahrenheit = load_weather(unit="fahrenheit")

    assert fahrenheit.unit == "°F"
    assert fahrenheit.values[:3].tolist() == [39.4, 39.2, 39.0]
    np.testing.assert_allclose(celsius.values, (fahrenheit.values - 32) * 5 / 9)


def test_sample_keeps_whole_days_from_start_to_end() -> None:
    series = load_weather(start=dt.date(2010, 3, 13), end="2010-03-14")

    assert series.timestamps[0] == np.datetime64("2010-03-13T00:00")
    assert series.timestamps[-1] == np.datetime64("2010-03-14T23:00")
    assert len(series) == 47  # 2010-03-14 lost an hour to daylight saving time


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"latitude": 51.5, "longitude": -0.1}, "sample is Seattle's.*source='open-meteo'"),
        ({"start": "2009-12-31"}, "sample covers 2010-01-01 to 2010-12-31.*open-meteo"),
        ({"end": "2011-01-01"}, "sample covers"),
        ({"start": "2010-02-01", "end": "2010-01-31"}, "end .2010-01-31. is before start"),
        ({"start": "1st of May"}, "start must be a date like 2010-01-31, got '1st of May'"),
    ],
)
def test_sample_refuses_what_it_does_not_hold(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_weather("sample", **options)  # type: ignore[arg-type]


def test_unknown_source_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose 'seattle-weather', 'sample' or 'open-meteo'"):
        load_weather("noaa")  # type: ignore[arg-type]


# Open-Meteo, through a local server


def test_open_meteo_asks_for_hourly_temperature_and_reads_the_answer(
    archive: Archive, cache: DataCache
) -> None:
    series = load_weather(
        "open-meteo", 47.6, -122.3, "2021-06-01", "2021-06-02", cache=cache, base_url=archive.url
    )

    assert archive.queries == [
        {
            "latitude": "47.6",
            "longitude": "-122.3",
            "start_date": "2021-06-01",
            "end_date": "2021-06-02",
            "hourly": "temperature_2m",
            "timezone": "GMT",
        }
    ]
    assert len(series) == 48
    assert series.timestamps[0] == np.datetime64("2021-06-01T00:00")
    assert series.timestamps[-1] == np.datetime64("2021-06-02T23:00")
    np.testing.assert_allclose(series.values, np.arange(48) / 10)
    assert (series.unit, series.frequency, series.source) == ("°C", "h", "open-meteo")
    assert "47.595562, -122.32442" in series.description and "UTC" in series.description


def test_open_meteo_is_fetched_once_for_both_units(archive: Archive, cache: DataCache) -> None:
    celsius = from_archive(archive.url, cache)
    fahrenheit = from_archive(archive.url, cache, unit="fahrenheit")

    assert len(archive.queries) == 1
    np.testing.assert_allclose(fahrenheit.values, celsius.values * 9 / 5 + 32)
    assert fahrenheit.unit == "°F"


def test_open_meteo_missing_readings_are_nan(archive: Archive, cache: DataCache) -> None:
    archive.missing_hours = {46, 47}

    series = load_weather(
        "open-meteo", start="2021-06-01", end="2021-06-02", cache=cache, base_url=archive.url
    )

    assert np.isnan(series.values[46:]).all() and not np.isnan(series.values[:46]).any()
    assert "2 hours have no reading (NaN)" in series.description


def test_open_meteo_refusal_is_an_error_with_its_reason_and_is_not_cached(
    archive: Archive, cache: DataCache
) -> None:
    archive.status = 400
    archive.body = b'{"error":true,"reason":"Latitude must be in range of -90 to 90\xc2\xb0."}'

    with pytest.raises(ValueError, match="refused the request: HTTP 400: Latitude must be in"):
        from_archive(archive.url, cache)

    archive.status, archive.body = 200, None
    assert len(from_archive(archive.url, cache)) == 48
    assert len(archive.queries) == 2


def test_open_meteo_answer_that_is_not_its_json_is_not_cached(
    archive: Archive, cache: DataCache
) -> None:
    archive.body = b"<html>Please log in to the hotel Wi-Fi</html>"

    with pytest.raises(ValueError, match="Open-Meteo answered with data this app cannot read"):
        from_archive(archive.url, cache)

    archive.body = None
    assert len(from_archive(archive.url, cache)) == 48


def test_open_meteo_unreachable_without_a_cached_copy_says_what_to_do(
    closed_port_url: str, cache: DataCache
) -> None:
    with pytest.raises(DataUnavailable) as error:
        from_archive(closed_port_url, cache)

    message = str(error.value)
    assert "Open-Meteo cannot be reached" in message
    assert message.endswith(
        "Connect to the internet once to fill the cache, or use source='sample' (Seattle, 2010), "
        "which needs no network."
    )


def test_open_meteo_server_error_without_a_cached_copy_is_unavailable(
    archive: Archive, cache: DataCache
) -> None:
    archive.status, archive.body = 503, b"busy"

    with pytest.raises(DataUnavailable, match="Open-Meteo answered HTTP 503"):
        from_archive(archive.url, cache)


def test_open_meteo_that_does_not_answer_times_out(cache: DataCache) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/archive"

        with pytest.raises(DataUnavailable, match="timed out"):
            from_archive(url, cache, timeout=0.3)


def test_open_meteo_expired_copy_is_used_with_a_warning_when_unreachable(
    archive: Archive, closed_port_url: str, cache: DataCache, clock: Clock
) -> None:
    fresh = from_archive(archive.url, cache)
    clock.now += 45 * DAY

    with pytest.warns(StaleDataWarning, match=r"fetched 45\.0 days ago.*cannot be reached"):
        stale = from_archive(closed_port_url, cache)

    np.testing.assert_array_equal(stale.values, fresh.values)


def test_open_meteo_expired_copy_is_refreshed_when_reachable(
    archive: Archive, cache: DataCache, clock: Clock
) -> None:
    from_archive(archive.url, cache)
    clock.now += 29 * DAY
    from_archive(archive.url, cache)
    clock.now += 2 * DAY
    from_archive(archive.url, cache)

    assert len(archive.queries) == 2


def test_open_meteo_offline_reads_only_the_cache(
    archive: Archive, cache: DataCache, clock: Clock
) -> None:
    with pytest.raises(DataUnavailable, match="offline=True forbids fetching it"):
        from_archive(archive.url, cache, offline=True)
    from_archive(archive.url, cache)

    assert len(from_archive(archive.url, cache, offline=True)) == 48
    assert len(archive.queries) == 1
