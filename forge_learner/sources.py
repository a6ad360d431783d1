"""What a data source hands a pipeline, and how a source says it cannot be reached.

Every bundled source (a sample shipped with a package, a web API behind the cache, files the user
points at) returns one of two plain types, so a pipeline family consumes any source of its kind:
``Series`` for time series, ``LabelledImages`` for classification. Both hold NumPy arrays checked
once here, so a pipeline never has to re-validate dtypes or shapes.

Fetching is split the same way for every online source: the fetcher turns a network failure into
``SourceUnavailable`` (with ``network_errors_as_unavailable``), which the data cache answers with a
stale copy or ``DataUnavailable``. Errors the user causes (a bad ticker, a malformed file) stay
ordinary exceptions, because no cached copy can fix them.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class SourceUnavailable(Exception):
    """A source could not be reached (no network, a timeout, a server error).

    Raised by fetchers; the data cache answers it with a stale copy where it has one.
    """


class DataUnavailable(Exception):
    """Data was asked for that neither the source nor the cache can provide; says what to do."""


class DataRequestError(ValueError):
    """The data a user's settings ask for does not exist or cannot be read as asked.

    Sources raise it for a date range, ticker, place or file that the settings name wrongly, so
    that a command can print the message as a user's mistake instead of a crash.
    """


class MissingDataFile(DataRequestError, FileNotFoundError):
    """A data file the settings point at is not there; the message says what to fetch."""


@contextmanager
def network_errors_as_unavailable(source: str) -> Iterator[None]:
    """Turn the errors of an unreachable `source` into `SourceUnavailable`.

    ``urllib``'s ``URLError``, socket errors and timeouts, and the connection errors of
    ``requests`` and ``curl_cffi`` all derive from ``OSError``, so one clause covers them. An
    HTTP error is the server answering: a 5xx or 429 is its trouble and a retry later may work,
    so it is unavailable too; any other status is a refused request and stays an ``HTTPError``.
    """
    try:
        yield
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise SourceUnavailable(f"{source} answered HTTP {exc.code} {exc.reason}") from exc
        raise
    except OSError as exc:
        raise SourceUnavailable(f"{source} cannot be reached: {exc}") from exc


def as_date(value: dt.date | str, name: str) -> dt.date:
    """A source's date parameter, given as a date or an ISO string (as configs and CLIs write it).

    `name` is the parameter's, for the error message.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date like 2010-01-31, got {value!r}") from None


@dataclass(frozen=True)
class Series:
    """A time series: one row of `values` per timestamp.

    `timestamps` are ``datetime64[ns]``, strictly increasing, naive (the description says which
    clock). Rows need not be evenly spaced: a source may skip a reading (the Seattle sample lacks
    the hour its clocks jumped forward), and a missing reading inside the range is NaN.
    `frequency` is the nominal spacing as a pandas offset alias ("h", "D", "W-MON", "MS").
    `values` are float64, shape (T,) for one variable or (T, F) for F of them; `columns`, if
    given, names each of them, the first being `name`, the variable `unit` measures.
    """

    timestamps: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]
    name: str
    unit: str
    frequency: str
    source: str
    description: str
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.timestamps.dtype != np.dtype("datetime64[ns]") or self.timestamps.ndim != 1:
            raise ValueError(
                f"Series timestamps must be 1-D datetime64[ns], "
                f"got {self.timestamps.dtype} of shape {self.timestamps.shape}"
            )
        if self.values.dtype != np.float64 or self.values.ndim not in (1, 2):
            raise ValueError(
                f"Series values must be float64 of shape (T,) or (T, F), "
                f"got {self.values.dtype} of shape {self.values.shape}"
            )
        if len(self.values) != len(self.timestamps):
            raise ValueError(
                f"Series has {len(self.timestamps)} timestamps but {len(self.values)} values"
            )
        width = 1 if self.values.ndim == 1 else self.values.shape[1]
        if self.columns and (len(self.columns) != width or self.columns[0] != self.name):
            raise ValueError(
                f"Series columns must name its {width} variable(s), the first being its name "
                f"{self.name!r}; got {self.columns}"
            )
        if np.any(np.diff(self.timestamps) <= np.timedelta64(0)):
            raise ValueError("Series timestamps must be strictly increasing")

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True)
class LabelledImages:
    """Images with one class label each, ready for a classifier.

    `images` are float32 in [0, 1], shape (N, C, H, W) as convolutions expect; `labels` are
    int64 indices into `class_names`.
    """

    images: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    class_names: tuple[str, ...]
    source: str
    description: str

    def __post_init__(self) -> None:
        if self.images.dtype != np.float32 or self.images.ndim != 4:
            raise ValueError(
                f"images must be float32 of shape (N, C, H, W), "
                f"got {self.images.dtype} of shape {self.images.shape}"
            )
        if self.labels.dtype != np.int64 or self.labels.shape != (len(self.images),):
            raise ValueError(
                f"labels must be int64 of shape ({len(self.images)},), "
                f"got {self.labels.dtype} of shape {self.labels.shape}"
            )
        if len(self.labels) and (
            self.labels.min() < 0 or self.labels.max() >= len(self.class_names)
        ):
            raise ValueError(
                f"labels must lie in [0, {len(self.class_names)}), "
                f"got [{self.labels.min()}, {self.labels.max()}]"
            )
        if len(self.images) and (self.images.min() < 0 or self.images.max() > 1):
            raise ValueError(
                f"images must lie in [0, 1], got [{self.images.min()}, {self.images.max()}]"
            )

    def __len__(self) -> int:
        return len(self.labels)
