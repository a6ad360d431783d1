"""The process supervision behind `forge up`, on small Python children."""

from __future__ import annotations

import io
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_cli.supervisor import (
    RestartPolicy,
    ServiceExited,
    StopRequested,
    Supervisor,
    describe_exit,
)
from tests.waiting import wait_until

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


# Prints a line, says when SIGTERM arrives, and exits 0 on it.
POLITE = python(
    """
    import signal, sys, time
    print("hello", flush=True)
    def stop(signum, frame):
        print("got SIGTERM", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    while True:
        time.sleep(0.05)
    """
)
# Ignores SIGTERM, so only the kill after the grace period ends it.
STUBBORN = python(
    """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    while True:
        time.sleep(0.05)
    """
)


@pytest.fixture
def supervisor() -> Iterator[tuple[Supervisor, io.StringIO]]:
    out = io.StringIO()
    supervisor = Supervisor(out, colour=False, grace_s=5)
    try:
        yield supervisor, out
    finally:
        supervisor.request_stop()
        supervisor.request_stop()  # no grace: whatever a failed test left is killed at once
        supervisor.stop()


def lines_of(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_lines_are_prefixed_and_watchers_see_them(supervisor) -> None:
    supervisor, out = supervisor
    seen: list[str] = []
    supervisor.start("polite", POLITE, ENV, watchers=[seen.append])

    supervisor.wait_until(lambda: "hello" in seen, 60, "the greeting")

    assert "polite    | hello" in lines_of(out)


def test_stop_goes_in_reverse_start_order_and_each_child_gets_sigterm(supervisor) -> None:
    supervisor, out = supervisor
    first = supervisor.start("first", POLITE, ENV)
    second = supervisor.start("second", POLITE, ENV)
    supervisor.wait_until(lambda: out.getvalue().count("hello") == 2, 60, "both greetings")

    assert supervisor.stop() is True

    lines = lines_of(out)
    assert lines.index("up        | stopping second") < lines.index("up        | stopping first")
    assert "first     | got SIGTERM" in lines and "second    | got SIGTERM" in lines
    assert first.process.returncode == 0 and second.process.returncode == 0


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(supervisor) -> None:
    supervisor, out = supervisor
    supervisor.grace_s = 0.5
    child = supervisor.start("stubborn", STUBBORN, ENV)
    supervisor.wait_until(lambda: "ignoring" in out.getvalue(), 60, "the child's first line")

    assert supervisor.stop() is False

    assert child.process.returncode == -signal.SIGKILL
    assert "stubborn  | did not stop within 0 s; killing it" in lines_of(out)


def test_the_process_group_dies_with_the_child(supervisor, tmp_path: Path) -> None:
    supervisor, out = supervisor
    grandchild_pid = tmp_path / "grandchild.pid"
    parent = python(
        f"""
        import signal, subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(grandchild_pid)!r}, "w").write(str(grandchild.pid))
        print("started", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leaves the grandchild behind
        while True:
            time.sleep(0.05)
        """
    )
    supervisor.start("parent", parent, ENV)
    supervisor.wait_until(lambda: "started" in out.getvalue(), 60, "the grandchild")
    pid = int(grandchild_pid.read_text())

    supervisor.stop()

    wait_until(lambda: not alive(pid), 10, f"the grandchild {pid} to be gone")


def test_a_child_that_exits_ends_any_wait(supervisor) -> None:
    supervisor, _ = supervisor
    supervisor.start("short", python("import sys; sys.exit(3)"), ENV)

    with pytest.raises(ServiceExited, match="short exited unexpectedly with status 3"):
        supervisor.wait_until(lambda: False, 60, "nothing")


def test_a_child_that_dies_is_started_again_and_its_watchers_follow(
    supervisor, tmp_path: Path
) -> None:
    supervisor, out = supervisor
    supervisor.restarts = RestartPolicy(first_delay_s=0.05)
    runs = tmp_path / "runs"
    # The first run dies at once; the second one stays, and says which run it is.
    flaky = python(
        f"""
        import pathlib, sys, time
        runs = pathlib.Path({str(runs)!r})
        runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
        print(f"run {{len(runs.read_text())}}", flush=True)
        if len(runs.read_text()) == 1:
            sys.exit(3)
        while True:
            time.sleep(0.05)
        """
    )
    seen: list[str] = []
    second_run = threading.Event()

    def watch(line: str) -> None:
        seen.append(line)
        if line == "run 2":
            second_run.set()

    supervisor.start("flaky", flaky, ENV, watchers=[watch])
    supervising = threading.Thread(target=supervisor.run_until_stopped, daemon=True)
    supervising.start()

    assert second_run.wait(timeout=60)
    supervisor.request_stop()
    supervising.join(timeout=60)

    lines = lines_of(out)
    assert (
        "up        | flaky exited unexpectedly with status 3; restarting it in 0.1 s "
        "(1 of 5 deaths allowed within 60 s)" in lines
    )
    assert any(line.startswith("up        | restarted flaky (pid ") for line in lines)
    assert seen == ["run 1", "run 2"]


def test_a_child_that_keeps_dying_ends_the_supervision(supervisor) -> None:
    supervisor, out = supervisor
    supervisor.restarts = RestartPolicy(deaths=3, first_delay_s=0.01)
    supervisor.start("short", python("import sys; sys.exit(3)"), ENV)

    with pytest.raises(ServiceExited, match="short exited unexpectedly with status 3") as ended:
        supervisor.run_until_stopped()

    assert ended.value.__notes__ == ["it died 3 times within 60 s"]
    assert sum("restarted short (pid " in line for line in lines_of(out)) == 2


def test_stop_takes_the_named_children_first(supervisor) -> None:
    supervisor, out = supervisor
    for name in ("nats", "scheduler", "trainer", "gateway"):
        supervisor.start(name, POLITE, ENV)
    supervisor.wait_until(lambda: out.getvalue().count("hello") == 4, 60, "every greeting")

    assert supervisor.stop(["gateway", "scheduler"]) is True

    stops = [line.split()[-1] for line in lines_of(out) if line.startswith("up        | stopping")]
    assert stops == ["gateway", "scheduler", "trainer", "nats"]


def test_a_stop_request_ends_a_wait_and_a_timeout_names_what_was_awaited(supervisor) -> None:
    supervisor, _ = supervisor
    with pytest.raises(TimeoutError, match="the impossible did not happen within 0 s"):
        supervisor.wait_until(lambda: False, 0.2, "the impossible")

    supervisor.request_stop()

    with pytest.raises(StopRequested):
        supervisor.wait_until(lambda: False, 60, "anything")
    supervisor.run_until_stopped()  # returns at once


def test_colour_only_where_asked() -> None:
    out = io.StringIO()
    Supervisor(out, colour=True).say("nats", "ready")
    Supervisor(out, colour=False).say("nats", "ready")

    coloured, plain = lines_of(out)
    assert coloured.startswith("\x1b[") and coloured.endswith(" ready")
    assert plain == "nats      | ready"


def test_exits_are_described_in_words() -> None:
    assert describe_exit(1) == "status 1"
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
