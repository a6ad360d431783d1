"""Every `FORGE_*` environment variable, defined once: name, type, default, range and meaning.

The scheduler, the trainer, the gateway and the `forge` commands all read their settings here,
so a variable means the same wherever it is read, and `docs/running.md#settings` is checked
against this module (tests/docs/test_running.py). It lives beside the generated contract for
the reason `azuraforge.tls` does: every service and client needs it and none of them may import
another (tests/test_dependency_direction.py); the engine and the learner need neither.

One rule for every value: surrounding whitespace is stripped, and what is left empty counts as
unset, so a compose file may list a variable without a value and a stray space in a `.env` file
changes nothing. A secret cannot begin or end with a space.

A command-line flag overrides its variable in one way for every command: the command hands the
flags it was given to `read_environment` as `Flag`s, which win over the environment and are named
in an error in the user's spelling (`--port 70000 is out of range`).

The environment comes in as a mapping rather than from `os.environ` behind the caller's back,
so that a test passes its own and a process reads exactly what it was given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "FORGE_"
# The default ports, here and nowhere else.
DEFAULT_SCHEDULER_PORT = 50051
DEFAULT_TRAINER_PORT = 50052
DEFAULT_GATEWAY_PORT = 8080
DEFAULT_DATA_DIR = Path("var")

_DAY_S = 24 * 3600


class SettingsError(ValueError):
    """A variable or flag holds a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Flag:
    """A command-line flag given for a variable: its value wins, and an error names `spelling`."""

    spelling: str
    value: object


def _port(default: int | None, low: int, description: str) -> Any:
    return Field(default=default, ge=low, le=65535, description=description)


def _whole(default: int | None, low: int, high: int, description: str) -> Any:
    return Field(default=default, ge=low, le=high, description=description)


class ForgeEnvironment(BaseSettings):
    """The `FORGE_*` variables as given: a field `x` is the variable `FORGE_X`.

    A default that depends on another variable (the database in the data folder, the
    scheduler's address from its port) is `None` here and worked out by the property beside it,
    or by the service that owns it when it needs more than this module knows (a secret file).
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    # Everyone
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="the SQLite file, the NATS store, secrets, trainers' runs, data caches",
    )
    cluster_token: str | None = Field(
        default=None, description="generated once into $FORGE_DATA_DIR/cluster-token when unset"
    )
    scheduler_port: int = _port(DEFAULT_SCHEDULER_PORT, 1, "the port the scheduler listens on")
    scheduler_host: str | None = Field(
        default=None, description="the interface the scheduler listens on"
    )
    scheduler_addr: str | None = Field(
        default=None,
        description="where clients reach the scheduler: 127.0.0.1:$FORGE_SCHEDULER_PORT",
    )
    # The scheduler
    database_url: str | None = Field(default=None, description="sqlite:///$FORGE_DATA_DIR/forge.db")
    nats_url: str | None = Field(
        default=None, description="unset: `forge up` starts the bundled NATS"
    )
    nats_user: str | None = Field(default=None, description="the scheduler's user on NATS")
    nats_password: str | None = Field(default=None, description="the scheduler's password on NATS")
    nats_token: str | None = Field(default=None, description="a token for NATS instead of a user")
    nats_tls_ca: Path | None = Field(default=None, description="NATS's CA when not FORGE_TLS_CA's")
    nats_reader_password: str | None = Field(
        default=None, description="the bundled NATS's read-only password"
    )
    admin_password: str | None = Field(default=None, description="the first admin's password")
    jwt_secret: str | None = Field(
        default=None, description="the key access tokens are signed with"
    )
    token_lifetime_seconds: int = _whole(12 * 3600, 60, 366 * _DAY_S, "how long a login lasts")
    trainer_heartbeat_seconds: int = _whole(5, 1, 3600, "a trainer's heartbeat interval")
    max_restarts: int = _whole(3, 0, 100, "how often a lost run is placed again")
    scheduler_id: str | None = Field(default=None, description="<host name>-<port>")
    scheduler_lease_seconds: int = _whole(
        15, 5, 3600, "how long a silent scheduler's runs wait to be adopted"
    )
    # The trainer
    trainer_host: str = Field(default="[::]", description="the interface a trainer listens on")
    trainer_port: int = _port(DEFAULT_TRAINER_PORT, 0, "a trainer's port; 0 picks a free one")
    trainer_addr: str | None = Field(
        default=None, description="where the scheduler reaches a trainer"
    )
    trainer_id: str | None = Field(default=None, description="<host name>-<port>")
    trainer_slots: int = _whole(1, 1, 1024, "experiments a trainer runs at a time")
    trainer_threads: int | None = _whole(None, 1, 1024, "threads per experiment")
    checkpoint_interval_seconds: int = _whole(10, 0, _DAY_S, "least time between checkpoints")
    trainer_grace_seconds: int = _whole(600, 0, 7 * _DAY_S, "how long an unfollowed run goes on")
    trainer_cancel_grace_seconds: int = _whole(30, 1, _DAY_S, "how long a cancel may take")
    trainer_stream_memory_mib: int = _whole(64, 1, 1024 * 1024, "unstored items kept in memory")
    trainer_pipeline_scan_seconds: int = _whole(30, 0, _DAY_S, "time between pipeline scans")
    # The gateway
    gateway_host: str | None = Field(
        default=None, description="the interface the gateway listens on"
    )
    gateway_port: int = _port(DEFAULT_GATEWAY_PORT, 0, "the gateway's port")
    gateway_max_body_bytes: int = _whole(1024 * 1024, 1024, 1024**3, "the largest request body")
    gateway_cors_origins: str | None = Field(default=None, description="comma-separated origins")
    gateway_trusted_proxies: str | None = Field(
        default=None, description="comma-separated networks"
    )
    gateway_viewer_queue: int = _whole(1000, 1, 10**6, "events a viewer may fall behind")
    webapp_dir: Path | None = Field(default=None, description="the built web UI")
    # TLS: read and checked by `azuraforge.tls`, for every service alike.
    tls_cert: Path | None = Field(
        default=None, description="the certificate a server serves TLS with"
    )
    tls_key: Path | None = Field(default=None, description="the key of FORGE_TLS_CERT")
    tls_ca: Path | None = Field(default=None, description="the CA a client trusts")
    tls_client_cert: Path | None = Field(default=None, description="shown to a server that asks")
    tls_client_key: Path | None = Field(
        default=None, description="the key of FORGE_TLS_CLIENT_CERT"
    )
    tls_client_ca: Path | None = Field(
        default=None, description="the CA clients' certificates need"
    )
    # The client commands
    token: str | None = Field(default=None, description="the access token; unset: the one saved")
    token_file: Path | None = Field(default=None, description="where `forge login` saves tokens")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what `read_environment` hands over: see the module docstring.
        return (init_settings,)

    @property
    def data_folder(self) -> Path:
        """`data_dir` as an absolute path, `~` expanded."""
        return self.data_dir.expanduser().absolute()

    @property
    def scheduler_address(self) -> str:
        """Where clients reach the scheduler: `FORGE_SCHEDULER_ADDR`, else loopback and port."""
        return self.scheduler_addr or f"127.0.0.1:{self.scheduler_port}"

    @classmethod
    def variables(cls) -> dict[str, FieldInfo]:
        """Every variable by its name (`FORGE_DATA_DIR`), with its field."""
        return {variable_name(name): info for name, info in cls.model_fields.items()}


def variable_name(field_name: str) -> str:
    """`scheduler_port` → `FORGE_SCHEDULER_PORT`."""
    return PREFIX + field_name.upper()


def read_environment(
    environ: Mapping[str, str] | None = None, flags: Mapping[str, Flag] | None = None
) -> ForgeEnvironment:
    """The variables in `environ` (default: the process environment), `flags` winning.

    `flags` maps a field name (`trainer_port`) to the flag given for it; a flag whose value is
    None was not given. Raises `SettingsError` naming the variable or flag of the first bad value.
    """
    environ = os.environ if environ is None else environ
    given: dict[str, tuple[str, object]] = {}
    for name in ForgeEnvironment.model_fields:
        variable = variable_name(name)
        text = environ.get(variable, "").strip()
        if text:
            given[name] = (f"{variable}={{}}", text)
    for name, flag in (flags or {}).items():
        if name not in ForgeEnvironment.model_fields:
            raise KeyError(f"no setting {name!r} for the flag {flag.spelling}")
        if flag.value is not None:
            given[name] = (f"{flag.spelling} {{}}", flag.value)
    try:
        values: dict[str, Any] = {name: value for name, (_, value) in given.items()}
        return ForgeEnvironment(**values)
    except ValidationError as error:
        raise SettingsError(_describe(error, given)) from None


def _describe(error: ValidationError, given: Mapping[str, tuple[str, object]]) -> str:
    """The first problem in `error`, naming the variable or flag as the user wrote it."""
    problem = error.errors()[0]
    name = str(problem["loc"][0])
    template, value = given[name]
    if problem["type"] in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(ForgeEnvironment.model_fields[name])
        return f"{template.format(value)} is out of range: use {low} to {high}."
    if problem["type"] in ("int_parsing", "int_from_float", "int_type"):
        shown = repr(value) if isinstance(value, str) else value
        return f"{template.format(shown)} is not a whole number."
    return f"{template.format(repr(value))}: {problem['msg']}."


def _bounds(info: FieldInfo) -> tuple[object, object]:
    low = next(item.ge for item in info.metadata if isinstance(item, annotated_types.Ge))
    high = next(item.le for item in info.metadata if isinstance(item, annotated_types.Le))
    return low, high
