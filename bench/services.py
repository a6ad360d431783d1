"""The services the platform benchmark measures: a real `forge up`, on free ports, in a temp folder.

Nothing is started in the benchmark's own process: `forge up` starts the bundled nats-server,
the scheduler, one trainer and the gateway as their own processes, as a user runs them, so
each has its own interpreter and the benchmark's clients compete with them only for cores.
The `bench_ticker` pipeline (`bench.ticker`) is registered under `forge.pipelines` by a
`.dist-info` folder on the trainer's `PYTHONPATH`, the way the tests register their probe.

`database` is `sqlite` (the default file in the data folder) or `postgres`: a fresh schema in
the development machine's Postgres (`127.0.0.1:5432`, database `test`), dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.ticker import ENTRY_POINT, NAME

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
ADMIN_PASSWORD = "bench-admin-password"
READER_PASSWORD = "bench-reader-password"
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Services:
    """A running `forge up` and how to reach it."""

    gateway_port: int
    nats_port: int
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def nats_reader_url(self) -> str:
        return f"nats://forge-reader:{READER_PASSWORD}@127.0.0.1:{self.nats_port}"

    def pid_of(self, service: str) -> int:
        """The process id of one service (`gateway`, `scheduler`, `trainer`) under `forge up`."""
        for pid in _descendants(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"forge_cli.main" in command and service.encode() in command:
                return pid
        raise LookupError(f"no {service} process under forge up (pid {self.process.pid})")

    def wait_until_idle(self, service: str, quiet_s: float = 0.5, timeout_s: float = 60.0) -> None:
        """Until a service and its children (a trainer's job processes) use no CPU for `quiet_s`.

        A trainer starts its next job process ahead of the job, and that process imports the
        engine and every pipeline: a submit made meanwhile measures that, not a ready trainer.
        """
        root = self.pid_of(service)
        deadline = time.monotonic() + timeout_s
        used = _cpu_ticks([root, *_descendants(root)])
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = _cpu_ticks([root, *_descendants(root)])
            if now - used <= 1:  # a tick of housekeeping (heartbeats) is idle
                return
            used = now

    def rss_bytes(self, service: str) -> int:
        """The resident memory of one service, from /proc."""
        for line in Path(f"/proc/{self.pid_of(service)}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise LookupError("no VmRSS line")


@contextmanager
def running_services(database: str = "sqlite", slots: int = 8) -> Iterator[Services]:
    """`forge up` with `slots` trainer slots on `database`, until the block ends.

    Ready when the gateway reaches the scheduler; the trainer may still be registering
    (`bench.platform` waits for the ticker pipeline to be listed).
    """
    with (
        tempfile.TemporaryDirectory(prefix="forge-bench-") as folder,
        _database(database, Path(folder)) as database_url,
    ):
        data_dir = Path(folder) / "data"
        site = _register_ticker(Path(folder) / "site")
        gateway_port, nats_port, scheduler_port = _free_port(), _free_port(), _free_port()
        env = {
            **os.environ,
            "FORGE_DATA_DIR": str(data_dir),
            "FORGE_DATABASE_URL": database_url,
            "FORGE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "FORGE_NATS_READER_PASSWORD": READER_PASSWORD,
            "FORGE_TRAINER_SLOTS": str(slots),
            "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        env.pop("FORGE_NATS_URL", None)
        log = (Path(folder) / "forge-up.log").open("wb")
        command = [sys.executable, "-m", "forge_cli.main", "up", "--nats-port", str(nats_port)]
        command += ["--gateway-port", str(gateway_port), "--scheduler-port", str(scheduler_port)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        services = Services(gateway_port, nats_port, data_dir, process)
        try:
            _wait_until_ready(services, Path(folder) / "forge-up.log")
            yield services
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _register_ticker(site: Path) -> Path:
    dist_info = site / "forge_bench_ticker-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: forge-bench-ticker\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[forge.pipelines]\n{NAME} = {ENTRY_POINT}\n")
    return site


@contextmanager
def _database(database: str, folder: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{folder / 'forge.db'}"
        return
    if database != "postgres":
        raise ValueError(f"database must be sqlite or postgres, not {database!r}")
    from sqlalchemy import create_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def _wait_until_ready(services: Services, log: Path) -> None:
    """Until the gateway answers and reaches the scheduler (`/healthz`)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if services.process.poll() is not None:
            raise RuntimeError(f"forge up exited with {services.process.returncode}: see {log}")
        try:
            with urllib.request.urlopen(f"{services.gateway}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"forge up was not ready within {START_TIMEOUT_S:g} s: {log.read_text()}")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            pending.append(child)
    return found


def _cpu_ticks(pids: list[int]) -> int:
    """User and system CPU time of `pids`, in clock ticks, from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
