"""The trainer's settings, from `FORGE_*` environment variables overridden by `forge trainer` flags.

Defaults suit one machine running everything (`forge up`): listen on every interface at the
trainer port, run one experiment at a time with every core, read the cluster token the
scheduler wrote into the shared data folder. The variables, their defaults and ranges are
defined once in `azuraforge.settings` (listed in docs/running.md#settings); the flags override
them the way every command's do:

| flag | variable |
|---|---|
| `--host` | `FORGE_TRAINER_HOST` |
| `--port` | `FORGE_TRAINER_PORT` |
| `--advertise` | `FORGE_TRAINER_ADDR`: where the scheduler dials back, see `advertised_address` |
| `--id` | `FORGE_TRAINER_ID` |
| `--slots` | `FORGE_TRAINER_SLOTS` |
| `--threads` | `FORGE_TRAINER_THREADS`: by default the CPU count divided among the slots |
| `--scheduler` | `FORGE_SCHEDULER_ADDR` |

Runs are written under `trainer/<trainer id>/` in `FORGE_DATA_DIR`.

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

from azuraforge.settings import (
    DEFAULT_TRAINER_PORT,
    Flag,
    ForgeEnvironment,
    SettingsError,
    read_environment,
)
from azuraforge.tls import TlsSettings, TlsSettingsError

# What every variable means when it is unset, for settings built directly (tests).
_DEFAULTS = ForgeEnvironment()
# The file the scheduler generates the token into when FORGE_CLUSTER_TOKEN is unset.
CLUSTER_TOKEN_FILE = "cluster-token"


@dataclass(frozen=True)
class TrainerSettings:
    """Resolved settings; build them with `load_settings`, or directly in tests."""

    cluster_token: str = field(repr=False)
    data_dir: Path = Path("var")
    host: str = _DEFAULTS.trainer_host
    port: int = DEFAULT_TRAINER_PORT
    advertise: str | None = None
    trainer_id: str | None = None
    slots: int = 1
    threads: int = 1
    scheduler_address: str | None = None
    checkpoint_interval_s: float = _DEFAULTS.checkpoint_interval_seconds
    grace_s: float = _DEFAULTS.trainer_grace_seconds
    cancel_grace_s: float = _DEFAULTS.trainer_cancel_grace_seconds
    stream_memory_bytes: int = _DEFAULTS.trainer_stream_memory_mib * 1024 * 1024
    pipeline_scan_s: float = _DEFAULTS.trainer_pipeline_scan_seconds
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
    """Settings from `environ` (default: the process environment), the `forge trainer` flags
    given as keywords winning."""
    env = read_environment(
        environ,
        {
            "trainer_host": Flag("--host", host),
            "trainer_port": Flag("--port", port),
            "trainer_addr": Flag("--advertise", advertise),
            "trainer_id": Flag("--id", trainer_id),
            "trainer_slots": Flag("--slots", slots),
            "trainer_threads": Flag("--threads", threads),
            "scheduler_addr": Flag("--scheduler", scheduler_address),
        },
    )
    data_dir = env.data_folder
    try:
        tls = TlsSettings.from_environment(env)
    except TlsSettingsError as error:
        raise SettingsError(str(error)) from None
    return TrainerSettings(
        cluster_token=env.cluster_token or _read_token(data_dir),
        data_dir=data_dir,
        host=env.trainer_host,
        port=env.trainer_port,
        advertise=env.trainer_addr,
        trainer_id=env.trainer_id,
        slots=env.trainer_slots,
        threads=env.trainer_threads or max(1, (os.cpu_count() or 1) // env.trainer_slots),
        scheduler_address=env.scheduler_address,
        checkpoint_interval_s=env.checkpoint_interval_seconds,
        grace_s=env.trainer_grace_seconds,
        cancel_grace_s=env.trainer_cancel_grace_seconds,
        stream_memory_bytes=env.trainer_stream_memory_mib * 1024 * 1024,
        pipeline_scan_s=env.trainer_pipeline_scan_seconds,
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
