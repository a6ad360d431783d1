"""Reading a trainer's stream in bursts: nothing waits to fill one, nothing is reordered or lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from scheduler.placement.bursts import in_bursts


class Feed:
    """A stream whose items a test puts in, and which then ends or fails when told."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | BaseException | None] = asyncio.Queue()

    async def stream(self) -> AsyncIterator[int]:
        while (item := await self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_a_lone_item_comes_at_once_without_waiting_for_more():
    async def scenario() -> list[int]:
        feed = Feed()
        bursts = in_bursts(feed.stream(), most=10)
        feed.queue.put_nowait(1)
        first = await asyncio.wait_for(anext(bursts), 5)
        await bursts.aclose()
        return first

    assert asyncio.run(scenario()) == [1]


def test_what_arrived_while_the_reader_was_busy_comes_as_one_burst_in_order():
    async def scenario() -> list[list[int]]:
        feed = Feed()
        got = []
        bursts = in_bursts(feed.stream(), most=4)
        feed.queue.put_nowait(1)
        got.append(await anext(bursts))
        for item in range(2, 8):  # six arrive while the consumer is "storing"
            feed.queue.put_nowait(item)
        await settle()
        feed.queue.put_nowait(None)
        got += [burst async for burst in bursts]
        return got

    bursts = asyncio.run(scenario())

    assert bursts[0] == [1]
    assert [item for burst in bursts for item in burst] == list(range(1, 8))
    assert all(len(burst) <= 4 for burst in bursts)
    assert bursts[1] == [2, 3, 4, 5]


def test_a_failure_of_the_stream_comes_after_the_items_before_it():
    async def scenario() -> tuple[list[int], BaseException]:
        feed = Feed()
        got: list[int] = []
        for item in (1, 2):
            feed.queue.put_nowait(item)
        feed.queue.put_nowait(ConnectionResetError("the trainer went away"))
        with pytest.raises(ConnectionResetError) as raised:
            async for burst in in_bursts(feed.stream(), most=10):
                got += burst
        return got, raised.value

    got, error = asyncio.run(scenario())

    assert got == [1, 2]
    assert str(error) == "the trainer went away"


def test_leaving_early_stops_reading_the_stream():
    async def scenario() -> bool:
        feed = Feed()
        reading = asyncio.Event()
        stopped = asyncio.Event()

        async def stream() -> AsyncIterator[int]:
            try:
                reading.set()
                async for item in feed.stream():
                    yield item
            finally:
                stopped.set()

        bursts = in_bursts(stream(), most=10)
        feed.queue.put_nowait(1)
        await anext(bursts)
        await reading.wait()
        await bursts.aclose()
        await asyncio.wait_for(stopped.wait(), 5)
        return stopped.is_set()

    assert asyncio.run(scenario())
