"""Waiting for a condition that no event announces: one helper, for threads and for asyncio.

Where a test can wait on an event (a line in a log, a message on a stream), it does. Some
states have none — a port starts listening, a row appears, a process is gone — and then a test
checks again every `interval` seconds until the condition holds or `timeout` runs out. The
failure names what was awaited and shows the last value seen, so a timeout reads as a finding
rather than a hang.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import pytest

T = TypeVar("T")

INTERVAL_S = 0.05


def wait_until(
    condition: Callable[[], T], timeout: float, what: str, interval: float = INTERVAL_S
) -> T:
    """The first truthy value of `condition()`, checked every `interval` s for `timeout` s.

    `condition` may raise OSError (a port that does not answer yet): that counts as not yet.
    For code with no event loop running; `until` is the same for coroutines.
    """
    return asyncio.run(until(condition, timeout, what, interval))


@overload
async def until(
    condition: Callable[[], Awaitable[T]], timeout: float, what: str, interval: float = ...
) -> T: ...
@overload
async def until(
    condition: Callable[[], T], timeout: float, what: str, interval: float = ...
) -> T: ...
async def until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = INTERVAL_S
) -> Any:
    """`wait_until` in a coroutine: `condition` may be a plain or an async function."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except OSError as error:
            last = error
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {timeout} s for {what}; last saw {last!r}")
        await asyncio.sleep(interval)
