"""Child processes for `forge up`: start them, prefix their output, wait until ready, stop them.

`forge up` runs several long-lived services from one terminal, the way `docker compose up` or
foreman do, and this module is the part that knows about processes and nothing about forge:

- Each child runs in its own process group. Ctrl-C in the terminal then reaches `forge up`
  alone, which stops the children in the order it chooses (trainers before the scheduler before
  NATS) instead of all of them at once; and killing the group at the end also takes whatever a
  child started itself (a trainer's training processes), so nothing is left behind.
- stdout and stderr of a child are read line by line by one thread per child and written out
  as ``name | line``, names padded to one width, coloured only on a terminal (and never with
  ``NO_COLOR`` set). Watchers may look at every line: `forge up` learns that a trainer has
  registered from its log.
- Readiness is a condition polled until it holds, so a slow machine only makes it take longer;
  a child that exits while anything waits ends the wait with `ServiceExited`.
- `stop` asks each child to stop with SIGTERM, waits a grace period, then kills its group.
  A second stop request (a second Ctrl-C) skips the grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TextIO

# Foreground colours in the order docker compose hands them out; red is kept for errors.
COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
RESET = "\x1b[0m"
# The supervisor's own lines: `up | stopping scheduler`, in bold.
OWN_NAME = "up"
OWN_COLOUR = "1"
POLL_S = 0.1
# How long the processes a stopped child left behind get to vanish after their kill.
GROUP_EXIT_S = 10.0

LineWatcher = Callable[[str], None]


class ServiceExited(RuntimeError):
    """A child exited while it should have been running; `forge up` stops the others."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited unexpectedly with {describe_exit(returncode)}")
        self.name = name
        self.returncode = returncode


class StopRequested(RuntimeError):
    """A stop was asked for (Ctrl-C, SIGTERM) while waiting for something else."""


def describe_exit(returncode: int) -> str:
    """``status 1`` or ``signal SIGKILL``: how a child ended, in words."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
    return f"status {returncode}"


@dataclass
class Child:
    """One started service: its process and who wants to see its lines."""

    name: str
    process: subprocess.Popen[bytes]
    watchers: list[LineWatcher] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


class Supervisor:
    """Starts children, shows their output and stops them; see the module docstring."""

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        colour: bool | None = None,
        grace_s: float = 10.0,
        name_width: int = 9,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.colour = use_colour(self.out) if colour is None else colour
        self.grace_s = grace_s
        self.name_width = name_width
        self.children: list[Child] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._stopping = False

    # Output

    def say(self, name: str, line: str) -> None:
        """Write one prefixed line; safe from any thread."""
        prefix = f"{name:<{self.name_width}} |"
        if self.colour:
            prefix = f"\x1b[{self._colour_of(name)}m{prefix}{RESET}"
        with self._lock:
            self.out.write(f"{prefix} {line}\n")
            self.out.flush()

    def note(self, line: str) -> None:
        """A line of the supervisor's own, as ``up | line``."""
        self.say(OWN_NAME, line)

    def _colour_of(self, name: str) -> str:
        if name == OWN_NAME:
            return OWN_COLOUR
        names = [child.name for child in self.children]
        index = names.index(name) if name in names else len(names)
        return COLOURS[index % len(COLOURS)]

    # Starting and waiting

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        watchers: Sequence[LineWatcher] = (),
    ) -> Child:
        """Start `argv` in a new process group, its output shown as ``name | line``."""
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        child = Child(name, process, list(watchers))
        self.children.append(child)
        assert process.stdout is not None
        child.reader = threading.Thread(
            target=self._relay, args=(child, process.stdout), name=f"relay-{name}", daemon=True
        )
        child.reader.start()
        return child

    def _relay(self, child: Child, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.say(child.name, line)
            for watcher in child.watchers:
                watcher(line)
        stream.close()

    def wait_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `condition` until it holds.

        Raises `ServiceExited` when a child exits meanwhile, `StopRequested` on Ctrl-C and
        `TimeoutError` (naming `what`) when `timeout_s` passes first.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_children()
            if self._stop.is_set():
                raise StopRequested(what)
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
            self._stop.wait(POLL_S)

    def check_children(self) -> None:
        """Raise `ServiceExited` for the first child that is no longer running."""
        for child in self.children:
            returncode = child.process.poll()
            if returncode is not None:
                raise ServiceExited(child.name, returncode)

    def run_until_stopped(self) -> None:
        """Block until a stop is requested (returns) or a child exits (`ServiceExited`)."""
        while not self._stop.is_set():
            self.check_children()
            self._stop.wait(POLL_S * 2)

    # Stopping

    def request_stop(self) -> None:
        """Ask for a stop; asked again while stopping, skip the grace periods. Signal-safe."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Turn SIGINT (Ctrl-C) and SIGTERM into `request_stop`."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda _signum, _frame: self.request_stop())

    def stop(self) -> bool:
        """Stop every child, the last started first; whether each stopped within its grace.

        The group of each child is killed afterwards either way, which takes any process the
        child left behind.
        """
        self._stop.set()
        clean = True
        for child in reversed(self.children):
            clean = self._stop_child(child) and clean
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=5)
        return clean

    def _stop_child(self, child: Child) -> bool:
        process = child.process
        if process.poll() is None:
            self.note(f"stopping {child.name}")
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while process.poll() is None and time.monotonic() < deadline and not self._hurry.is_set():
            self._hurry.wait(POLL_S)
        clean = process.poll() is not None
        if not clean:
            self.say(child.name, f"did not stop within {self.grace_s:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # What the child left in its group was killed above; wait until the kernel has let
        # go of it too, so that when `forge up` exits nothing of the service is left.
        deadline = time.monotonic() + GROUP_EXIT_S
        while group_exists(process.pid) and time.monotonic() < deadline:
            time.sleep(POLL_S / 2)
        return clean


def group_exists(pgid: int) -> bool:
    """Whether any process is still in the process group `pgid` (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False
