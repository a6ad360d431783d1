"""`forge up` and other `forge` commands as processes: their output, waited on line by line."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

FORGE = Path(sys.executable).parent / "forge"
# Starting imports the engine, migrates a database and registers a trainer: on a loaded
# two-core machine that is tens of seconds, so waits are long and end as soon as they can.
READY_S = 240.0
STARTED = re.compile(r"^up +\| (?:re)?started (\S+) \(pid (\d+)\)$")
PASSWORD = re.compile(r"^up +\| Created the admin account 'admin' with the password: (\S+)$")


class Output:
    """The lines a process writes, collected by a thread, waited on by the test."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(
        self, pattern: re.Pattern[str], timeout: float = READY_S, count: int = 1
    ) -> re.Match[str]:
        """The `count`-th line that matches `pattern`, once it has been written."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = [m for line in self.lines if (m := pattern.search(line))]
                if len(matches) >= count:
                    return matches[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    text = "\n".join(self.lines[-60:])
                    pytest.fail(f"no line matching {pattern.pattern!r}; output:\n{text}")
                self._changed.wait(min(left, 1.0))

    def close(self, timeout: float = 30) -> None:
        self._thread.join(timeout)

    def children(self) -> dict[str, int]:
        """Each service's pid, the latest start of it (a restart replaces the pid)."""
        return {m[1]: int(m[2]) for line in self.lines if (m := STARTED.match(line))}


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
