from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from forge_core.files import atomic_write


def test_the_new_content_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")

    with atomic_write(target) as file:
        file.write(b"new ")
        assert target.read_bytes() == b"old"  # nothing shows until the block ends
        file.write(b"content")

    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


def test_an_error_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")

    with pytest.raises(RuntimeError), atomic_write(target) as file:
        file.write(b"half")
        raise RuntimeError("disk full")

    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


@pytest.mark.parametrize(("mode", "expected"), [(None, 0o600), (0o600, 0o600), (0o644, 0o644)])
def test_the_file_is_private_unless_a_mode_is_given(
    tmp_path: Path, mode: int | None, expected: int
) -> None:
    target = tmp_path / "token.json"

    with atomic_write(target, mode=mode) as file:
        file.write(b"{}")

    assert stat.S_IMODE(target.stat().st_mode) == expected


def test_writers_of_one_file_at_once_never_share_a_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "last.npz"
    writers = 8
    # Every writer has its temporary file open before any finishes.
    all_open = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with atomic_write(target) as file:
                file.write(bytes([number]) * 4096)
                all_open.wait(timeout=30)
                file.write(bytes([number]) * 4096)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    content = target.read_bytes()
    assert content == bytes([content[0]]) * 8192  # one writer's whole content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]
