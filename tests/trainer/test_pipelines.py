"""Pipelines installed while the services run: found, announced and run, with no restart.

`forge trainer` runs as a process from a virtual environment of its own (`tests.venvs`), and
the tiny plugin of `tests/forge_learner/plugins/` is installed into it with pip while it runs,
as a user would. `forge scheduler` runs from the project's environment, where the plugin is
not installed and cannot be imported: it learns the pipeline and its schema from the trainer
alone.

- `pip install -e`, the trainer scanning on SIGHUP only: the scheduler refuses the pipeline
  before the install and still after it (the scheduler looks at no environment); SIGHUP makes
  the trainer find it and register again, announcing its schema; the scheduler then checks a
  submission against that schema, naming a bad field, and the experiment SUCCEEDS;
- a regular `pip install`, the trainer scanning every second: found with no signal, announced,
  and an experiment of it SUCCEEDS with no warning.

`OfferedPipelines` on its own: it logs what changed, once.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from forge_cli.up import free_port
from forge_learner.registry import Discovery
from tests.faults import PASSWORD, SUCCEEDED, Client
from tests.processes import Output
from tests.trainer.probe import TrainerProbe
from tests.venvs import layered_venv, pip_install
from trainer.pipelines import OfferedPipelines

pytestmark = pytest.mark.timeout(600)

PLUGIN = Path(__file__).parents[1] / "forge_learner" / "plugins" / "tiny_forge_plugin"
TINY = "tiny_regression"
SERVING = re.compile(r"scheduler serving on port ")
REGISTERED = re.compile(r"registered with the scheduler at ")
FOUND = re.compile(rf"pipelines changed \(new: {TINY}\); offering .*{TINY}")
NO_TRAINER = f"no live trainer runs pipeline {TINY!r}"


class Services:
    """`forge scheduler` run by the project's Python and one `forge trainer` run by `python`;
    killed at the end."""

    def __init__(self, python: Path, folder: Path, nats_url: str) -> None:
        self.python = python
        self.env = {
            **os.environ,
            "FORGE_DATA_DIR": str(folder / "var"),
            "FORGE_DATABASE_URL": f"sqlite:///{folder / 'forge.db'}",
            "FORGE_NATS_URL": nats_url,
            "FORGE_ADMIN_PASSWORD": PASSWORD,
            "FORGE_CLUSTER_TOKEN": "pipelines-cluster-token",
            "FORGE_TRAINER_HEARTBEAT_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("PYTHONPATH", None)  # nothing but what is installed in the environment
        self.running: list[tuple[subprocess.Popen[str], Output]] = []
        self.address = f"127.0.0.1:{free_port()}"

    def start(
        self, *args: str, python: Path | None = None, **env: str
    ) -> tuple[subprocess.Popen[str], Output]:
        process = subprocess.Popen(
            [str(python or self.python), "-m", "forge_cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**self.env, **env},
        )
        self.running.append((process, Output(process)))
        return self.running[-1]

    def up(self, scan_seconds: int) -> tuple[subprocess.Popen[str], Output]:
        """The scheduler, then a trainer scanning every `scan_seconds`; the trainer."""
        port = self.address.rpartition(":")[2]
        _, scheduler = self.start(
            *("scheduler", "--port", port, "--host", "127.0.0.1"), python=Path(sys.executable)
        )
        scheduler.wait_for(SERVING)
        trainer = self.start(
            *("trainer", "--scheduler", self.address, "--port", "0", "--host", "127.0.0.1"),
            *("--id", "trainer-a", "--advertise", "127.0.0.1"),
            FORGE_TRAINER_PIPELINE_SCAN_SECONDS=str(scan_seconds),
        )
        trainer[1].wait_for(REGISTERED)
        return trainer

    def close(self) -> None:
        for process, output in self.running:
            if process.poll() is None:
                process.kill()
            process.wait()
            output.close()


@pytest.fixture
def python(tmp_path: Path) -> Path:
    return layered_venv(tmp_path / "env")


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """The plugin's source, copied: pip builds in place."""
    source = tmp_path / "tiny-forge-plugin"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


@pytest.fixture
def services(python: Path, tmp_path: Path, nats_url: str) -> Iterator[Services]:
    running = Services(python, tmp_path, nats_url)
    try:
        yield running
    finally:
        running.close()


def test_a_plugin_installed_on_the_trainer_alone_is_announced_and_runs(
    services: Services, python: Path, plugin: Path
) -> None:
    trainer, trainer_output = services.up(scan_seconds=0)
    client = Client(services.address)
    with pytest.raises(grpc.RpcError) as before:
        client.submit({"epochs": 2}, pipeline=TINY)

    installed = pip_install(python, "-e", str(plugin))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    with pytest.raises(grpc.RpcError) as unannounced:
        client.submit({"epochs": 2}, pipeline=TINY)
    os.kill(trainer.pid, signal.SIGHUP)
    trainer_output.wait_for(FOUND)
    trainer_output.wait_for(REGISTERED, count=2)
    with pytest.raises(grpc.RpcError) as invalid:
        client.submit({"samples": 2}, pipeline=TINY)
    experiment_id = client.submit({"epochs": 2}, pipeline=TINY)
    final = client.finished(experiment_id)

    for refused in (before, unannounced):
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"unknown pipeline {TINY!r}" in str(refused.value.details())
    # The trainer's schema, which only the trainer's environment can build.
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "samples: must be at least 8, got 2" in str(invalid.value.details())
    assert not scheduler_can_import("tiny_forge_plugin")
    assert final.status == SUCCEEDED, final.error_message
    assert [attempt.trainer_id for attempt in final.attempts] == ["trainer-a"]
    assert final.config["samples"] == 64  # the default the trainer's schema gives
    assert "report.md" in {artifact.name for artifact in final.artifacts}
    logged = [event.log_line.message for event in client.events if event.HasField("log_line")]
    assert not [message for message in logged if NO_TRAINER in message]


def scheduler_can_import(module: str) -> bool:
    """Whether the scheduler's Python (the project's) finds `module`."""
    found = subprocess.run(
        [sys.executable, "-c", f"import importlib.util as u; print(u.find_spec({module!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip() != "None"


def test_a_regular_install_is_found_by_the_periodic_scan(
    services: Services, python: Path, plugin: Path
) -> None:
    _, trainer_output = services.up(scan_seconds=1)
    client = Client(services.address)

    installed = pip_install(python, str(plugin))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    trainer_output.wait_for(FOUND)
    trainer_output.wait_for(REGISTERED, count=2)
    experiment_id = client.submit({"epochs": 2}, pipeline=TINY)
    final = client.finished(experiment_id)

    assert final.status == SUCCEEDED, final.error_message
    logged = [event.log_line.message for event in client.events if event.HasField("log_line")]
    assert not [message for message in logged if NO_TRAINER in message]


def test_what_changed_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    offered = OfferedPipelines()
    broken = {"b": "ImportError: no"}
    with caplog.at_level(logging.INFO, logger="trainer.pipelines"):
        first = offered.apply(Discovery({"a": TrainerProbe}, broken))
        same = offered.apply(Discovery({"a": TrainerProbe}, broken))
        grown = offered.apply(Discovery({"a": TrainerProbe, "c": TrainerProbe}, {"b": "other"}))
        shrunk = offered.apply(Discovery({"c": TrainerProbe}, {}))

    assert (first, same, grown, shrunk) == (False, False, True, True)
    assert offered.names == ("c",)
    assert offered.changed.is_set()
    assert [record.getMessage() for record in caplog.records] == [
        "pipeline plugin 'b' is broken: other",
        "pipelines changed (new: c); offering a, c",
        "pipelines changed (gone: a); offering c",
    ]
