"""docs/grpcurl.md, run: every ```sh block, with the real grpcurl, against a live scheduler.

The blocks run in order in one bash process, so the variables one defines (`FORGE`, `TOKEN`,
`ID`) are there for the next, as for a reader typing them, in a folder that stands for the
reader's clone: its `.venv` is the project's virtual environment. The doc's own first block
reads `FORGE` (kept when set, so it is set to the test scheduler's address here) and the
password (`read`, answered on stdin). A block tagged ```sh fails must exit non-zero, and what
each block printed is compared with the output block that follows it (`tests.docs.blocks`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs import blocks
from tests.docs.blocks import (
    VENV,
    Step,
    assert_printed_as_shown,
    script,
    split_outputs,
    without_the_venv,
)
from tests.stack import ADMIN_PASSWORD
from tests.stack_thread import LiveStack, stack_in_thread

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpcurl.md"
GRPCURL = Path(sys.executable).parent / "grpcurl"


def steps() -> list[Step]:
    return blocks.steps(DOC)


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
    # grpcurl is on the PATH once the doc has activated the virtual environment.
    env = {**os.environ, "FORGE": live.address, "PATH": without_the_venv(os.environ["PATH"])}
    folder = tmp_path_factory.mktemp("reader")
    # The reader's clone: the doc activates its virtual environment, this one.
    (folder / ".venv").symlink_to(VENV)
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
    assert_printed_as_shown(step, run_doc.outputs[step.number])


def test_the_report_arrives_whole(run_doc: Reading) -> None:
    text = (run_doc.folder / "report.md").read_text()
    assert text.startswith("# Run report: weather_forecaster")
    assert "completed" in text
