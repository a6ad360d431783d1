"""The scheduler's settings, resolved once from the `FORGE_*` variables (`azuraforge.settings`).

Everything has a default that works on one machine with nothing installed: the data folder is
`./var`, the database a SQLite file in it, and the two secrets the scheduler needs are made up
on first start and kept in that folder (`FORGE_JWT_SECRET`, `FORGE_CLUSTER_TOKEN` unset). The
variables, their defaults and ranges are defined in `azuraforge.settings` and listed in
docs/running.md#settings; this module turns them into what the scheduler uses: durations,
secrets read or generated, NATS credentials checked to go together.

Trainers on the scheduler's machine read the cluster token from `$FORGE_DATA_DIR/cluster-token`;
trainers elsewhere need `FORGE_CLUSTER_TOKEN` set to the same value on both sides.

TLS (`FORGE_TLS_*`) means the same for every service: `azuraforge.tls` reads it. The NATS
connection takes its CA from there too unless `FORGE_NATS_TLS_CA` names another, and shows
NATS the scheduler's client certificate when NATS asks for one (`scheduler.bus_credentials`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from azuraforge.settings import Flag, ForgeEnvironment, SettingsError, read_environment
from azuraforge.tls import TlsSettings, TlsSettingsError
from scheduler.bus_credentials import BusCredentials, BusTls, BusTlsError
from scheduler.secrets import read_or_create_secret

JWT_SECRET_FILE = "jwt-secret"
CLUSTER_TOKEN_FILE = "cluster-token"
# A submission may choose its own restarts within the range FORGE_MAX_RESTARTS has.
DEFAULT_MAX_RESTARTS: int = ForgeEnvironment.model_fields["max_restarts"].default
MAX_RESTARTS_LIMIT = 100
# Missing this many heartbeats in a row makes a trainer count as gone.
MISSED_HEARTBEATS = 3
# HS256 keys shorter than the hash (32 bytes) weaken it (RFC 7518 §3.2).
MIN_JWT_SECRET_LENGTH = 32


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
    scheduler_lease: timedelta = timedelta(seconds=15)
    bus_credentials: BusCredentials = field(default_factory=BusCredentials)
    bus_tls: BusTls = field(default_factory=BusTls)
    tls: TlsSettings = field(default_factory=TlsSettings)

    @property
    def trainer_timeout(self) -> timedelta:
        """How long after its last heartbeat a trainer counts as gone."""
        return self.trainer_heartbeat_interval * MISSED_HEARTBEATS

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, flags: Mapping[str, Flag] | None = None
    ) -> Settings:
        """Read `environ` (default: the process environment) with `flags` winning, creating
        secret files as needed."""
        env = read_environment(environ, flags)
        data_dir = env.data_folder
        jwt_secret = env.jwt_secret
        if jwt_secret is not None and len(jwt_secret) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"FORGE_JWT_SECRET is {len(jwt_secret)} characters long; use at least "
                f"{MIN_JWT_SECRET_LENGTH} random ones (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'), or unset it to have one generated."
            )
        nats_tls_ca = None if env.nats_tls_ca is None else str(env.nats_tls_ca)
        try:
            tls = TlsSettings.from_environment(env)
            bus_tls = BusTls.for_url(env.nats_url, nats_tls_ca, tls)
        except (TlsSettingsError, BusTlsError) as error:
            raise SettingsError(str(error)) from None
        return cls(
            data_dir=data_dir,
            database_url=env.database_url or f"sqlite:///{data_dir / 'forge.db'}",
            scheduler_port=env.scheduler_port,
            scheduler_addr=env.scheduler_address,
            nats_url=env.nats_url,
            bus_credentials=_bus_credentials(env),
            bus_tls=bus_tls,
            tls=tls,
            token_lifetime=timedelta(seconds=env.token_lifetime_seconds),
            trainer_heartbeat_interval=timedelta(seconds=env.trainer_heartbeat_seconds),
            max_restarts=env.max_restarts,
            scheduler_id=env.scheduler_id or "",
            scheduler_lease=timedelta(seconds=env.scheduler_lease_seconds),
            admin_password=env.admin_password,
            jwt_secret=jwt_secret or read_or_create_secret(data_dir / JWT_SECRET_FILE),
            cluster_token=(
                env.cluster_token or read_or_create_secret(data_dir / CLUSTER_TOKEN_FILE)
            ),
        )


def _bus_credentials(env: ForgeEnvironment) -> BusCredentials:
    user, password, token = env.nats_user, env.nats_password, env.nats_token
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
