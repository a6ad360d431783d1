"""The gateway's settings, from `FORGE_*` environment variables overridden by `forge gateway` flags.

The gateway keeps no state, so its settings are where to listen, where the scheduler is, how
much it accepts from a client, whom it lets in from other sites, and how it vouches for a
client's address (`gateway.forwarding`). The variables, their defaults and ranges are defined
once in `azuraforge.settings` (listed in docs/running.md#settings); `--host`, `--port` and
`--scheduler` override `FORGE_GATEWAY_HOST`, `FORGE_GATEWAY_PORT` and `FORGE_SCHEDULER_ADDR`.

The cluster token, when `FORGE_CLUSTER_TOKEN` is unset, is read from the scheduler's
`$FORGE_DATA_DIR/cluster-token` only if `FORGE_DATA_DIR` is set and the file is there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azuraforge.settings import (
    DEFAULT_GATEWAY_PORT,
    Flag,
    ForgeEnvironment,
    SettingsError,
    read_environment,
)
from azuraforge.tls import TlsSettings, TlsSettingsError

# What every variable means when it is unset, for settings built directly (tests).
_DEFAULTS = ForgeEnvironment()
# Beside the package, not the current folder, so that `forge up` finds the UI from anywhere: with
# the editable install `make install` makes, the repository's `webapp/dist`.
DEFAULT_WEBAPP_DIR = Path(__file__).resolve().parents[1] / "webapp" / "dist"
# Where the scheduler keeps its generated cluster token, in its FORGE_DATA_DIR.
CLUSTER_TOKEN_FILE = "cluster-token"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class GatewaySettings:
    """Resolved settings; build them with `load_settings`, or directly in tests."""

    scheduler_addr: str = _DEFAULTS.scheduler_address
    host: str | None = None
    port: int = DEFAULT_GATEWAY_PORT
    max_body_bytes: int = _DEFAULTS.gateway_max_body_bytes
    # Origins allowed to call the API and open WebSockets from another site's pages; empty
    # turns CORS off and lets in WebSockets from the gateway's own origin only.
    cors_origins: frozenset[str] = field(default_factory=frozenset)
    # The scheduler's cluster token, to vouch for client addresses at login; None: not vouched.
    cluster_token: str | None = field(default=None, repr=False)
    # Proxies in front of the gateway whose X-Forwarded-For names the client.
    trusted_proxies: tuple[Network, ...] = ()
    webapp_dir: Path = DEFAULT_WEBAPP_DIR
    # How many events a WebSocket viewer may have waiting before it is cut off (see fanout).
    viewer_queue_size: int = _DEFAULTS.gateway_viewer_queue
    # How long a WebSocket may take to send its token as a first message.
    websocket_auth_seconds: float = 10.0
    # Deadline of each unary scheduler call; the streaming ones run as long as the client stays.
    rpc_timeout_seconds: float = 30.0
    # How the gateway connects to the scheduler: with FORGE_TLS_CA, over TLS.
    tls: TlsSettings = field(default_factory=TlsSettings)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    scheduler_addr: str | None = None,
) -> GatewaySettings:
    """Settings from `environ` (default: the process environment), the `forge gateway` flags
    given as keywords winning."""
    env = read_environment(
        environ,
        {
            "gateway_host": Flag("--host", host),
            "gateway_port": Flag("--port", port),
            "scheduler_addr": Flag("--scheduler", scheduler_addr),
        },
    )
    try:
        tls = TlsSettings.from_environment(env)
    except TlsSettingsError as error:
        raise SettingsError(str(error)) from None
    return GatewaySettings(
        scheduler_addr=env.scheduler_address,
        host=env.gateway_host,
        port=env.gateway_port,
        max_body_bytes=env.gateway_max_body_bytes,
        cors_origins=_origins(env.gateway_cors_origins),
        webapp_dir=(env.webapp_dir or DEFAULT_WEBAPP_DIR).expanduser(),
        viewer_queue_size=env.gateway_viewer_queue,
        cluster_token=env.cluster_token or _cluster_token_file(env),
        trusted_proxies=_networks(env.gateway_trusted_proxies),
        tls=tls,
    )


def _origins(text: str | None) -> frozenset[str]:
    """Comma-separated origins, each `scheme://host[:port]` as a browser sends it."""
    if text is None:
        return frozenset()
    origins = {origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()}
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise SettingsError(
                f"FORGE_GATEWAY_CORS_ORIGINS: {origin!r} is not an origin; write it as a "
                "browser sends it, e.g. https://forge.example.com or http://localhost:5173."
            )
    return frozenset(origins)


def _cluster_token_file(env: ForgeEnvironment) -> str | None:
    """The token the scheduler wrote into `FORGE_DATA_DIR`, when the gateway shares its machine
    and the variable is set: a gateway elsewhere has no such file to find."""
    if "data_dir" not in env.model_fields_set:
        return None
    path = env.data_folder / CLUSTER_TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(
            f"cannot read the cluster token in {path} ({error}); set FORGE_CLUSTER_TOKEN instead."
        ) from None
    return token or None


def _networks(text: str | None) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`)."""
    if text is None:
        return ()
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"FORGE_GATEWAY_TRUSTED_PROXIES: {item!r} is not an address or a network; "
                "write it as 10.0.0.7 or 10.0.0.0/8."
            ) from None
    return tuple(networks)
