"""What sources hand pipelines is checked once, and network failures all read as unavailable."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from forge_learner.sources import (
    LabelledImages,
    Series,
    SourceUnavailable,
    as_date,
    network_errors_as_unavailable,
)


def hourly(count: int) -> np.ndarray:
    return np.arange(count).astype("datetime64[h]").astype("datetime64[ns]")


def series(timestamps: np.ndarray, values: np.ndarray) -> Series:
    return Series(timestamps, values, "t", "°C", "h", "test", "a test series")


@pytest.mark.parametrize("values", [np.zeros(4), np.zeros((4, 3))], ids=["one", "several"])
def test_series_holds_one_or_several_variables(values: np.ndarray) -> None:
    assert len(series(hourly(4), values)) == 4


@pytest.mark.parametrize(
    ("timestamps", "values", "message"),
    [
        (hourly(3).astype("datetime64[s]"), np.zeros(3), "timestamps must be 1-D datetime64.ns."),
        (hourly(3).astype(np.int64), np.zeros(3), "timestamps must be 1-D datetime64"),
        (hourly(3), np.zeros(3, np.float32), "values must be float64"),
        (hourly(3), np.zeros((3, 1, 1)), r"of shape \(T,\) or \(T, F\), got float64 of shape"),
        (hourly(3), np.zeros(4), "3 timestamps but 4 values"),
        (hourly(3)[::-1].copy(), np.zeros(3), "strictly increasing"),
        (np.repeat(hourly(2), 2), np.zeros(4), "strictly increasing"),
    ],
    ids=["seconds", "integers", "float32", "3d", "lengths", "decreasing", "repeated"],
)
def test_series_refuses_malformed_data(
    timestamps: np.ndarray, values: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        series(timestamps, values)


def images(count: int) -> np.ndarray:
    return np.full((count, 1, 2, 2), 0.5, np.float32)


def labelled(images: np.ndarray, labels: np.ndarray) -> LabelledImages:
    return LabelledImages(images, labels, ("cat", "dog"), "test", "test images")


def test_labelled_images_hold_one_label_per_image() -> None:
    assert len(labelled(images(3), np.array([0, 1, 1]))) == 3
    assert len(labelled(images(0), np.zeros(0, np.int64))) == 0


@pytest.mark.parametrize(
    ("pixels", "labels", "message"),
    [
        (images(2)[:, 0], np.array([0, 1]), r"float32 of shape \(N, C, H, W\)"),
        (images(2).astype(np.float64), np.array([0, 1]), "images must be float32"),
        (images(2) * 255, np.array([0, 1]), r"images must lie in \[0, 1\], got \[127.5, 127.5\]"),
        (images(2), np.array([0, 1], np.int32), "labels must be int64 of shape"),
        (images(2), np.array([0, 1, 1]), r"of shape \(2,\)"),
        (images(2), np.array([0, 2]), r"labels must lie in \[0, 2\), got \[0, 2\]"),
        (images(2), np.array([-1, 0]), r"labels must lie in \[0, 2\)"),
    ],
    ids=["3d", "float64", "bytes", "int32", "count", "too-big", "negative"],
)
def test_labelled_images_refuse_malformed_data(
    pixels: np.ndarray, labels: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        labelled(pixels, labels)


@pytest.mark.parametrize(
    "value", [dt.date(2010, 3, 14), dt.datetime(2010, 3, 14, 6, 30), "2010-03-14"]
)
def test_as_date_takes_dates_and_iso_strings(value: dt.date | str) -> None:
    assert as_date(value, "start") == dt.date(2010, 3, 14)


@pytest.mark.parametrize("value", ["14/03/2010", "", 20100314])
def test_as_date_names_the_parameter(value: object) -> None:
    with pytest.raises(ValueError, match="end must be a date like 2010-01-31, got"):
        as_date(value, "end")  # type: ignore[arg-type]


class Status(ThreadingHTTPServer):
    """A server that answers every request with one status code."""

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), StatusHandler)
        self.status = status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class StatusHandler(BaseHTTPRequestHandler):
    server: Status

    def do_GET(self) -> None:
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows the test's own output."""


@pytest.fixture
def serve() -> Iterator[Callable[[int], Status]]:
    servers: list[Status] = []

    def start(status: int) -> Status:
        server = Status(status)
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(url: str, timeout: float = 5.0) -> None:
    with network_errors_as_unavailable("Example"), urllib.request.urlopen(url, timeout=timeout):
        pass


def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"

    with pytest.raises(SourceUnavailable, match="Example cannot be reached"):
        get(url)


def test_timeout_is_unavailable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()

        with pytest.raises(SourceUnavailable, match="timed out"):
            get(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.2)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_trouble_is_unavailable(serve: Callable[[int], Status], status: int) -> None:
    with pytest.raises(SourceUnavailable, match=f"Example answered HTTP {status}"):
        get(serve(status).url)


@pytest.mark.parametrize("status", [400, 404])
def test_refused_request_stays_an_http_error(serve: Callable[[int], Status], status: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        get(serve(status).url)

    assert error.value.code == status


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), network_errors_as_unavailable("Example"):
        raise KeyError("not a network error")
