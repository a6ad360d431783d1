"""A run's stream on the trainer: numbering, following from a position, spilling, forgetting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from azuraforge.v1 import events_pb2, trainer_pb2
from trainer.stream import RunStream


def item(message: str) -> trainer_pb2.TrainResponse:
    line = events_pb2.LogLine(level="INFO", logger="t", message=message)
    return trainer_pb2.TrainResponse(event=events_pb2.ExperimentEvent(log_line=line))


def messages(responses: list[trainer_pb2.TrainResponse]) -> list[str]:
    return [response.event.log_line.message for response in responses]


def test_items_are_numbered_and_followed_from_any_kept_position(tmp_path: Path) -> None:
    async def scenario():
        stream = RunStream(tmp_path / "spill")
        for text in "abc":
            stream.append(item(text))
        stream.close()
        return [r async for r in stream.follow(0)], [r async for r in stream.follow(2)]

    everything, rest = asyncio.run(scenario())

    assert [r.position for r in everything] == [1, 2, 3]
    assert messages(rest) == ["c"]


def test_a_follower_waits_for_new_items_until_the_last(tmp_path: Path) -> None:
    async def scenario():
        stream = RunStream(tmp_path / "spill")
        received: list[trainer_pb2.TrainResponse] = []
        arrived = asyncio.Event()

        async def follow() -> None:
            async for response in stream.follow():
                received.append(response)
                arrived.set()

        follower = asyncio.create_task(follow())
        stream.append(item("first"))
        await arrived.wait()
        stream.append(item("second"))
        stream.close()
        await follower
        return received

    assert messages(asyncio.run(scenario())) == ["first", "second"]


def test_past_the_memory_bound_items_spill_to_disk_and_come_back(tmp_path: Path) -> None:
    async def scenario():
        stream = RunStream(tmp_path / "spill", memory_bytes=100)
        for number in range(20):
            stream.append(item(f"line {number} " + "x" * 20))
        stream.close()
        spilled = stream.spilled
        followed = [r async for r in stream.follow()]
        stream.acknowledge(10)
        partly = (stream.spilled, (tmp_path / "spill").exists())
        stream.acknowledge(20)
        return spilled, followed, partly, stream.spilled, (tmp_path / "spill").exists()

    spilled, followed, partly, left, file_left = asyncio.run(scenario())

    assert 10 < spilled < 20  # a few small items fit the bound; the rest went to disk
    assert messages(followed) == [f"line {n} " + "x" * 20 for n in range(20)]
    assert partly == (10, True)
    assert (left, file_left) == (0, False)


def test_acknowledged_items_are_forgotten_and_followers_skip_them(tmp_path: Path) -> None:
    async def scenario():
        stream = RunStream(tmp_path / "spill")
        for text in "abcd":
            stream.append(item(text))
        stream.acknowledge(2)
        stream.close()
        return stream.memory_bytes, [r async for r in stream.follow(0)]

    kept_bytes, followed = asyncio.run(scenario())

    assert messages(followed) == ["c", "d"]
    assert kept_bytes == sum(response.ByteSize() for response in followed)
