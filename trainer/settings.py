"""The trainer's settings, from `FORGE_*` environment variables overridden by `forge trainer` flags.

Defaults suit one machine running everything (`forge up`): listen on 50052, run one experiment
at a time with every core, read the cluster token the scheduler wrote into the shared data
folder. An empty variable counts as unset, as in the scheduler's settings.

| variable | flag | default |
|---|---|---|
| `FORGE_DATA_DIR` | | `./var`; runs are written under `trainer/<trainer id>/` in it |
| `FORGE_TRAINER_HOST` | `--host` | `[::]`, every interface |
| `FORGE_TRAINER_PORT` | `--port` | `50052`; `0` picks a free port |
| `FORGE_TRAINER_ADDR` | `--advertise` | where the scheduler dials back, see `advertised_address` |
| `FORGE_TRAINER_ID` | `--id` | `<hostname>-<port>`, stable across restarts |
| `FORGE_TRAINER_SLOTS` | `--slots` | `1` experiment at a time |
| `FORGE_TRAINER_THREADS` | `--threads` | the CPU count divided among the slots |
| `FORGE_SCHEDULER_ADDR` | `--scheduler` | `127.0.0.1:$FORGE_SCHEDULER_PORT` (`50051`) |
| `FORGE_CLUSTER_TOKEN` | | read from `$FORGE_DATA_DIR/cluster-token` |
| `FORGE_CHECKPOINT_INTERVAL_SECONDS` | | `10`, the least time between two checkpoints sent |
| `FORGE_TRAINER_GRACE_SECONDS` | | `600`: how long a run nobody follows goes on |
| `FORGE_TRAINER_CANCEL_GRACE_SECONDS` | | `30`: how long a cancelled run may take to stop |
| `FORGE_TRAINER_STREAM_MEMORY_MIB` | | `64` MiB of unacknowledged items per run in memory |
| `FORGE_TRAINER_PIPELINE_SCAN_SECONDS` | | `30` s between looks for new pipelines; `0`: on SIGHUP |
| `FORGE_TLS_CERT`, `FORGE_TLS_KEY` | | unset: serve without TLS (see `azuraforge.tls`) |
| `FORGE_TLS_CA` | | unset: register with the scheduler without TLS |
| `FORGE_TLS_CLIENT_CERT`, `FORGE_TLS_CLIENT_KEY` | | `FORGE_TLS_CERT`, `FORGE_TLS_KEY` |
| `FORGE_TLS_CLIENT_CA` | | unset; set, only clients with a certificate it signed get in |

A run sends the scheduler a resume checkpoint every `checkpoint_every` epochs (its config's),
but never sooner than `FORGE_CHECKPOINT_INTERVAL_SECONDS` after the one before, so that tiny
epochs do not flood the scheduler's store; `0` sends one at every `checkpoint_every` epochs.

A run outlives its Train stream (`trainer.service`): when no scheduler follows it, it goes on
for `FORGE_TRAINER_GRACE_SECONDS`, keeping what it sends for the scheduler that attaches; past
the memory bound, in a spill file in the trainer's work folder.

Threads per job bound the BLAS and OpenMP pools of each experiment's process, so that several
slots on one machine share its cores instead of each one assuming it has all of them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azuraforge.tls import TlsSettings, TlsSettingsError

DEFAULT_PORT = 50052
DEFAULT_HOST = "[::]"
DEFAULT_CHECKPOINT_INTERVAL_S = 10
DEFAULT_GRACE_S = 600
DEFAULT_CANCEL_GRACE_S = 30
DEFAULT_STREAM_MEMORY_MIB = 64
DEFAULT_PIPELINE_SCAN_S = 30
DEFAULT_SCHEDULER_PORT = 50051
# The file the scheduler generates the token into when FORGE_CLUSTER_TOKEN is unset.
CLUSTER_TOKEN_FILE = "cluster-token"


class SettingsError(ValueError):
    """A setting holds a value the trainer cannot use; the message names it and what to do."""


@dataclass(frozen=True)
class TrainerSettings:
    """Resolved settings; build them with `load_settings`, or directly in tests."""

    cluster_token: str = field(repr=False)
    data_dir: Path = Path("var")
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    advertise: str | None = None
    trainer_id: str | None = None
    slots: int = 1
    threads: int = 1
    scheduler_address: str | None = None
    checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    grace_s: float = DEFAULT_GRACE_S
    cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S
    stream_memory_bytes: int = DEFAULT_STREAM_MEMORY_MIB * 1024 * 1024
    pipeline_scan_s: float = DEFAULT_PIPELINE_SCAN_S
    tls: TlsSettings = field(default_factory=TlsSettings)

    def advertised_address(self, bound_port: int) -> str:
        """Where the scheduler reaches this trainer, `host:port`.

        `advertise` as given when it names a port, else its host with the bound port. Without
        it: loopback when the scheduler runs on this machine (or nowhere), else this machine's
        host name, which a scheduler elsewhere can resolve where a listening address like `::`
        means nothing.
        """
        if self.advertise is not None:
            host, _, port = self.advertise.rpartition(":")
            if host and port.isdigit() and not self.advertise.endswith("]"):
                return self.advertise
            return f"{self.advertise}:{bound_port}"
        if self.scheduler_address is None or _is_loopback(self.scheduler_address):
            return f"127.0.0.1:{bound_port}"
        return f"{socket.gethostname()}:{bound_port}"

    def resolved_id(self, bound_port: int) -> str:
        """The trainer's id: `trainer_id`, else host name and port, the same after a restart."""
        return self.trainer_id or f"{socket.gethostname()}-{bound_port}"

    def work_dir(self, trainer_id: str) -> Path:
        """Where this trainer's runs are written while they stream back."""
        return self.data_dir / "trainer" / trainer_id


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    advertise: str | None = None,
    trainer_id: str | None = None,
    slots: int | None = None,
    threads: int | None = None,
    scheduler_address: str | None = None,
) -> TrainerSettings:
    """Settings from `environ` (default: the process environment), keyword flags winning."""
    env = _Environment(os.environ if environ is None else environ)
    data_dir = Path(env.get("FORGE_DATA_DIR") or "var").expanduser().absolute()
    slots = _checked("--slots", slots, 1, 1024) or env.integer("FORGE_TRAINER_SLOTS", 1, 1, 1024)
    default_threads = max(1, (os.cpu_count() or 1) // slots)
    threads = _checked("--threads", threads, 1, 1024) or env.integer(
        "FORGE_TRAINER_THREADS", default_threads, 1, 1024
    )
    port = _checked("--port", port, 0, 65535)
    try:
        tls = TlsSettings.from_env(env.values)
    except TlsSettingsError as error:
        raise SettingsError(str(error)) from None
    return TrainerSettings(
        cluster_token=env.get("FORGE_CLUSTER_TOKEN") or _read_token(data_dir),
        data_dir=data_dir,
        host=host or env.get("FORGE_TRAINER_HOST") or DEFAULT_HOST,
        port=env.integer("FORGE_TRAINER_PORT", DEFAULT_PORT, 0, 65535) if port is None else port,
        advertise=advertise or env.get("FORGE_TRAINER_ADDR"),
        trainer_id=trainer_id or env.get("FORGE_TRAINER_ID"),
        slots=slots,
        threads=threads,
        scheduler_address=scheduler_address
        or env.get("FORGE_SCHEDULER_ADDR")
        or f"127.0.0.1:{env.integer('FORGE_SCHEDULER_PORT', DEFAULT_SCHEDULER_PORT, 1, 65535)}",
        checkpoint_interval_s=env.integer(
            "FORGE_CHECKPOINT_INTERVAL_SECONDS", DEFAULT_CHECKPOINT_INTERVAL_S, 0, 24 * 3600
        ),
        grace_s=env.integer("FORGE_TRAINER_GRACE_SECONDS", DEFAULT_GRACE_S, 0, 7 * 24 * 3600),
        cancel_grace_s=env.integer(
            "FORGE_TRAINER_CANCEL_GRACE_SECONDS", DEFAULT_CANCEL_GRACE_S, 1, 24 * 3600
        ),
        stream_memory_bytes=env.integer(
            "FORGE_TRAINER_STREAM_MEMORY_MIB", DEFAULT_STREAM_MEMORY_MIB, 1, 1024 * 1024
        )
        * 1024
        * 1024,
        pipeline_scan_s=env.integer(
            "FORGE_TRAINER_PIPELINE_SCAN_SECONDS", DEFAULT_PIPELINE_SCAN_S, 0, 24 * 3600
        ),
        tls=tls,
    )


def _read_token(data_dir: Path) -> str:
    path = data_dir / CLUSTER_TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SettingsError(
            f"no cluster token: FORGE_CLUSTER_TOKEN is unset and {path} does not exist. Set "
            "FORGE_CLUSTER_TOKEN to the scheduler's token (its $FORGE_DATA_DIR/cluster-token), "
            "or start the scheduler first on this machine with the same FORGE_DATA_DIR."
        ) from None
    if not token:
        raise SettingsError(f"{path} is empty; set FORGE_CLUSTER_TOKEN or fix the file.")
    return token


def _checked(flag: str, value: int | None, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise SettingsError(f"{flag} {value} is out of range: use {low} to {high}.")
    return value


def _is_loopback(address: str) -> bool:
    """Whether every scheduler `address` names is on this machine.

    `address` is a gRPC target: `host:port`, or several schedulers as
    `ipv4:10.0.0.1:50051,10.0.0.2:50051`.
    """
    if address.startswith(("ipv4:", "ipv6:")):
        address = address.partition(":")[2]
    return all(_is_loopback_host(one) for one in address.split(","))


def _is_loopback_host(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]") or address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _Environment:
    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        value = self.values.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        text = self.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{name}={text!r} is not a whole number.") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value} is out of range: use {low} to {high}.")
        return value
