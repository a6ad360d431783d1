"""Files and checkpoints put back together from the chunks a run's stream carries."""

from __future__ import annotations

import pytest

from azuraforge.v1 import trainer_pb2
from scheduler.placement.assembly import ArtifactAssembler, CheckpointAssembler


def checkpoint(offset: int, data: bytes, *, last: bool = False) -> trainer_pb2.CheckpointChunk:
    return trainer_pb2.CheckpointChunk(epoch=3, offset=offset, data=data, last=last)


def artifact(
    name: str, offset: int, data: bytes, *, last: bool = False
) -> trainer_pb2.ArtifactChunk:
    return trainer_pb2.ArtifactChunk(name=name, offset=offset, data=data, last=last)


def test_a_checkpoint_is_whole_at_its_last_chunk() -> None:
    assembler = CheckpointAssembler()

    assert assembler.add(checkpoint(0, b"abc")) is None
    assert assembler.add(checkpoint(3, b"de", last=True)) == b"abcde"
    assert assembler.add(checkpoint(0, b"next", last=True)) == b"next"


def test_a_torn_checkpoint_is_refused_and_the_next_one_starts_clean() -> None:
    assembler = CheckpointAssembler()
    assembler.add(checkpoint(0, b"abc"))

    with pytest.raises(ValueError, match="offset 5 arrived out of order"):
        assembler.add(checkpoint(5, b"xy", last=True))
    assert assembler.add(checkpoint(0, b"whole", last=True)) == b"whole"


def test_a_checkpoint_started_again_drops_the_unfinished_one() -> None:
    assembler = CheckpointAssembler()
    assembler.add(checkpoint(0, b"old"))

    assert assembler.add(checkpoint(0, b"new", last=True)) == b"new"


def test_files_whose_chunks_interleave_are_each_put_together() -> None:
    assembler = ArtifactAssembler()

    assert assembler.add(artifact("a.txt", 0, b"a1")) is None
    assert assembler.add(artifact("plots/b.png", 0, b"b1")) is None
    assert assembler.add(artifact("a.txt", 2, b"a2", last=True)) == b"a1a2"
    assert assembler.add(artifact("plots/b.png", 2, b"b2", last=True)) == b"b1b2"


def test_a_file_chunk_out_of_order_drops_that_file() -> None:
    assembler = ArtifactAssembler()
    assembler.add(artifact("a.txt", 0, b"a1"))

    with pytest.raises(ValueError, match=r"'a\.txt': a chunk at offset 4 arrived after 2 bytes"):
        assembler.add(artifact("a.txt", 4, b"a3"))
    assert assembler.add(artifact("a.txt", 0, b"again", last=True)) == b"again"
