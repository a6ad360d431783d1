"""Every shell block of the docs runs as a reader pastes it, or says why it cannot run here.

Each doc's ```sh blocks run in order in one bash process, in a folder that stands for the
reader's clone after `make install`, and what each printed is compared with the output block
under it (`tests.docs.blocks`). A block that cannot run on a development machine is marked
`<!-- not run here: why -->`; `test_every_shell_block_runs_or_says_why_not` fails for a block
that is neither run nor marked, so a new one cannot drift unseen. What each doc runs against:

- docs/running.md and README.md: a live scheduler and trainer (`tests.stack_thread`), the
  clone's `.venv` being the project's virtual environment. `FORGE_SCHEDULER_ADDR` points the
  commands at the stack, as `forge up`'s default port would, and stdin answers `forge login`.
  The PATH has no virtual environment on it, so a command must say `.venv/bin/forge`;
- docs/api.md: the same stack behind a real `forge gateway`, which `API` names;
- docs/pipelines.md: a virtual environment of its own as the clone's `.venv`, layered on the
  project's (`tests.venvs`), with `pip` and `forge`: the plugin the doc writes (its `file=`
  blocks) is installed there for real, with build isolation, as a reader's pip would;
- docs/grpcurl.md: `tests/docs/test_grpcurl.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_cli.up import free_port
from scheduler.submissions import no_trainer_notice
from tests.docs.blocks import (
    SHELLS,
    VENV,
    assert_printed_as_shown,
    blocks,
    script,
    split_outputs,
    steps,
    without_the_venv,
    write_files,
)
from tests.stack import ADMIN_PASSWORD, WAIT_S
from tests.stack_thread import LiveStack, stack_in_thread
from tests.venvs import add_commands, layered_venv
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
RUN_HERE = {"running.md", "README.md", "api.md", "pipelines.md"}
RUN_ELSEWHERE = {"grpcurl.md": "tests/docs/test_grpcurl.py"}
PLUGIN = ROOT / "tests" / "forge_learner" / "plugins" / "tiny_forge_plugin"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_shell_block_runs_or_says_why_not(doc: Path) -> None:
    unrun = [
        f"{doc.name}:{block.line}: ```{block.kind}"
        for block in blocks(doc)
        if block.kind in SHELLS
        and block.not_run is None
        and (block.kind != "sh" or doc.name not in RUN_HERE | set(RUN_ELSEWHERE))
    ]
    assert unrun == [], (
        "run these blocks (as ```sh, in a doc this test or test_grpcurl.py runs), or mark each "
        "with <!-- not run here: why --> on the line before"
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> Iterator[LiveStack]:
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url) as stack:
        yield stack


@pytest.fixture(scope="module")
def gateway(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `forge gateway` in front of the live scheduler; its API's URL."""
    port = free_port()
    args = ["gateway", "--host", "127.0.0.1", "--port", str(port), "--scheduler", live.address]
    env = {**os.environ, "FORGE_DATA_DIR": str(tmp_path_factory.mktemp("gateway"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "forge_cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(process, port)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        process.terminate()
        process.wait(30)


def wait_for_port(process: subprocess.Popen[bytes], port: int) -> None:

    def listening() -> bool:
        assert process.poll() is None, f"the gateway exited with {process.returncode}"
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True

    wait_until(listening, WAIT_S, f"the gateway to listen on port {port}", interval=0.1)


def clone(folder: Path, venv: Path = VENV) -> Path:
    """A folder standing for the reader's clone, with `venv` as its `.venv`."""
    folder.mkdir(parents=True, exist_ok=True)
    if venv != folder / ".venv":
        (folder / ".venv").symlink_to(venv)
    return folder


def reader_env(folder: Path, **settings: str) -> dict[str, str]:
    """A reader's shell: no virtual environment on the PATH, nothing of theirs saved yet."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORGE_")}
    env.update(
        PATH=without_the_venv(os.environ["PATH"]),
        FORGE_DATA_DIR=str(folder / "var"),
        XDG_CONFIG_HOME=str(folder / "config"),
        NO_COLOR="1",
        **settings,
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def read(doc: Path, folder: Path, env: dict[str, str], answers: str = "") -> dict[int, str]:
    """Run the doc's shell blocks in `folder` as a reader would, answering prompts with
    `answers`; check what each printed; what each printed."""
    all_steps = steps(doc)
    write_files(doc, folder)
    result = subprocess.run(
        ["bash", "-c", script(all_steps)],
        input=answers,
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=540,
        # No terminal: a password prompt reads stdin, never a developer's terminal.
        start_new_session=True,
    )
    outputs = split_outputs(result.stdout)
    if result.returncode != 0:
        number = max(outputs, default=0)
        failed = next((s for s in all_steps if s.number == number), None)
        pytest.fail(
            f"the block at {doc.name}:{failed.line if failed else '?'} failed with status "
            f"{result.returncode}:\n{failed.command if failed else ''}\nit printed:\n"
            f"{outputs.get(number, '')}\nstderr:\n{result.stderr}"
        )
    assert "@@end@@" in result.stdout
    for step in all_steps:
        assert_printed_as_shown(step, outputs[step.number])
    return outputs


def test_running_md_as_a_reader_pastes_it(live: LiveStack, tmp_path: Path) -> None:
    folder = clone(tmp_path / "clone")
    env = reader_env(folder, FORGE_SCHEDULER_ADDR=live.address)

    read(ROOT / "docs" / "running.md", folder, env, answers=f"admin\n{ADMIN_PASSWORD}\n")

    assert (folder / "report.md").read_text().startswith("# Run report: weather_forecaster")
    assert (folder / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_the_readme_as_a_reader_pastes_it(live: LiveStack, tmp_path: Path) -> None:
    folder = clone(tmp_path / "clone")
    env = reader_env(folder, FORGE_SCHEDULER_ADDR=live.address)

    outputs = read(ROOT / "README.md", folder, env, answers=f"{ADMIN_PASSWORD}\n")

    assert "SUCCEEDED" in outputs[max(outputs)]


def test_api_md_as_a_reader_pastes_it(gateway: str, tmp_path: Path) -> None:
    folder = clone(tmp_path / "clone")

    read(ROOT / "docs" / "api.md", folder, reader_env(folder, API=gateway), f"{ADMIN_PASSWORD}\n")


def test_pipelines_md_as_a_reader_pastes_it(tmp_path: Path) -> None:
    folder = tmp_path / "clone"
    python = layered_venv(folder / ".venv")
    add_commands(python)

    outputs = read(ROOT / "docs" / "pipelines.md", folder, reader_env(folder))

    assert "tiny_regression" in outputs[2]
    assert "Report: " in outputs[max(outputs)]


def test_the_plugin_in_pipelines_md_is_the_one_the_tests_install() -> None:
    doc = ROOT / "docs" / "pipelines.md"
    files = {block.file: block.body for block in blocks(doc) if block.file is not None}

    assert files == {
        "tiny-forge-plugin/pyproject.toml": (PLUGIN / "pyproject.toml").read_text(),
        "tiny-forge-plugin/tiny_forge_plugin.py": (PLUGIN / "tiny_forge_plugin.py").read_text(),
    }


def test_the_warning_pipelines_md_shows_is_the_schedulers() -> None:
    doc = (ROOT / "docs" / "pipelines.md").read_text()

    assert f"> warning: {no_trainer_notice('tiny_regression', [])}\n" in doc
