"""How many of a gateway's scheduler calls may wait at once for the scheduler to take them up.

A gRPC server queues the calls that arrive before its event loop asks for the next one, and
sheds load from that queue: past `grpc.server.max_pending_requests` (1,000) it cancels new
arrivals at random, and every one past the hard limit (3,000). A shed call reaches the gateway
as `CANCELLED`, which a WebSocket reports as 4503, as if the scheduler were gone. Thousands of
viewers joining at once (a shared link, a restarted gateway whose clients all reconnect) make
two calls each, a lookup and a replay, in the same instant: measured with 5,000 viewers, a
quarter of them were cut that way.

So a gateway lets at most `MAX_WAITING` calls wait for the scheduler at a time. The others wait
here, for a place, where waiting costs nothing and drops nothing; the scheduler works no
slower, since it takes calls one at a time anyway. A call holds its place until the scheduler
has taken it up: a unary call until its answer, a stream until its first response headers
(`WatchExperiment` sends them once it is subscribed), never for the stream's whole life.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Well under the scheduler's 1,000, so that a few gateways together stay under it too.
MAX_WAITING = 200


class CallGate:
    """Places for calls that wait for the scheduler to take them up."""

    def __init__(self, places: int = MAX_WAITING) -> None:
        self._places = asyncio.Semaphore(places)
        # Calls waiting here for a place, not yet sent.
        self.queued = 0

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold a place while the block waits for the scheduler to take a call up."""
        self.queued += 1
        try:
            await self._places.acquire()
        finally:
            self.queued -= 1
        try:
            yield
        finally:
            self._places.release()
