"""A run folder as ``ArtifactChunk``\\ s, so its files reach the scheduler on the Train stream.

No disk is shared (docs/architecture.md#the-life-of-an-experiment): the report, its plots, the
weights and the checkpoints travel back on the stream the events took, each file in chunks
small enough to stay far below gRPC's 4 MiB message limit and to interleave with nothing else.
Names are paths inside the run folder with ``/`` separators (``checkpoints/last.npz``), which
is how the report links to them. Hidden files are left out: they are a writer's temporary
files (``forge_core.files.atomic_write`` writes through ``.name.<random>.tmp``).
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from pathlib import Path

from azuraforge.v1 import trainer_pb2

CHUNK_SIZE = 256 * 1024

# What runs write, named here so the answer never depends on the machine's mime.types.
CONTENT_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".npz": "application/octet-stream",
    ".npy": "application/octet-stream",
}
# Python's own table only, for the rest: never the host's /etc/mime.types.
_BUILT_IN_TYPES = mimetypes.MimeTypes()


def content_type(name: str) -> str:
    """The media type of a file by its extension; ``application/octet-stream`` when unknown."""
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = _BUILT_IN_TYPES.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def run_files(run_dir: Path) -> list[Path]:
    """The files to send, sorted by name; nothing in a hidden file or folder."""
    return sorted(
        path
        for path in run_dir.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(run_dir).parts)
    )


def artifact_chunks(
    run_dir: Path, chunk_size: int = CHUNK_SIZE
) -> Iterator[trainer_pb2.ArtifactChunk]:
    """Every file of ``run_dir`` in order, each as chunks whose last one has ``last`` set.

    An empty file is one empty chunk, so the scheduler still learns it exists.
    """
    for path in run_files(run_dir):
        name = path.relative_to(run_dir).as_posix()
        kind = content_type(name)
        with path.open("rb") as file:
            offset = 0
            data = file.read(chunk_size)
            while True:
                following = file.read(chunk_size) if data else b""
                yield trainer_pb2.ArtifactChunk(
                    name=name,
                    content_type=kind,
                    offset=offset,
                    data=data,
                    last=not following,
                )
                if not following:
                    break
                offset += len(data)
                data = following


def checkpoint_chunks(
    path: Path, epoch: int, chunk_size: int = CHUNK_SIZE
) -> Iterator[trainer_pb2.CheckpointChunk]:
    """A resume checkpoint as chunks; the last one carries the SHA-256 of the whole file."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    offsets = range(0, len(content), chunk_size) if content else range(1)
    for offset in offsets:
        last = offset + chunk_size >= len(content)
        yield trainer_pb2.CheckpointChunk(
            epoch=epoch,
            offset=offset,
            data=content[offset : offset + chunk_size],
            last=last,
            sha256=digest if last else "",
        )
