"""The data cache: hits, expiry, damaged files, offline use, atomic writes and concurrency."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from forge_learner.cache import CacheResult, DataCache, StaleDataWarning, default_cache_dir
from forge_learner.sources import DataUnavailable, SourceUnavailable

DAY = 86400.0
PARAMS = {"ticker": "MSFT", "start": dt.date(2020, 1, 1), "interval": "1d"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A fetcher that counts its calls and can be switched off like a lost network."""

    def __init__(self, payload: bytes = b"prices,v1") -> None:
        self.payload = payload
        self.calls = 0
        self.reachable = True

    def __call__(self) -> bytes:
        self.calls += 1
        if not self.reachable:
            raise SourceUnavailable("example.com cannot be reached: connection refused")
        return self.payload


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(tmp_path: Path, clock: Clock) -> DataCache:
    return DataCache(tmp_path / "cache", clock=clock)


def entry_files(result: CacheResult) -> tuple[Path, Path]:
    return result.path, result.path.with_suffix(".json")


def files_in(directory: Path) -> list[str]:
    """The entry files left in `directory`; lock files stay by design and are not entries."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


def test_second_fetch_is_a_hit(cache: DataCache) -> None:
    source = Source()

    first = cache.fetch("stocks", PARAMS, source, ttl=DAY)
    second = cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert (first.origin, second.origin) == ("fresh", "cache")
    assert first.data == second.data == b"prices,v1"
    assert source.calls == 1


def test_a_new_cache_object_on_the_same_directory_hits(tmp_path: Path, clock: Clock) -> None:
    source = Source()
    DataCache(tmp_path, clock=clock).fetch("stocks", PARAMS, source, ttl=DAY)

    result = DataCache(tmp_path, clock=clock).fetch("stocks", PARAMS, source, ttl=DAY)

    assert result.origin == "cache"
    assert source.calls == 1


def test_key_ignores_the_order_and_spelling_of_equal_params(cache: DataCache) -> None:
    source = Source()
    first = cache.fetch("weather", {"latitude": 47.0, "start": dt.date(2010, 1, 1)}, source, None)

    same = cache.fetch("weather", {"start": "2010-01-01", "latitude": np.int64(47)}, source, None)

    assert same.origin == "cache"
    assert same.path == first.path
    assert source.calls == 1


@pytest.mark.parametrize(
    ("namespace", "params"),
    [
        ("stocks", {**PARAMS, "ticker": "AAPL"}),
        ("stocks", {**PARAMS, "interval": "1wk"}),
        ("stocks", {k: v for k, v in PARAMS.items() if k != "interval"}),
        ("stocks", {**PARAMS, "end": None}),
        ("weather", PARAMS),
    ],
    ids=["other-value", "other-interval", "missing-key", "extra-key", "other-namespace"],
)
def test_any_other_request_is_a_miss(
    cache: DataCache, namespace: str, params: dict[str, object]
) -> None:
    source = Source()
    first = cache.fetch("stocks", PARAMS, source, ttl=None)

    other = cache.fetch(namespace, params, source, ttl=None)

    assert other.origin == "fresh"
    assert other.path != first.path
    assert source.calls == 2


def test_params_that_are_not_plain_data_are_refused(cache: DataCache) -> None:
    with pytest.raises(TypeError, match=r"params\.when is a object"):
        cache.fetch("stocks", {"when": object()}, Source(), ttl=None)
    with pytest.raises(ValueError, match=r"params\.latitude is nan"):
        cache.fetch("stocks", {"latitude": float("nan")}, Source(), ttl=None)


@pytest.mark.parametrize("namespace", ["", "../escape", "a/b", ".hidden"])
def test_namespace_must_be_a_plain_name(cache: DataCache, namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        cache.fetch(namespace, PARAMS, Source(), ttl=None)


def test_entry_expires_after_its_ttl(cache: DataCache, clock: Clock) -> None:
    source = Source(b"v1")
    cache.fetch("stocks", PARAMS, source, ttl=DAY)
    source.payload = b"v2"

    clock.now += DAY
    at_ttl = cache.fetch("stocks", PARAMS, source, ttl=DAY)
    clock.now += 1
    past_ttl = cache.fetch("stocks", PARAMS, source, ttl=DAY)
    clock.now += DAY / 2
    refreshed = cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert (at_ttl.origin, at_ttl.data, at_ttl.age) == ("cache", b"v1", DAY)
    assert (past_ttl.origin, past_ttl.data, past_ttl.age) == ("fresh", b"v2", 0.0)
    assert (refreshed.origin, refreshed.data) == ("cache", b"v2")
    assert source.calls == 2


def test_no_ttl_never_expires(cache: DataCache, clock: Clock) -> None:
    source = Source()
    cache.fetch("archive", PARAMS, source, ttl=None)
    clock.now += 10_000 * DAY

    assert cache.fetch("archive", PARAMS, source, ttl=None).origin == "cache"
    assert source.calls == 1


def test_record_says_what_was_fetched_and_when(cache: DataCache, clock: Clock) -> None:
    result = cache.fetch("stocks", PARAMS, Source(b"abc"), ttl=DAY)

    record = json.loads(result.path.with_suffix(".json").read_text())

    assert record["namespace"] == "stocks"
    assert record["params"] == {"ticker": "MSFT", "start": "2020-01-01", "interval": "1d"}
    assert record["fetched_at"] == clock.now
    assert record["size"] == 3
    assert record["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    "damage",
    [
        lambda payload, record: payload.write_bytes(b"prices,v9"),
        lambda payload, record: payload.write_bytes(payload.read_bytes()[:4]),
        lambda payload, record: payload.unlink(),
        lambda payload, record: record.write_text("{not json"),
        lambda payload, record: record.write_text(record.read_text()[:20]),
        lambda payload, record: record.write_text('{"format": 1}'),
        lambda payload, record: record.unlink(),
    ],
    ids=[
        "payload-changed",
        "payload-truncated",
        "payload-missing",
        "record-not-json",
        "record-truncated",
        "record-incomplete",
        "record-missing",
    ],
)
def test_damaged_entry_is_refetched(
    cache: DataCache, damage: Callable[[Path, Path], object], caplog: pytest.LogCaptureFixture
) -> None:
    source = Source()
    payload, record = entry_files(cache.fetch("stocks", PARAMS, source, ttl=DAY))
    damage(payload, record)

    result = cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert (result.origin, result.data) == ("fresh", b"prices,v1")
    assert source.calls == 2
    assert "Discarding damaged cache entry" in caplog.text
    assert cache.fetch("stocks", PARAMS, source, ttl=DAY).origin == "cache"


def test_damaged_entry_and_no_network_is_a_clear_error(cache: DataCache) -> None:
    source = Source()
    payload, _ = entry_files(cache.fetch("stocks", PARAMS, source, ttl=DAY))
    payload.write_bytes(b"garbage")
    source.reachable = False

    with pytest.raises(DataUnavailable, match="damaged and removed") as error:
        cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert "Connect to the internet once" in str(error.value)
    assert files_in(payload.parent) == []


def test_expired_entry_is_used_with_a_warning_when_the_source_is_unreachable(
    cache: DataCache, clock: Clock
) -> None:
    source = Source()
    cache.fetch("stocks", PARAMS, source, ttl=DAY)
    source.reachable = False
    clock.now += 3 * DAY

    with pytest.warns(StaleDataWarning, match=r"fetched 3\.0 days ago.*connection refused"):
        result = cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert (result.origin, result.data, result.age) == ("stale", b"prices,v1", 3 * DAY)
    assert source.calls == 2


def test_stale_entry_is_kept_for_when_the_network_returns(cache: DataCache, clock: Clock) -> None:
    source = Source(b"v1")
    cache.fetch("stocks", PARAMS, source, ttl=DAY)
    source.reachable = False
    clock.now += 2 * DAY
    with pytest.warns(StaleDataWarning):
        cache.fetch("stocks", PARAMS, source, ttl=DAY)
    source.reachable, source.payload = True, b"v2"

    result = cache.fetch("stocks", PARAMS, source, ttl=DAY)

    assert (result.origin, result.data) == ("fresh", b"v2")


def test_offline_serves_a_fresh_entry_without_fetching(cache: DataCache) -> None:
    source = Source()
    cache.fetch("stocks", PARAMS, source, ttl=DAY)

    result = cache.fetch("stocks", PARAMS, source, ttl=DAY, offline=True)

    assert result.origin == "cache"
    assert source.calls == 1


def test_offline_serves_an_expired_entry_with_a_warning(cache: DataCache, clock: Clock) -> None:
    source = Source()
    cache.fetch("stocks", PARAMS, source, ttl=DAY)
    clock.now += 5 * 3600 + DAY

    with pytest.warns(StaleDataWarning, match=r"fetched 29\.0 hours ago.*offline=True"):
        result = cache.fetch("stocks", PARAMS, source, ttl=DAY, offline=True)

    assert result.origin == "stale"
    assert source.calls == 1


def test_offline_without_an_entry_says_what_to_do(cache: DataCache) -> None:
    source = Source()

    with pytest.raises(DataUnavailable) as error:
        cache.fetch("stocks", PARAMS, source, ttl=DAY, offline=True, hint="use source='sample'")

    message = str(error.value)
    assert "No usable cached copy of stocks" in message
    assert '"ticker":"MSFT"' in message
    assert "offline=True forbids fetching it" in message
    assert message.endswith("Run once online to fill the cache, or use source='sample'.")
    assert source.calls == 0


def test_unreachable_source_without_an_entry_says_what_to_do(cache: DataCache) -> None:
    source = Source()
    source.reachable = False

    with pytest.raises(DataUnavailable) as error:
        cache.fetch("stocks", PARAMS, source, ttl=DAY, hint="use source='sample'")

    message = str(error.value)
    assert "the source is unreachable (example.com cannot be reached" in message
    assert str(cache.root / "stocks") in message
    assert message.endswith(
        "Connect to the internet once to fill the cache, or use source='sample'."
    )
    assert isinstance(error.value.__cause__, SourceUnavailable)


def test_a_fetch_that_raises_leaves_no_files_and_propagates(cache: DataCache) -> None:
    def refused() -> bytes:
        raise ValueError("unknown ticker")

    with pytest.raises(ValueError, match="unknown ticker"):
        cache.fetch("stocks", PARAMS, refused, ttl=DAY)

    assert files_in(cache.root / "stocks") == []


def test_a_failed_write_leaves_the_old_entry_and_no_temporary_files(
    cache: DataCache, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source(b"v1")
    first = cache.fetch("stocks", PARAMS, source, ttl=DAY)
    before = files_in(first.path.parent)
    clock.now += 2 * DAY
    source.payload = b"v2"

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("forge_core.files.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        cache.fetch("stocks", PARAMS, source, ttl=DAY)
    monkeypatch.undo()

    assert files_in(first.path.parent) == before
    source.reachable = False
    with pytest.warns(StaleDataWarning):
        assert cache.fetch("stocks", PARAMS, source, ttl=DAY).data == b"v1"


def test_concurrent_fetches_of_one_entry_fetch_once_and_leave_one_valid_entry(
    cache: DataCache,
) -> None:
    calls = 0
    payload = bytes(range(256)) * 4096

    def slow() -> bytes:
        nonlocal calls
        calls += 1
        time.sleep(0.2)
        return payload

    results: list[CacheResult] = []
    # Every thread is past the barrier before any asks the cache, so the four fetches overlap.
    start = threading.Barrier(4)

    def fetch() -> None:
        start.wait(timeout=30)
        results.append(cache.fetch("big", PARAMS, slow, None))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls == 1
    assert sorted(r.origin for r in results) == ["cache", "cache", "cache", "fresh"]
    assert all(r.data == payload for r in results)
    assert files_in(cache.root / "big") == sorted(
        [results[0].path.name, results[0].path.with_suffix(".json").name]
    )
    assert DataCache(cache.root).fetch("big", PARAMS, slow, None, offline=True).data == payload


def test_default_root_is_under_forge_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))
    assert DataCache().root == default_cache_dir() == tmp_path / "cache"

    monkeypatch.delenv("FORGE_DATA_DIR")
    assert default_cache_dir() == Path("var") / "cache"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_forge_data_dir_is_the_default_not_the_current_folder(
    blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", blank)
    assert default_cache_dir() == Path("var") / "cache"


def test_forge_data_dir_is_stripped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", f"  {tmp_path}\n")
    assert default_cache_dir() == tmp_path / "cache"
