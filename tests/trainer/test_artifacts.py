"""A run folder cut into ArtifactChunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.artifacts import artifact_chunks, content_type


def test_every_file_goes_in_order_in_chunks_that_rebuild_it(tmp_path: Path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.npz").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "report.md").write_text("# report\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "checkpoints" / ".last.npz.x7f3k.tmp").write_bytes(b"half")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "file").write_bytes(b"x")

    chunks = list(artifact_chunks(tmp_path, chunk_size=1024))

    assert [(c.name, c.offset, len(c.data), c.last) for c in chunks] == [
        ("checkpoints/last.npz", 0, 1024, False),
        ("checkpoints/last.npz", 1024, 1024, False),
        ("checkpoints/last.npz", 2048, 512, True),
        ("empty.txt", 0, 0, True),
        ("report.md", 0, 9, True),
    ]
    rebuilt = b"".join(c.data for c in chunks if c.name == "checkpoints/last.npz")
    assert rebuilt == (tmp_path / "checkpoints" / "last.npz").read_bytes()


def test_a_file_of_whole_chunks_ends_on_its_last_one(tmp_path: Path):
    (tmp_path / "model.npz").write_bytes(b"x" * 2048)

    chunks = list(artifact_chunks(tmp_path, chunk_size=1024))

    assert [(c.offset, c.last) for c in chunks] == [(0, False), (1024, True)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.md", "text/markdown; charset=utf-8"),
        ("plots/loss.PNG", "image/png"),
        ("metrics.json", "application/json"),
        ("checkpoints/best.npz", "application/octet-stream"),
        ("page.html", "text/html"),
        ("no_extension", "application/octet-stream"),
    ],
)
def test_content_types_go_by_extension(name, expected):
    assert content_type(name) == expected
