"""docs/grpcurl.md, run: every ```sh block, with the real grpcurl, against a live scheduler.

The blocks run in order in one bash process, so the variables one defines (`FORGE`, `TOKEN`,
`ID`) are there for the next, as for a reader typing them. The doc's own first block reads
`FORGE` (kept when set, so it is set to the test scheduler's address here) and the password
(`read`, answered on stdin). A block tagged ```sh fails must exit non-zero.

What a block printed is compared with the output block that follows it in the doc:

- ```text: each line of the doc appears in what the command printed, in the same order
  (surrounding spaces ignored), so a doc may show a few lines of a long answer;
- ```json: one or more JSON messages, as grpcurl prints them. Each must match a message the
  command printed, in the same order: its keys there with the same kind of value, and the same
  value except where it differs from run to run (ids, times, sizes, hashes, float metrics).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stack import ADMIN_PASSWORD
from tests.stack_thread import LiveStack, stack_in_thread

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpcurl.md"
GRPCURL = Path(sys.executable).parent / "grpcurl"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Values that differ in every run; their keys must be there all the same.
VOLATILE = {
    "experiment_id",
    "user_id",
    "seq",
    "last_seq",
    "emitted_at",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "expires_at",
    "sha256",
    "size_bytes",
    "access_token",
}


@dataclass
class Step:
    """A ```sh block of the doc and the output block after it, if any."""

    number: int
    command: str
    fails: bool
    output_kind: str | None = None
    output: str = ""


def steps() -> list[Step]:
    found: list[Step] = []
    for kind, info, body in FENCE.findall(DOC.read_text()):
        if kind == "sh":
            found.append(Step(len(found) + 1, body, fails="fails" in info.split()))
        elif kind in ("text", "json") and found and found[-1].output_kind is None:
            found[-1].output_kind, found[-1].output = kind, body
    return found


def script(all_steps: list[Step]) -> str:
    """One bash script running every step, each one's output between markers."""
    # No pipefail, as in a reader's shell: `| grep -m 1` may cut grpcurl off on purpose.
    parts = ["set -eu"]
    for step in all_steps:
        parts.append(f"printf '\\n@@step {step.number}@@\\n'")
        if step.fails:
            parts.append(f"if {{\n{step.command}}} 2>&1; then exit 99; fi")
        else:
            parts.append(f"{{\n{step.command}}} 2>&1")
    parts.append("printf '\\n@@end@@\\n'")
    return "\n".join(parts) + "\n"


def split_outputs(stdout: str) -> dict[int, str]:
    outputs: dict[int, str] = {}
    pieces = re.split(r"\n@@(step \d+|end)@@\n", stdout)
    for marker, text in zip(pieces[1::2], pieces[2::2], strict=True):
        if marker.startswith("step "):
            outputs[int(marker.split()[1])] = text
    return outputs


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> Iterator[LiveStack]:
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url) as stack:
        yield stack


@dataclass
class Reading:
    """What each step printed, and the folder the reader ran the doc in."""

    outputs: dict[int, str]
    folder: Path


@pytest.fixture(scope="module")
def run_doc(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> Reading:
    """Run the whole doc once, as a reader would."""
    assert GRPCURL.exists(), f"{GRPCURL} is missing: `make install` installs grpcurl"
    all_steps = steps()
    env = {
        **os.environ,
        "FORGE": live.address,
        "PATH": f"{GRPCURL.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    folder = tmp_path_factory.mktemp("reader")
    result = subprocess.run(
        ["bash", "-c", script(all_steps)],
        input=f"{ADMIN_PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=600,
    )
    outputs = split_outputs(result.stdout)
    if result.returncode != 0:
        number = max(outputs, default=0)
        failed = next((s for s in all_steps if s.number == number), None)
        pytest.fail(
            f"step {number} of {DOC.name} failed with status {result.returncode}:\n"
            f"{failed.command if failed else ''}\nit printed:\n{outputs.get(number, '')}\n"
            f"stderr:\n{result.stderr}"
        )
    assert "@@end@@" in result.stdout
    return Reading(outputs, folder)


def test_the_doc_has_the_steps_a_reader_needs() -> None:
    commands = "\n".join(step.command for step in steps())
    for call in (
        "AuthService/Login",
        "SchedulerService/SubmitExperiment",
        "SchedulerService/WatchExperiment",
        "SchedulerService/GetArtifact",
    ):
        assert call in commands, f"{DOC.name} never calls {call}"
    assert all(step.output_kind for step in steps()[2:]), "every call shows what it prints"


@pytest.mark.parametrize("step", steps(), ids=lambda step: f"step-{step.number}")
def test_each_command_prints_what_the_doc_shows(step: Step, run_doc: Reading) -> None:
    printed = run_doc.outputs[step.number]
    if step.output_kind == "text":
        assert_lines_in_order(step.output, printed)
    elif step.output_kind == "json":
        assert_messages_match(step.output, printed)


def test_the_report_arrives_whole(run_doc: Reading) -> None:
    text = (run_doc.folder / "report.md").read_text()
    assert text.startswith("# Run report: weather_forecaster")
    assert "completed" in text


def assert_lines_in_order(documented: str, printed: str) -> None:
    actual = [line.strip() for line in printed.splitlines()]
    at = 0
    for line in (line.strip() for line in documented.splitlines()):
        try:
            at = actual.index(line, at) + 1
        except ValueError:
            pytest.fail(f"the doc shows {line!r}, which is not in what it printed:\n{printed}")


def assert_messages_match(documented: str, printed: str) -> None:
    actual = messages(printed)
    at = 0
    for expected in messages(documented):
        while at < len(actual) and not matches(expected, actual[at]):
            at += 1
        if at == len(actual):
            pytest.fail(
                f"no message like this one of the doc, in order:\n"
                f"{json.dumps(expected, indent=2)}\nit printed:\n{printed}"
            )
        at += 1


def messages(text: str) -> list[Any]:
    """The JSON values printed one after another, as grpcurl prints a stream."""
    decoder = json.JSONDecoder()
    values, at = [], 0
    while (at := text.find("{", at)) >= 0:
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def matches(expected: Any, actual: Any, key: str = "") -> bool:
    """Whether `actual` has everything `expected` has (see the module docstring)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            name in actual and matches(value, actual[name], name)
            for name, value in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(matches(item, candidate, key) for candidate in actual) for item in expected
        )
    if isinstance(expected, float) and not isinstance(expected, bool):
        # A measurement: any number will do (JSON may print a whole one without a point).
        return isinstance(actual, int | float) and not isinstance(actual, bool)
    if type(expected) is not type(actual):
        return False
    return key in VOLATILE or bool(expected == actual)
