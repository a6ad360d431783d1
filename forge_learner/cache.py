"""A disk cache for downloaded data, so a pipeline trains again without the network.

An entry is keyed by a namespace (which source) and the parameters of the request only, never by
anything about the run: the system this replaces put run ids in its key, so it never hit. Each
entry is two files, the payload and a small JSON record of its parameters, fetch time and SHA-256;
both are written to a temporary file and moved into place with ``os.replace``, and the checksum is
verified on every read, so an interrupted write or a damaged file is noticed, thrown away and
fetched again rather than handed to a pipeline.

Each source has a time-to-live. Past it the entry is refetched; if the source is unreachable
(the fetcher raises ``SourceUnavailable``) the old copy is served with a ``StaleDataWarning`` that
says how old it is. With no copy at all, ``DataUnavailable`` says what to do.

Entries live under ``$FORGE_DATA_DIR/cache`` (``./var/cache`` by default). Fetches of one entry are
serialised by a lock file, so concurrent trainers on one machine download it once; where
``fcntl`` is missing (Windows) the checksums still keep a racing reader from trusting a half-made
entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import logging
import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np

from forge_core.files import atomic_write
from forge_learner.data_dir import data_dir
from forge_learner.sources import DataUnavailable, SourceUnavailable

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger(__name__)

CacheOrigin = Literal["fresh", "cache", "stale"]

_FORMAT = 1
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class StaleDataWarning(UserWarning):
    """A cached copy older than its time-to-live was used because the source is unreachable."""


@dataclass(frozen=True)
class CacheResult:
    """The payload and where it came from.

    `origin` is "fresh" (just fetched), "cache" (a copy within its time-to-live) or "stale"
    (an expired copy, used because the source could not be reached). `age` is in seconds.
    """

    data: bytes
    origin: CacheOrigin
    fetched_at: float
    age: float
    path: Path


def default_cache_dir() -> Path:
    """``$FORGE_DATA_DIR/cache``, ``FORGE_DATA_DIR`` defaulting to ``./var`` (docs/running.md)."""
    return data_dir() / "cache"


class DataCache:
    """Payloads fetched from the network, kept on disk by namespace and request parameters.

    `clock` gives the current time in seconds since the epoch; tests pass a fake one.
    """

    def __init__(self, root: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.root = default_cache_dir() if root is None else root
        self._clock = clock

    def fetch(
        self,
        namespace: str,
        params: Mapping[str, Any],
        fetch: Callable[[], bytes],
        ttl: float | None,
        *,
        offline: bool = False,
        hint: str = "",
    ) -> CacheResult:
        """The payload for `params`: cached while younger than `ttl` seconds, else `fetch()`.

        `ttl=None` keeps an entry forever. With `offline=True` `fetch` is never called and an
        expired entry is served as stale. `fetch` raises `SourceUnavailable` when the network
        fails; any other exception it raises propagates and leaves the cache as it was. `hint`
        finishes the sentence "Connect to the internet once to fill the cache, or ..." in the
        `DataUnavailable` raised when there is no copy to fall back on.
        """
        if not _NAMESPACE.fullmatch(namespace):
            raise ValueError(
                f"cache namespace {namespace!r} must be letters, digits, '_', '.' or '-'"
            )
        entry = _Entry(self.root / namespace, _dumps(_normalise(params, "params")), namespace)
        entry.directory.mkdir(parents=True, exist_ok=True)
        with entry.locked():
            cached = entry.read(self._clock())
            if cached is not None and (ttl is None or cached.age <= ttl):
                return cached
            if offline:
                reason = "offline=True forbids fetching it"
                if cached is None:
                    raise entry.unavailable(reason, "Run once online to fill the cache", hint)
                return _use_stale(entry, cached, reason)
            try:
                data = fetch()
            except SourceUnavailable as exc:
                if cached is None:
                    raise entry.unavailable(
                        f"the source is unreachable ({exc})",
                        "Connect to the internet once to fill the cache",
                        hint,
                    ) from exc
                return _use_stale(entry, cached, str(exc))
            fetched_at = self._clock()
            entry.write(data, fetched_at)
            return CacheResult(data, "fresh", fetched_at, 0.0, entry.payload)


def _use_stale(entry: _Entry, cached: CacheResult, reason: str) -> CacheResult:
    """`cached`, marked stale, with a warning: the caller gets older data than it asked for."""
    warnings.warn(
        f"Using the expired cached copy of {entry.namespace} {entry.params}, fetched "
        f"{_duration(cached.age)} ago, because {reason}.",
        StaleDataWarning,
        stacklevel=3,
    )
    return dataclasses.replace(cached, origin="stale")


class _Entry:
    """The files of one cache entry: `<key>.bin` (payload), `<key>.json` (its record), a lock."""

    def __init__(self, directory: Path, params: str, namespace: str) -> None:
        self.directory = directory
        self.params = params
        self.namespace = namespace
        # 128 bits of SHA-256 keep names short; the record's params are checked on every read.
        key = hashlib.sha256(params.encode()).hexdigest()[:32]
        self.payload = directory / f"{key}.bin"
        self.record = directory / f"{key}.json"
        self._lock = directory / f"{key}.lock"
        self._discarded = ""

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self._lock, "a+b") as handle:
            if sys.platform != "win32":
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def read(self, now: float) -> CacheResult | None:
        """The entry, as of `now`, if whole and matching its checksum; a damaged one is removed."""
        if not self.record.exists() and not self.payload.exists():
            return None
        try:
            record = json.loads(self.record.read_text(encoding="utf-8"))
            data = self.payload.read_bytes()
            fetched_at = record["fetched_at"]
            if not (
                record["format"] == _FORMAT
                and _dumps(record["params"]) == self.params
                and isinstance(fetched_at, int | float)
                and record["size"] == len(data)
                and record["sha256"] == hashlib.sha256(data).hexdigest()
            ):
                raise ValueError("its record does not match its payload")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._discard(f"{type(exc).__name__}: {exc}")
            return None
        age = max(0.0, now - fetched_at)
        return CacheResult(data, "cache", float(fetched_at), age, self.payload)

    def write(self, data: bytes, fetched_at: float) -> None:
        """Payload first, record last: a reader trusts the payload only once its record matches."""
        record = {
            "format": _FORMAT,
            "namespace": self.namespace,
            "params": json.loads(self.params),
            "fetched_at": fetched_at,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        _write_atomic(self.payload, data)
        _write_atomic(self.record, json.dumps(record, indent=2, ensure_ascii=False).encode())

    def unavailable(self, reason: str, advice: str, hint: str) -> DataUnavailable:
        discarded = f" (the cached copy was damaged and removed: {self._discarded})"
        return DataUnavailable(
            f"No usable cached copy of {self.namespace} {self.params} in {self.directory}"
            f"{discarded if self._discarded else ''}, and {reason}. "
            f"{advice}{', or ' + hint if hint else ''}."
        )

    def _discard(self, why: str) -> None:
        logger.warning("Discarding damaged cache entry %s (%s)", self.payload, why)
        self._discarded = why
        for path in (self.record, self.payload):
            path.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a part."""
    with atomic_write(path) as file:
        file.write(data)


def _dumps(params: object) -> str:
    """Canonical JSON: equal parameters give equal text, whatever order they came in."""
    return json.dumps(
        params, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _normalise(value: object, where: str) -> object:
    """`value` as plain JSON data, so that equal requests give equal keys.

    Dates and times become ISO strings, paths strings, enums their values, NumPy scalars Python
    ones, tuples lists, and an integral float an int (latitude 47 and 47.0 are one request).
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cache parameter {where} is {value}; it must be finite")
        return int(value) if value.is_integer() else value
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value))
    if isinstance(value, np.generic):
        return _normalise(value.item(), where)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _normalise(value.value, where)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"cache parameter {where} has a key {key!r} that is not a string")
        return {key: _normalise(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(
        f"cache parameter {where} is a {type(value).__name__}; use strings, numbers, booleans, "
        "dates, lists or mappings of them"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
