"""The gateway's settings, from `FORGE_*` environment variables overridden by `forge gateway` flags.

The gateway keeps no state, so its settings are where to listen, where the scheduler is, how
much it accepts from a client, whom it lets in from other sites, and how it vouches for a
client's address (`gateway.forwarding`). An empty variable counts as unset, as in the
scheduler's and the trainer's settings.

| variable | flag | default |
|---|---|---|
| `FORGE_GATEWAY_HOST` | `--host` | every interface |
| `FORGE_GATEWAY_PORT` | `--port` | `8080` |
| `FORGE_SCHEDULER_ADDR` | `--scheduler` | `127.0.0.1:$FORGE_SCHEDULER_PORT` (`50051`) |
| `FORGE_GATEWAY_MAX_BODY_BYTES` | | `1048576`: a config is a few kilobytes |
| `FORGE_GATEWAY_CORS_ORIGINS` | | unset: no cross-origin access or WebSockets (comma-separated) |
| `FORGE_CLUSTER_TOKEN` | | `$FORGE_DATA_DIR/cluster-token` if `FORGE_DATA_DIR` is set and has it |
| `FORGE_GATEWAY_TRUSTED_PROXIES` | | unset: no proxy's `X-Forwarded-For` is believed |
| `FORGE_WEBAPP_DIR` | | the built web UI: `webapp/dist` beside the installed `gateway` package |
| `FORGE_GATEWAY_VIEWER_QUEUE` | | `1000` events a live viewer may fall behind |
| `FORGE_TLS_CA` | | unset: reach the scheduler without TLS (see `azuraforge.tls`) |
| `FORGE_TLS_CLIENT_CERT`, `FORGE_TLS_CLIENT_KEY` | | unset: for a scheduler that requires one |
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from azuraforge.tls import TlsSettings, TlsSettingsError

DEFAULT_PORT = 8080
DEFAULT_SCHEDULER_PORT = 50051
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_VIEWER_QUEUE = 1000
# Beside the package, not the current folder, so that `forge up` finds the UI from anywhere: with
# the editable install `make install` makes, the repository's `webapp/dist`.
DEFAULT_WEBAPP_DIR = Path(__file__).resolve().parents[1] / "webapp" / "dist"
# Where the scheduler keeps its generated cluster token, in its FORGE_DATA_DIR.
CLUSTER_TOKEN_FILE = "cluster-token"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting holds a value the gateway cannot use; the message names it and what to do."""


@dataclass(frozen=True)
class GatewaySettings:
    """Resolved settings; build them with `load_settings`, or directly in tests."""

    scheduler_addr: str = f"127.0.0.1:{DEFAULT_SCHEDULER_PORT}"
    host: str | None = None
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Origins allowed to call the API and open WebSockets from another site's pages; empty
    # turns CORS off and lets in WebSockets from the gateway's own origin only.
    cors_origins: frozenset[str] = field(default_factory=frozenset)
    # The scheduler's cluster token, to vouch for client addresses at login; None: not vouched.
    cluster_token: str | None = field(default=None, repr=False)
    # Proxies in front of the gateway whose X-Forwarded-For names the client.
    trusted_proxies: tuple[Network, ...] = ()
    webapp_dir: Path = DEFAULT_WEBAPP_DIR
    # How many events a WebSocket viewer may have waiting before it is cut off (see fanout).
    viewer_queue_size: int = DEFAULT_VIEWER_QUEUE
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
    """Settings from `environ` (default: the process environment), with flags taking precedence."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "")
        return value.strip() or None

    def integer(name: str, default: int, low: int, high: int) -> int:
        text = get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{name}={text!r} is not a whole number.") from None
        return _in_range(name, value, low, high)

    scheduler_port = integer("FORGE_SCHEDULER_PORT", DEFAULT_SCHEDULER_PORT, 1, 65535)
    try:
        tls = TlsSettings.from_env(env)
    except TlsSettingsError as error:
        raise SettingsError(str(error)) from None
    settings = GatewaySettings(
        scheduler_addr=get("FORGE_SCHEDULER_ADDR") or f"127.0.0.1:{scheduler_port}",
        host=get("FORGE_GATEWAY_HOST"),
        port=integer("FORGE_GATEWAY_PORT", DEFAULT_PORT, 0, 65535),
        max_body_bytes=integer(
            "FORGE_GATEWAY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 1024**3
        ),
        cors_origins=_origins(get("FORGE_GATEWAY_CORS_ORIGINS")),
        webapp_dir=Path(get("FORGE_WEBAPP_DIR") or DEFAULT_WEBAPP_DIR).expanduser(),
        viewer_queue_size=integer("FORGE_GATEWAY_VIEWER_QUEUE", DEFAULT_VIEWER_QUEUE, 1, 10**6),
        cluster_token=get("FORGE_CLUSTER_TOKEN") or _cluster_token_file(get("FORGE_DATA_DIR")),
        trusted_proxies=_networks(get("FORGE_GATEWAY_TRUSTED_PROXIES")),
        tls=tls,
    )
    if port is not None:
        settings = replace(settings, port=_in_range("--port", port, 0, 65535))
    if host is not None:
        settings = replace(settings, host=host)
    if scheduler_addr is not None:
        settings = replace(settings, scheduler_addr=scheduler_addr)
    return settings


def _in_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range: use {low} to {high}.")
    return value


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


def _cluster_token_file(data_dir: str | None) -> str | None:
    """The token the scheduler wrote into `data_dir`, when the gateway shares its machine."""
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser() / CLUSTER_TOKEN_FILE
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
