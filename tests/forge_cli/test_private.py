"""A data folder is made private, and one made open by an older version is closed, on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_cli.private import close_data_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The umask most shells have, under which new files are readable by everyone."""
    umask = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(umask)


def mode(path: Path) -> int:
    return path.lstat().st_mode & 0o777


@pytest.mark.usefixtures("open_umask")
def test_a_new_data_folder_is_made_0700(tmp_path: Path) -> None:
    data = tmp_path / "var"

    assert close_data_dir(data) == []
    assert mode(data) == 0o700
    assert close_data_dir(data) == []  # private already: nothing to say


@pytest.mark.usefixtures("open_umask")
def test_an_open_data_folder_is_closed_with_everything_in_it(tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "trainer" / "runs").mkdir(parents=True)
    for path in (data, data / "trainer", data / "trainer" / "runs"):
        path.chmod(0o755)
    (data / "forge.db").write_text("users and their password hashes")
    (data / "forge.db").chmod(0o644)
    (data / "trainer" / "runs" / "report.md").write_text("metrics")
    (data / "trainer" / "runs" / "report.md").chmod(0o664)
    (data / "private-already").write_text("")
    (data / "private-already").chmod(0o600)
    outside = tmp_path / "outside"
    outside.write_text("not the data folder's")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)

    lines = close_data_dir(data)

    assert lines == [
        f"made the data folder {data} private: it was mode 0755, now 0700, and 4 files and "
        "folders in it lost their group and other permissions"
    ]
    assert mode(data) == 0o700
    assert mode(data / "trainer") == mode(data / "trainer" / "runs") == 0o700
    assert mode(data / "forge.db") == mode(data / "private-already") == 0o600
    assert mode(data / "trainer" / "runs" / "report.md") == 0o600
    assert mode(outside) == 0o644, "a link's target outside the folder is left alone"
