"""Putting a run's files and checkpoints back together from the chunks its stream carries."""

from __future__ import annotations

from azuraforge.v1 import trainer_pb2


class CheckpointAssembler:
    """Puts the run's latest checkpoint back together from its chunks."""

    def __init__(self) -> None:
        self._data = bytearray()

    def add(self, chunk: trainer_pb2.CheckpointChunk) -> bytes | None:
        """The whole checkpoint once `chunk` completes it; None before. ValueError if torn."""
        if chunk.offset == 0:
            self._data = bytearray()
        if chunk.offset != len(self._data):
            self._data = bytearray()
            raise ValueError(
                f"the checkpoint of epoch {chunk.epoch}: a chunk at offset {chunk.offset} "
                "arrived out of order; the previous checkpoint is kept"
            )
        self._data += chunk.data
        if not chunk.last:
            return None
        content, self._data = bytes(self._data), bytearray()
        return content


class ArtifactAssembler:
    """Puts each artifact back together from its chunks, which arrive in order."""

    def __init__(self) -> None:
        self._parts: dict[str, bytearray] = {}

    def add(self, chunk: trainer_pb2.ArtifactChunk) -> bytes | None:
        """The whole file once `chunk` completes it; None before. ValueError if out of order."""
        data = self._parts.setdefault(chunk.name, bytearray())
        if chunk.offset != len(data):
            del self._parts[chunk.name]
            raise ValueError(
                f"artifact {chunk.name!r}: a chunk at offset {chunk.offset} arrived after "
                f"{len(data)} bytes; the file was not stored"
            )
        data += chunk.data
        if not chunk.last:
            return None
        del self._parts[chunk.name]
        return bytes(data)
