"""Data at rest is private to the user who runs the services (docs/architecture.md#security).

The data folder holds every password hash, config, metric, artifact and secret. Each service
(`forge up`, `forge scheduler`, `forge trainer`, `forge gateway`) therefore sets its umask to
0o077 before it creates anything, so that all it and its libraries and children create later is
the user's alone, folders 0700 and files 0600, whatever umask the shell had: the SQLite database
and the `-wal` and `-shm` files SQLite adds when it pleases, the NATS store, trainers' runs and
data caches, the secrets. One umask beats a chmod after each create: no file is ever readable by
others, even for a moment, and none is forgotten.

A data folder made by an older version, or by hand, may be open to others. `close_data_dir`
closes it: the folder becomes 0700 and, when it was open, everything under it loses its group
and other permissions, once, and the service says so in its log.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
OTHERS = 0o077


def make_process_private() -> None:
    """From now on this process and its children create files 0600 and folders 0700."""
    os.umask(PRIVATE_UMASK)


def close_data_dir(data_dir: Path) -> list[str]:
    """Create `data_dir` with mode 0700, or close an existing one; lines saying what changed."""
    try:
        mode = stat.S_IMODE(data_dir.stat().st_mode)
    except FileNotFoundError:
        data_dir.mkdir(mode=0o700, parents=True)
        return []
    if not mode & OTHERS:
        return []
    data_dir.chmod(0o700)
    closed, failed = _close_tree(data_dir)
    lines = [
        f"made the data folder {data_dir} private: it was mode {mode:04o}, now 0700, and "
        f"{closed} files and folders in it lost their group and other permissions"
    ]
    if failed:
        lines.append(
            f"could not change the mode of {len(failed)} entries in {data_dir} (not yours?), "
            f"among them {failed[0]}; the folder's 0700 keeps others out of them anyway"
        )
    return lines


def _close_tree(top: Path) -> tuple[int, list[Path]]:
    """Take group and other permissions from everything under `top`, links left alone."""
    closed, failed = 0, []
    for root, folders, files in os.walk(top):
        for name in [*folders, *files]:
            path = Path(root, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or not mode & OTHERS:
                continue
            try:
                path.chmod(stat.S_IMODE(mode) & ~OTHERS)
            except PermissionError:
                failed.append(path)
                continue
            closed += 1
    return closed, failed
