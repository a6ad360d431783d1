"""A run's stream on the trainer: every item the run sends, kept until a scheduler stored it.

A run outlives its Train call (docs/architecture.md#faults): when the scheduler dies, the run
goes on, and the scheduler that comes back attaches and asks for what it has not stored yet.
So the items a run sends (events, file chunks, checkpoint chunks) are numbered 1, 2, 3, ... as
they are appended, and kept here until the scheduler acknowledges a position (it does so in
its heartbeat answers). Any number of followers read the stream from a position on, then wait
for new items, until the run's last item.

What is kept stays bounded in memory: past `memory_bytes` of unacknowledged items, new ones go
to an append-only spill file and are read back when a follower needs them; the file goes once
everything in it is acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from azuraforge.v1 import trainer_pb2

DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024


class RunStream:
    """The numbered items of one run; see the module docstring."""

    def __init__(self, spill_path: Path, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self._spill_path = spill_path
        self._memory_limit = memory_bytes
        self._in_memory: dict[int, trainer_pb2.TrainResponse] = {}
        self._memory_bytes = 0
        self._spilled: dict[int, tuple[int, int]] = {}  # position -> (offset, length)
        self._spill_size = 0
        self._next = 1
        self._acknowledged = 0
        self._closed = False
        self._changed = asyncio.Event()

    @property
    def last_position(self) -> int:
        return self._next - 1

    @property
    def closed(self) -> bool:
        """Whether the run's last item is in (nothing follows it)."""
        return self._closed

    @property
    def acknowledged(self) -> int:
        return self._acknowledged

    @property
    def memory_bytes(self) -> int:
        return self._memory_bytes

    @property
    def spilled(self) -> int:
        """How many items wait in the spill file."""
        return len(self._spilled)

    def append(self, response: trainer_pb2.TrainResponse) -> None:
        """Number `response` as the next item and keep it."""
        if self._closed:
            raise RuntimeError("the run's stream is closed: nothing follows its last item")
        response.position = self._next
        self._next += 1
        size = response.ByteSize()
        if self._memory_bytes + size <= self._memory_limit:
            self._in_memory[response.position] = response
            self._memory_bytes += size
        else:
            self._spill(response)
        self._wake()

    def close(self) -> None:
        """The run sent its last item."""
        self._closed = True
        self._wake()

    def acknowledge(self, position: int) -> None:
        """Forget every item up to `position`: a scheduler stored them."""
        if position <= self._acknowledged:
            return
        self._acknowledged = min(position, self.last_position)
        for kept in [p for p in self._in_memory if p <= self._acknowledged]:
            self._memory_bytes -= self._in_memory.pop(kept).ByteSize()
        for kept in [p for p in self._spilled if p <= self._acknowledged]:
            del self._spilled[kept]
        if not self._spilled and self._spill_size:
            self._spill_path.unlink(missing_ok=True)
            self._spill_size = 0

    async def follow(self, after: int = 0) -> AsyncIterator[trainer_pb2.TrainResponse]:
        """Every item kept after position `after`, then each new one, until the last."""
        position = after
        while True:
            changed = self._changed
            position = max(position, self._acknowledged)  # what is forgotten, nobody needs
            if position < self.last_position:
                position += 1
                yield self._item(position)
            elif self._closed:
                return
            else:
                await changed.wait()

    def discard(self) -> None:
        """Drop everything, spill file included: nobody will ask for this run again."""
        self._in_memory.clear()
        self._spilled.clear()
        self._memory_bytes = 0
        self._spill_path.unlink(missing_ok=True)
        self._spill_size = 0

    def _item(self, position: int) -> trainer_pb2.TrainResponse:
        kept = self._in_memory.get(position)
        if kept is not None:
            return kept
        offset, length = self._spilled[position]
        with self._spill_path.open("rb") as spill:
            spill.seek(offset)
            return trainer_pb2.TrainResponse.FromString(spill.read(length))

    def _spill(self, response: trainer_pb2.TrainResponse) -> None:
        data = response.SerializeToString()
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self._spill_path.open("ab") as spill:
            spill.write(data)
        self._spilled[response.position] = (self._spill_size, len(data))
        self._spill_size += len(data)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
