"""A stream read in bursts: whatever has arrived by the time the reader is ready, in order.

A trainer's stream of a fast run brings events faster than one transaction per event can store
them; storing what has piled up in one transaction keeps up. Nothing waits to fill a burst: a
lone event is a burst of one and is stored at once, so batching never delays the first event,
only lets the ones that arrived meanwhile share the next commit.

A task reads the stream ahead into a bounded queue (so a stalled store slows the trainer's
stream through gRPC's flow control rather than filling memory); an error of the stream comes
out of the iteration after the items before it, as it would reading the stream directly (a
cancelled gRPC call's `CancelledError` too, which `Following` tells apart from its own).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TypeVar, cast

T = TypeVar("T")

_END = object()


async def in_bursts(stream: AsyncIterable[T], most: int) -> AsyncGenerator[list[T], None]:
    """The items of `stream` in lists of 1 to `most`: each what had arrived when asked for."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=most)
    failure: list[BaseException] = []

    async def read_ahead() -> None:
        try:
            async for item in stream:
                await queue.put(item)
        except asyncio.CancelledError as error:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the consumer left: nobody to hand anything to
            failure.append(error)  # the stream itself was cancelled (a gRPC call's cancel())
        except Exception as error:  # handed to the consumer, in its place in the stream
            failure.append(error)
        await queue.put(_END)

    reader = asyncio.create_task(read_ahead())
    try:
        while True:
            first = await queue.get()
            burst = [first]
            while len(burst) < most and not queue.empty():
                burst.append(queue.get_nowait())
            ended = burst[-1] is _END
            items = [cast(T, item) for item in burst if item is not _END]
            if items:
                yield items
            if ended:
                if failure:
                    raise failure[0]
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
