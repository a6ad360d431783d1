"""Child processes for `forge up`: start them, prefix their output, wait until ready, stop them.

`forge up` runs several long-lived services from one terminal, the way `docker compose up` or
foreman do, and this module is the part that knows about processes and nothing about forge:

- Each child runs in its own process group. Ctrl-C in the terminal then reaches `forge up`
  alone, which stops the children in the order it chooses (trainers before the scheduler before
  NATS) instead of all of them at once; and killing the group at the end also takes whatever a
  child started itself (a trainer's training processes), so nothing is left behind.
- stdout and stderr of a child are read line by line by one thread per child and written out
  as ``name | line``, names padded to one width, coloured only on a terminal (and never with
  ``NO_COLOR`` set). Watchers may look at every line (a test waits on a line this way).
- Readiness is a condition polled until it holds, so a slow machine only makes it take longer;
  a child that exits while anything waits ends the wait with `ServiceExited`.
- Once everything is up, `run_until_stopped` supervises: a child that exits is started again
  with the same command, after a backoff that doubles from `RestartPolicy.first_delay_s`, and
  what is left of its group is killed first. A child that dies `RestartPolicy.deaths` times
  within `RestartPolicy.window_s` keeps dying for a reason a restart will not fix, so
  `ServiceExited` ends the supervision and `forge up` stops everything.
- `stop` asks each child to stop with SIGTERM, waits a grace period, then kills its group;
  the last started first, or in the order given. A second stop request (a second Ctrl-C)
  skips the grace period.
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


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that died is started again, and when its deaths mean giving up."""

    deaths: int = 5
    window_s: float = 60.0
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay_s(self, recent_deaths: int) -> float:
        """The wait before the restart that follows the `recent_deaths`-th death (from 1)."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** (recent_deaths - 1))


@dataclass
class Child:
    """One started service: its process, how to start it again, who wants to see its lines."""

    name: str
    process: subprocess.Popen[bytes]
    argv: list[str]
    env: dict[str, str]
    watchers: list[LineWatcher] = field(default_factory=list)
    reader: threading.Thread | None = None
    # Monotonic times of its recent deaths, and when it is due to start again after one.
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None

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
        restarts: RestartPolicy = RestartPolicy(),
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.colour = use_colour(self.out) if colour is None else colour
        self.grace_s = grace_s
        self.name_width = name_width
        self.restarts = restarts
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
        child = Child(name, _spawn(argv, env), list(argv), dict(env), list(watchers))
        self.children.append(child)
        self._read(child)
        return child

    def _read(self, child: Child) -> None:
        stream = child.process.stdout
        assert stream is not None
        child.reader = threading.Thread(
            target=self._relay, args=(child, stream), name=f"relay-{child.name}", daemon=True
        )
        child.reader.start()

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
        """Supervise until a stop is requested (returns) or a child keeps dying (`ServiceExited`).

        A child that exits is started again after a backoff (see the module docstring).
        """
        while not self._stop.is_set():
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is None:
                    returncode = child.process.poll()
                    if returncode is not None:
                        self._died(child, returncode, now)
                elif now >= child.restart_at:
                    self._restart(child)
            self._stop.wait(POLL_S * 2)

    def _died(self, child: Child, returncode: int, now: float) -> None:
        """Plan the restart of a child that exited, or give up on one that keeps exiting."""
        policy = self.restarts
        child.deaths = [at for at in child.deaths if now - at < policy.window_s] + [now]
        if len(child.deaths) >= policy.deaths:
            error = ServiceExited(child.name, returncode)
            error.add_note(f"it died {len(child.deaths)} times within {policy.window_s:.0f} s")
            raise error
        delay = policy.delay_s(len(child.deaths))
        self.note(
            f"{child.name} exited unexpectedly with {describe_exit(returncode)}; restarting it "
            f"in {delay:.1f} s ({len(child.deaths)} of {policy.deaths} deaths allowed within "
            f"{policy.window_s:.0f} s)"
        )
        child.restart_at = now + delay

    def _restart(self, child: Child) -> None:
        # What the dead child started (a trainer's training processes) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        if child.reader is not None:
            child.reader.join(timeout=5)
        child.process = _spawn(child.argv, child.env)
        child.restart_at = None
        self._read(child)
        self.note(f"restarted {child.name} (pid {child.pid})")

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

    def stop(self, order: Sequence[str] = ()) -> bool:
        """Stop every child; whether each stopped within its grace.

        The children named in `order` stop first, in that order, then the rest, the last
        started first. The group of each child is killed afterwards either way, which takes
        any process the child left behind.
        """
        self._stop.set()
        clean = True
        named = {child.name: child for child in self.children}
        first = [named[name] for name in order if name in named]
        rest = [child for child in reversed(self.children) if child not in first]
        for child in first + rest:
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


def _spawn(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `argv` in a new process group, with its stdout and stderr on one pipe."""
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        process_group=0,
    )


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
