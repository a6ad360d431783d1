"""The scheduler's settings, read once from `FORGE_*` environment variables (docs/running.md).

Everything has a default that works on one machine with nothing installed: the data folder is
`./var`, the database a SQLite file in it, and the two secrets the scheduler needs are made up
on first start and kept in that folder. An empty variable counts as unset, so a compose file may
list a variable without a value.

| variable | default |
|---|---|
| `FORGE_DATA_DIR` | `./var` |
| `FORGE_DATABASE_URL` | `sqlite:///$FORGE_DATA_DIR/forge.db` |
| `FORGE_SCHEDULER_PORT` | `50051` (the port the scheduler listens on) |
| `FORGE_SCHEDULER_ADDR` | `127.0.0.1:$FORGE_SCHEDULER_PORT` (where clients reach it) |
| `FORGE_NATS_URL` | unset: `forge up` starts the bundled nats-server |
| `FORGE_NATS_USER`, `FORGE_NATS_PASSWORD` | unset; `forge up` sets its bundled NATS's |
| `FORGE_NATS_TOKEN` | unset: a token for NATS instead of a user and password |
| `FORGE_NATS_TLS_CA` | `FORGE_TLS_CA`, NATS's CA; set, NATS must speak TLS (a `tls://` URL too) |
| `FORGE_TLS_CERT`, `FORGE_TLS_KEY` | unset: serve gRPC without TLS (see `azuraforge.tls`) |
| `FORGE_TLS_CA` | unset: reach trainers without TLS |
| `FORGE_TLS_CLIENT_CERT`, `_KEY` | `FORGE_TLS_CERT`, `_KEY`: shown to trainers and NATS that ask |
| `FORGE_TLS_CLIENT_CA` | unset: clients need no certificate |
| `FORGE_ADMIN_PASSWORD` | unset: generated, printed once when the admin account is created |
| `FORGE_JWT_SECRET` | unset: generated once into `$FORGE_DATA_DIR/jwt-secret`, mode 0600 |
| `FORGE_CLUSTER_TOKEN` | unset: generated once into `$FORGE_DATA_DIR/cluster-token`, mode 0600 |
| `FORGE_TOKEN_LIFETIME_SECONDS` | `43200`: a login lasts a working day |
| `FORGE_TRAINER_HEARTBEAT_SECONDS` | `5`; a trainer silent for 3 intervals counts as gone |
| `FORGE_MAX_RESTARTS` | `3`: a lost run is placed again this often before its experiment fails |
| `FORGE_SCHEDULER_ID` | `<host name>-<port>`: stable, so a restart follows its runs at once |
| `FORGE_SCHEDULER_LEASE_SECONDS` | `15`: when another scheduler adopts a silent one's runs |

Trainers on the scheduler's machine read the cluster token from `$FORGE_DATA_DIR/cluster-token`;
trainers elsewhere need `FORGE_CLUSTER_TOKEN` set to the same value on both sides.

TLS (`FORGE_TLS_*`) means the same for every service: `azuraforge.tls` reads it. The NATS
connection takes its CA from there too unless `FORGE_NATS_TLS_CA` names another, and shows
NATS the scheduler's client certificate when NATS asks for one (`scheduler.bus_credentials`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from azuraforge.tls import TlsSettings, TlsSettingsError
from scheduler.bus_credentials import BusCredentials, BusTls, BusTlsError
from scheduler.secrets import read_or_create_secret

JWT_SECRET_FILE = "jwt-secret"
CLUSTER_TOKEN_FILE = "cluster-token"
DEFAULT_PORT = 50051
DEFAULT_TOKEN_LIFETIME = timedelta(hours=12)
DEFAULT_HEARTBEAT_INTERVAL = timedelta(seconds=5)
DEFAULT_MAX_RESTARTS = 3
DEFAULT_SCHEDULER_LEASE = timedelta(seconds=15)
MAX_RESTARTS_LIMIT = 100
# Missing this many heartbeats in a row makes a trainer count as gone.
MISSED_HEARTBEATS = 3
# HS256 keys shorter than the hash (32 bytes) weaken it (RFC 7518 §3.2).
MIN_JWT_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """An environment variable holds a value the scheduler cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings: defaults filled in, secrets read or generated."""

    data_dir: Path
    database_url: str
    scheduler_port: int
    scheduler_addr: str
    nats_url: str | None
    token_lifetime: timedelta
    trainer_heartbeat_interval: timedelta
    # Kept out of repr() so that logging the settings never logs a secret.
    admin_password: str | None = field(repr=False)
    jwt_secret: str = field(repr=False)
    cluster_token: str = field(repr=False)
    max_restarts: int = DEFAULT_MAX_RESTARTS
    # Empty: `<host name>-<port>`, worked out once the port is bound.
    scheduler_id: str = ""
    scheduler_lease: timedelta = DEFAULT_SCHEDULER_LEASE
    bus_credentials: BusCredentials = field(default_factory=BusCredentials)
    bus_tls: BusTls = field(default_factory=BusTls)
    tls: TlsSettings = field(default_factory=TlsSettings)

    @property
    def trainer_timeout(self) -> timedelta:
        """How long after its last heartbeat a trainer counts as gone."""
        return self.trainer_heartbeat_interval * MISSED_HEARTBEATS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `environ` (default: the process environment), creating secret files as needed."""
        env = _Environment(os.environ if environ is None else environ)
        data_dir = Path(env.get("FORGE_DATA_DIR") or "var").expanduser().absolute()
        port = env.integer("FORGE_SCHEDULER_PORT", DEFAULT_PORT, low=1, high=65535)
        jwt_secret = env.get("FORGE_JWT_SECRET")
        if jwt_secret is not None and len(jwt_secret) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"FORGE_JWT_SECRET is {len(jwt_secret)} characters long; use at least "
                f"{MIN_JWT_SECRET_LENGTH} random ones (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'), or unset it to have one generated."
            )
        nats_url = env.get("FORGE_NATS_URL")
        try:
            tls = TlsSettings.from_env(env.values)
            bus_tls = BusTls.for_url(nats_url, env.get("FORGE_NATS_TLS_CA"), tls)
        except (TlsSettingsError, BusTlsError) as error:
            raise SettingsError(str(error)) from None
        return cls(
            data_dir=data_dir,
            database_url=(env.get("FORGE_DATABASE_URL") or f"sqlite:///{data_dir / 'forge.db'}"),
            scheduler_port=port,
            scheduler_addr=env.get("FORGE_SCHEDULER_ADDR") or f"127.0.0.1:{port}",
            nats_url=nats_url,
            bus_credentials=_bus_credentials(env),
            bus_tls=bus_tls,
            tls=tls,
            token_lifetime=timedelta(
                seconds=env.integer(
                    "FORGE_TOKEN_LIFETIME_SECONDS",
                    int(DEFAULT_TOKEN_LIFETIME.total_seconds()),
                    low=60,
                    high=366 * 24 * 3600,
                )
            ),
            trainer_heartbeat_interval=timedelta(
                seconds=env.integer(
                    "FORGE_TRAINER_HEARTBEAT_SECONDS",
                    int(DEFAULT_HEARTBEAT_INTERVAL.total_seconds()),
                    low=1,
                    high=3600,
                )
            ),
            max_restarts=env.integer(
                "FORGE_MAX_RESTARTS", DEFAULT_MAX_RESTARTS, low=0, high=MAX_RESTARTS_LIMIT
            ),
            scheduler_id=env.get("FORGE_SCHEDULER_ID") or "",
            scheduler_lease=timedelta(
                seconds=env.integer(
                    "FORGE_SCHEDULER_LEASE_SECONDS",
                    int(DEFAULT_SCHEDULER_LEASE.total_seconds()),
                    low=5,
                    high=3600,
                )
            ),
            admin_password=env.get("FORGE_ADMIN_PASSWORD"),
            jwt_secret=jwt_secret or read_or_create_secret(data_dir / JWT_SECRET_FILE),
            cluster_token=(
                env.get("FORGE_CLUSTER_TOKEN")
                or read_or_create_secret(data_dir / CLUSTER_TOKEN_FILE)
            ),
        )


def _bus_credentials(env: _Environment) -> BusCredentials:
    user, password = env.get("FORGE_NATS_USER"), env.get("FORGE_NATS_PASSWORD")
    token = env.get("FORGE_NATS_TOKEN")
    if (user is None) != (password is None):
        raise SettingsError(
            "FORGE_NATS_USER and FORGE_NATS_PASSWORD go together: set both to the scheduler's "
            "identity in the NATS server's config, or neither."
        )
    if user is not None and token is not None:
        raise SettingsError(
            "Set FORGE_NATS_TOKEN or FORGE_NATS_USER and FORGE_NATS_PASSWORD, not both."
        )
    return BusCredentials(user=user, password=password, token=token)


@dataclass(frozen=True)
class _Environment:
    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        # Blank means unset; anything else is kept as written (a password may end in a space).
        value = self.values.get(name, "")
        return value if value.strip() else None

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
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
