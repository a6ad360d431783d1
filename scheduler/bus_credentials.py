"""How the scheduler proves to NATS that it is the scheduler (docs/architecture.md#security).

NATS decides who may publish on `forge.>`, and only the scheduler may: a client that could
publish there could end other users' experiments in their watchers' eyes. So the scheduler
connects with credentials, in one of the forms nats-server accepts:

- a user and password (`FORGE_NATS_USER`, `FORGE_NATS_PASSWORD`): what `forge up` and
  `docker-compose.yml` set up;
- a token (`FORGE_NATS_TOKEN`), for a server configured with `authorization { token: … }`;
- or none, for a NATS server that lets anyone in (not one `forge up` starts).

User and password written into `FORGE_NATS_URL` (`nats://user:password@host:4222`) work too,
as nats-py takes them from there; `redacted_url` keeps them out of logs either way.

Between machines the credentials, and every event, travel over TLS (`BusTls`) when nats-server
has a `tls {}` block: the scheduler verifies NATS's certificate with `FORGE_NATS_TLS_CA`, else
the gRPC CA (`FORGE_TLS_CA`), else the system's CAs, and shows its client certificate
(`FORGE_TLS_CLIENT_CERT`, else `FORGE_TLS_CERT`) to a NATS that verifies clients. A `tls://`
URL or `FORGE_NATS_TLS_CA` makes TLS required: the scheduler then refuses a NATS that offers
none before it sends anything, rather than sending its password in clear (nats-py alone would
connect in plaintext to a `tls://` URL whose server does not ask for TLS).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azuraforge.tls import TlsSettings

NATS_TLS_CA = "FORGE_NATS_TLS_CA"


@dataclass(frozen=True)
class BusCredentials:
    """What the scheduler presents when it connects to NATS: a user and password, a token,
    or nothing (`scheduler.settings` lets no other combination through)."""

    user: str | None = None
    # Kept out of repr() so that logging the settings never logs a secret.
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def connect_options(self) -> dict[str, Any]:
        """The keyword arguments of nats-py's `Client.connect` that carry these credentials."""
        if self.user is not None:
            return {"user": self.user, "password": self.password}
        if self.token is not None:
            return {"token": self.token}
        return {}

    def describe(self) -> str:
        """Who the scheduler connects as, for a log line or an error; never the secret."""
        if self.user is not None:
            return f"as user {self.user!r}"
        if self.token is not None:
            return "with a token"
        return "without credentials"


def redacted_url(url: str) -> str:
    """`url` with any password in it replaced by `***`, for logs and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    # A user name alone is a token to nats-py: hide it too.
    user = f"{parts.username}:***" if parts.password is not None else "***"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


class BusTlsError(ValueError):
    """`FORGE_NATS_TLS_CA` names no CA the scheduler can use; the message says so."""


@dataclass(frozen=True)
class BusTls:
    """How the scheduler's NATS connection is secured: whom it trusts, what it shows."""

    # None: the system's CAs.
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    # Refuse a NATS server that offers no TLS.
    required: bool = False

    @classmethod
    def for_url(cls, url: str | None, nats_ca: str | None, tls: TlsSettings) -> BusTls:
        """For a connection to `url`, from `FORGE_NATS_TLS_CA` and the `FORGE_TLS_*` settings."""
        ca = Path(nats_ca).expanduser() if nats_ca else None
        if ca is not None:
            try:
                ssl.create_default_context(cafile=str(ca))
            except (OSError, ssl.SSLError) as error:
                raise BusTlsError(
                    f"{NATS_TLS_CA}={ca}: no CA certificate in PEM can be read from it ({error})"
                ) from None
        elif tls.ca is not None:
            ca = tls.ca.path
        cert, key = tls.client_cert or tls.cert, tls.client_key or tls.key
        return cls(
            ca=ca,
            cert=None if cert is None else cert.path,
            key=None if key is None else key.path,
            required=bool(url and url.strip().lower().startswith("tls://")) or bool(nats_ca),
        )

    def context(self) -> ssl.SSLContext | None:
        """The context nats-py upgrades the connection with; None leaves nats-py's default."""
        if self.ca is None and self.cert is None and not self.required:
            return None
        context = ssl.create_default_context(cafile=None if self.ca is None else str(self.ca))
        if self.cert is not None:
            context.load_cert_chain(self.cert, self.key)
        return context

    def describe(self) -> str:
        """How the connection is secured, to follow the credentials in a log line."""
        trusted = "the system's CAs" if self.ca is None else str(self.ca)
        if self.required:
            return f", over TLS only (trusting {trusted})"
        if self.ca is not None:
            return f", over TLS if NATS asks (trusting {trusted})"
        return ""
