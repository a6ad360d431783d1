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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit


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
