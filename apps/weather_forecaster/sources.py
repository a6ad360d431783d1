"""Weather for the weather forecaster: daily observations offline by default, hourly online.

Three sources give a ``Series``:

- ``"seattle-weather"`` (the default): NOAA's daily observations at Seattle from 2012 to 2015
  as ``vega_datasets`` ships them (its ``seattle-weather`` table): the day's maximum and
  minimum temperature, precipitation and mean wind. Real readings, day by day, offline.
- ``"sample"``: Seattle's hourly temperatures for 2010 from ``vega_datasets``' ``seattle-temps``.
  Not observations: a smoothed hourly climatology (the same hour on consecutive days differs
  by 0.2 °F), fit for demos of hourly plots only; a network's score on it says little.
- ``"open-meteo"``: the Open-Meteo historical archive's hourly temperature for any place and
  dates, fetched behind the data cache. Archive data rarely changes (only its last months are
  revised), so it is cached for 30 days.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Literal

import numpy as np
from vega_datasets import local_data

from forge_learner.cache import DataCache
from forge_learner.sources import DataRequestError, Series, as_date, network_errors_as_unavailable

WeatherSource = Literal["seattle-weather", "sample", "open-meteo"]
TemperatureUnit = Literal["celsius", "fahrenheit"]

OPEN_METEO_ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
OPEN_METEO_TTL = 30 * 86400.0

SEATTLE_LATITUDE = 47.6062
SEATTLE_LONGITUDE = -122.3321
SAMPLE_START = dt.date(2010, 1, 1)
SAMPLE_END = dt.date(2010, 12, 31)
DAILY_START = dt.date(2012, 1, 1)
DAILY_END = dt.date(2015, 12, 31)
DAILY_COLUMNS = ("temp_max", "temp_min", "precipitation", "wind")
"""The observations' columns, the target first: °C, °C, mm, m/s as vega_datasets has them."""
# How far from Seattle a location may be and still be served by the Seattle sample.
_SAMPLE_TOLERANCE_DEGREES = 0.5

_SYMBOLS: dict[TemperatureUnit, str] = {"celsius": "°C", "fahrenheit": "°F"}


def load_weather(
    source: WeatherSource = "sample",
    latitude: float = SEATTLE_LATITUDE,
    longitude: float = SEATTLE_LONGITUDE,
    start: dt.date | str = SAMPLE_START,
    end: dt.date | str = SAMPLE_END,
    *,
    unit: TemperatureUnit = "celsius",
    cache: DataCache | None = None,
    offline: bool = False,
    base_url: str = OPEN_METEO_ARCHIVE_URL,
    timeout: float = 30.0,
) -> Series:
    """Air temperatures from `start` to `end` (whole days, both included) in `unit`.

    ``"seattle-weather"`` gives daily observations of the four ``DAILY_COLUMNS`` (the maximum
    temperature first), 2012 to 2015; the others give hourly temperatures. The sample covers
    Seattle in 2010 only, so other places or dates are an error that names
    ``source="open-meteo"``. Open-Meteo data is cached in `cache` (the default cache when None)
    by place and dates only, so the same request through another `base_url` (a mirror, or a
    test server) hits the same entry. `offline` serves only what is cached.
    """
    first, last = as_date(start, "start"), as_date(end, "end")
    if last < first:
        raise DataRequestError(f"end ({last}) is before start ({first})")
    if source == "seattle-weather":
        _check_seattle(latitude, longitude, "seattle-weather")
        return _daily(first, last, unit)
    if source == "sample":
        return _sample(latitude, longitude, first, last, unit)
    if source == "open-meteo":
        return _open_meteo(
            latitude, longitude, first, last, unit, cache or DataCache(), offline, base_url, timeout
        )
    raise DataRequestError(
        f"unknown weather source {source!r}; choose 'seattle-weather', 'sample' or 'open-meteo'"
    )


def _check_seattle(latitude: float, longitude: float, source: str) -> None:
    if (
        abs(latitude - SEATTLE_LATITUDE) > _SAMPLE_TOLERANCE_DEGREES
        or abs(longitude - SEATTLE_LONGITUDE) > _SAMPLE_TOLERANCE_DEGREES
    ):
        raise DataRequestError(
            f"the weather {source} is Seattle's ({SEATTLE_LATITUDE}, {SEATTLE_LONGITUDE}); "
            f"for ({latitude}, {longitude}) use source='open-meteo'"
        )


def _daily(first: dt.date, last: dt.date, unit: TemperatureUnit) -> Series:
    if first < DAILY_START or last > DAILY_END:
        raise DataRequestError(
            f"the seattle-weather observations cover {DAILY_START} to {DAILY_END}; "
            f"for {first} to {last} use source='open-meteo'"
        )
    frame = local_data.seattle_weather()
    days = frame["date"].to_numpy().astype("datetime64[ns]")
    keep = (days >= np.datetime64(first)) & (days <= np.datetime64(last))
    values = frame.loc[keep, list(DAILY_COLUMNS)].to_numpy(dtype=np.float64)
    if unit == "fahrenheit":
        values[:, :2] = values[:, :2] * 9.0 / 5.0 + 32.0
    return Series(
        timestamps=days[keep],
        values=values,
        name="temp_max",
        unit=_SYMBOLS[unit],
        frequency="D",
        source="seattle-weather",
        columns=DAILY_COLUMNS,
        description=(
            f"Daily weather observations at Seattle from {first} to {last}, one row per day: "
            f"the day's maximum and minimum air temperature (in {_SYMBOLS[unit]}), "
            "precipitation (mm) and mean wind speed (m/s). NOAA's National Centers for "
            "Environmental Information record them (US government data, public domain); "
            "vega_datasets ships them as its seattle-weather table (BSD-3-Clause)."
        ),
    )


def _sample(
    latitude: float, longitude: float, first: dt.date, last: dt.date, unit: TemperatureUnit
) -> Series:
    _check_seattle(latitude, longitude, "sample")
    if first < SAMPLE_START or last > SAMPLE_END:
        raise DataRequestError(
            f"the weather sample covers {SAMPLE_START} to {SAMPLE_END}; "
            f"for {first} to {last} use source='open-meteo'"
        )
    frame = local_data.seattle_temps()
    timestamps = frame["date"].to_numpy().astype("datetime64[ns]")
    fahrenheit = frame["temp"].to_numpy(dtype=np.float64)
    keep = (timestamps >= np.datetime64(first)) & (
        timestamps < np.datetime64(last + dt.timedelta(days=1))
    )
    values = fahrenheit if unit == "fahrenheit" else (fahrenheit - 32.0) * 5.0 / 9.0
    return Series(
        timestamps=timestamps[keep],
        values=values[keep],
        name="temperature",
        unit=_SYMBOLS[unit],
        frequency="h",
        source="sample",
        description=(
            f"Hourly air temperature in Seattle from {first} to {last}, in {_SYMBOLS[unit]} "
            "(recorded in °F), from NOAA data as vega_datasets' seattle-temps sample ships it "
            "(BSD-3-Clause). Climatology-smoothed, not observations: for demos. Times are "
            "local (US Pacific); the hour skipped when clocks went forward on 2010-03-14 has "
            "no row."
        ),
    )


def _open_meteo(
    latitude: float,
    longitude: float,
    first: dt.date,
    last: dt.date,
    unit: TemperatureUnit,
    cache: DataCache,
    offline: bool,
    base_url: str,
    timeout: float,
) -> Series:
    # Always fetched in °C and converted here, so both units share one cache entry.
    query = {
        "latitude": latitude,
        "longitude": longitude,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "hourly": "temperature_2m",
        "timezone": "GMT",
    }
    url = f"{base_url}?{urllib.parse.urlencode(query)}"
    result = cache.fetch(
        "weather_forecaster.open-meteo",
        query,
        lambda: _fetch(url, timeout),
        OPEN_METEO_TTL,
        offline=offline,
        hint="use source='sample' (Seattle, 2010), which needs no network",
    )
    answer = _parse(result.data)
    celsius = np.array(
        [np.nan if t is None else t for t in answer["hourly"]["temperature_2m"]], dtype=np.float64
    )
    values = celsius if unit == "celsius" else celsius * 9.0 / 5.0 + 32.0
    missing = int(np.isnan(values).sum())
    return Series(
        timestamps=np.array(answer["hourly"]["time"], dtype="datetime64[ns]"),
        values=values,
        name="temperature_2m",
        unit=_SYMBOLS[unit],
        frequency="h",
        source="open-meteo",
        description=(
            f"Hourly air temperature 2 m above ground at {answer['latitude']}, "
            f"{answer['longitude']} (the archive's grid cell nearest {latitude}, {longitude}) "
            f"from {first} to {last}, in {_SYMBOLS[unit]}, from the Open-Meteo historical "
            "weather archive (ERA5 reanalysis). Times are UTC."
            + (f" {missing} hours have no reading (NaN)." if missing else "")
        ),
    )


def _fetch(url: str, timeout: float) -> bytes:
    """The archive's answer to `url`, checked to be its JSON before the cache keeps it."""
    try:
        with (
            network_errors_as_unavailable("Open-Meteo"),
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            body: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise DataRequestError(f"Open-Meteo refused the request: {_reason(exc)}") from exc
    _parse(body)
    return body


def _parse(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
        hourly = answer["hourly"]
        if answer["hourly_units"]["temperature_2m"] != "°C" or len(hourly["time"]) != len(
            hourly["temperature_2m"]
        ):
            raise DataRequestError("units or lengths differ from what was asked")
    except (ValueError, KeyError, TypeError) as exc:
        raise DataRequestError(
            f"Open-Meteo answered with data this app cannot read: {exc}"
        ) from exc
    return answer


def _reason(error: urllib.error.HTTPError) -> str:
    """Open-Meteo's own explanation of a refused request (`{"error": true, "reason": …}`)."""
    try:
        reason = json.loads(error.read())["reason"]
    except (ValueError, KeyError, TypeError, OSError):
        reason = error.reason
    return f"HTTP {error.code}: {reason}"
