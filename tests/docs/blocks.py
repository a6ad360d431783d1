"""Reading a doc's code blocks and running its shell blocks the way a reader pastes them.

A doc is Markdown with fenced blocks. The ones the tests care about:

- ```sh: commands a reader runs, in order, in one shell. ```sh fails: they must fail. A shell
  block that cannot run on a development machine (it runs until Ctrl-C, needs Docker or other
  machines, or rewrites the repository) is preceded by a line
  `<!-- not run here: why -->`, which the rendered page does not show;
- ```text and ```json right after a shell block: what it printed, as checked below;
- any block whose info string has `file=PATH` (```toml file=plugin/pyproject.toml): a file the
  reader creates with that content before running the commands.

What a command printed is compared with the output block that follows it:

- ```text: each line of the doc appears in what the command printed, in the same order
  (surrounding spaces ignored), so a doc may show a few lines of a long answer;
- ```json: one or more JSON messages. Each must match a message the command printed, in the
  same order: its keys there with the same kind of value, and the same value except where it
  differs from run to run (ids, times, sizes, hashes, float metrics).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!-- not run here: (.+?) -->\s*$")
SHELLS = frozenset({"sh", "bash", "shell", "console", "zsh"})
# Values that differ in every run; their keys must be there all the same.
VOLATILE = {
    "experiment_id",
    "sweep_id",
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
    "expires_in",
}
# The project's virtual environment: what `make install` made in the reader's clone.
VENV = Path(sys.prefix)


@dataclass(frozen=True)
class Block:
    """A fenced block: its language, the rest of its info string, its text, and whether (and
    why) it is marked as not run here."""

    kind: str
    info: str
    body: str
    line: int
    not_run: str | None = None

    @property
    def file(self) -> str | None:
        """The file a reader writes this block into, from `file=PATH` in the info string."""
        match = re.search(r"\bfile=(\S+)", self.info)
        return match[1] if match else None


@dataclass
class Step:
    """A shell block to run and the output block after it, if any."""

    number: int
    command: str
    fails: bool
    line: int = 0
    output_kind: str | None = None
    output: str = ""


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NOT_RUN.search(before)
        line = text.count("\n", 0, match.start()) + 1
        kind, info, body = match.groups()
        found.append(Block(kind, info, body, line, marker[1] if marker else None))
    return found


def steps(doc: Path) -> list[Step]:
    """The doc's shell blocks to run, in order, each with the output block right after it."""
    found: list[Step] = []
    previous: Block | None = None
    for block in blocks(doc):
        if block.kind in SHELLS and block.not_run is None:
            fails = "fails" in block.info.split()
            found.append(Step(len(found) + 1, block.body, fails, block.line))
        elif (
            block.kind in ("text", "json")
            and found
            and previous is not None
            and previous.line == found[-1].line
        ):
            found[-1].output_kind, found[-1].output = block.kind, block.body
        previous = block
    return found


def write_files(doc: Path, folder: Path) -> list[Path]:
    """Write the doc's `file=` blocks under `folder`, as the reader would; the files."""
    written = []
    for block in blocks(doc):
        if block.file is not None:
            path = folder / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body)
            written.append(path)
    return written


def without_the_venv(path: str) -> str:
    """The PATH `path` without the project's virtual environment, as a new shell has it."""
    return os.pathsep.join(p for p in path.split(os.pathsep) if Path(p) != VENV / "bin")


def script(all_steps: list[Step]) -> str:
    """One bash script running every step, each one's output between markers."""
    # No pipefail, as in a reader's shell: `| grep -m 1` may cut a command off on purpose.
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


def assert_printed_as_shown(step: Step, printed: str) -> None:
    if step.output_kind == "text":
        assert_lines_in_order(step.output, printed)
    elif step.output_kind == "json":
        assert_messages_match(step.output, printed)


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
