"""TLS for the gRPC connections between AzuraForge's services: one set of settings for all.

Bearer tokens and the cluster token travel on every call, so between machines the scheduler,
the trainers and their clients can speak TLS (docs/architecture.md, Security; docs/running.md,
"TLS between machines"). Every process reads the same `FORGE_TLS_*` variables with the same meaning:

| variable | read by | meaning |
|---|---|---|
| `FORGE_TLS_CERT`, `_KEY` | servers | the certificate (chain) and key, PEM: serve TLS only |
| `FORGE_TLS_CA` | clients | CA bundle, PEM: connect with TLS, trusting what it signed |
| `FORGE_TLS_CLIENT_CERT`, `_KEY` | clients | shown to a server that asks; default CERT, KEY |
| `FORGE_TLS_CLIENT_CA` | servers | every client must show a certificate it signed (mTLS) |

The clients are the trainers (to the scheduler), the scheduler (to its trainers), gateways and
the `forge` commands. A server with a certificate serves TLS only; a client with a CA connects
with TLS only; either without is plaintext, as on one machine. Mutual TLS suits the trainers:
their only clients are schedulers, which show their own certificate (FORGE_TLS_CERT, reused as
the client certificate), so a trainer with `FORGE_TLS_CLIENT_CA` lets in no one without a
certificate from the cluster's CA. The cluster token stays the authorization; the certificate
only decides who may connect at all.

This module lives beside the generated contract because every service and client needs it and
none of them may import another (tests/test_dependency_direction.py).

A connection that fails for TLS reasons fails in gRPC's words (`Socket closed`,
`WRONG_VERSION_NUMBER`, `CERTIFICATE_VERIFY_FAILED`); `connection_hint` turns those into what to
set where, and each client adds it to its own error message.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import grpc
import grpc.aio

from azuraforge.settings import ForgeEnvironment, SettingsError, read_environment, variable_name

# The variables' names, for messages; `azuraforge.settings` defines them.
CERT = variable_name("tls_cert")
KEY = variable_name("tls_key")
CA = variable_name("tls_ca")
CLIENT_CERT = variable_name("tls_client_cert")
CLIENT_KEY = variable_name("tls_client_key")
CLIENT_CA = variable_name("tls_client_ca")
DOCS = 'docs/running.md, "TLS between machines"'
# How long `serves_tls` waits for a server to answer a handshake.
PROBE_TIMEOUT_S = 2.0

ChannelOptions = Sequence[tuple[str, Any]]


class TlsSettingsError(ValueError):
    """A `FORGE_TLS_*` setting that cannot be used; the message names it and what to do."""


@dataclass(frozen=True)
class PemFile:
    """A PEM file a setting names, read once when the settings are."""

    variable: str
    path: Path
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class TlsSettings:
    """The `FORGE_TLS_*` settings of one process, files read and checked; empty: no TLS."""

    cert: PemFile | None = None
    key: PemFile | None = None
    ca: PemFile | None = None
    client_cert: PemFile | None = None
    client_key: PemFile | None = None
    client_ca: PemFile | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TlsSettings:
        """Read and check the files the variables in `environ` name (blank is unset)."""
        try:
            return cls.from_environment(read_environment(environ))
        except SettingsError as error:
            raise TlsSettingsError(str(error)) from None

    @classmethod
    def from_environment(cls, env: ForgeEnvironment) -> TlsSettings:
        """Read and check the files the `FORGE_TLS_*` variables of `env` name."""
        given = {
            CERT: env.tls_cert,
            KEY: env.tls_key,
            CA: env.tls_ca,
            CLIENT_CERT: env.tls_client_cert,
            CLIENT_KEY: env.tls_client_key,
            CLIENT_CA: env.tls_client_ca,
        }
        paths = {name: None if path is None else path.expanduser() for name, path in given.items()}
        for first, second in ((CERT, KEY), (CLIENT_CERT, CLIENT_KEY)):
            if (paths[first] is None) != (paths[second] is None):
                raise TlsSettingsError(
                    f"{first} and {second} go together: set both, to a certificate and its "
                    f"private key in PEM, or neither ({DOCS})."
                )
        if paths[CLIENT_CA] is not None and paths[CERT] is None:
            raise TlsSettingsError(
                f"{CLIENT_CA} asks clients for a certificate, which needs TLS: set {CERT} and "
                f"{KEY} too, or unset {CLIENT_CA} ({DOCS})."
            )
        files = {name: _read(name, path) for name, path in paths.items()}
        for variable in (CA, CLIENT_CA):
            _check_ca(variable, paths[variable])
        _check_pair(CERT, paths[CERT], KEY, paths[KEY])
        _check_pair(CLIENT_CERT, paths[CLIENT_CERT], CLIENT_KEY, paths[CLIENT_KEY])
        return cls(
            cert=files[CERT],
            key=files[KEY],
            ca=files[CA],
            client_cert=files[CLIENT_CERT],
            client_key=files[CLIENT_KEY],
            client_ca=files[CLIENT_CA],
        )

    @property
    def serves_tls(self) -> bool:
        """Whether a server with these settings serves TLS (only)."""
        return self.cert is not None

    @property
    def connects_with_tls(self) -> bool:
        """Whether a client with these settings connects with TLS (only)."""
        return self.ca is not None

    def server_credentials(self) -> grpc.ServerCredentials | None:
        """The server's TLS credentials, or None to serve plaintext."""
        if self.cert is None or self.key is None:
            return None
        return grpc.ssl_server_credentials(
            [(self.key.data, self.cert.data)],
            root_certificates=None if self.client_ca is None else self.client_ca.data,
            require_client_auth=self.client_ca is not None,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """A client's TLS credentials, or None to connect in plaintext."""
        if self.ca is None:
            return None
        cert, key = self.client_cert or self.cert, self.client_key or self.key
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.data,
            private_key=None if key is None else key.data,
            certificate_chain=None if cert is None else cert.data,
        )

    def listen(self, server: grpc.aio.Server, address: str) -> int:
        """Bind `server` to `address` with TLS or without, as the settings say; the port."""
        credentials = self.server_credentials()
        if credentials is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, credentials)

    def channel(self, target: str, options: ChannelOptions | None = None) -> grpc.Channel:
        """A blocking client's channel to `target`."""
        credentials = self.channel_credentials()
        if credentials is None:
            return grpc.insecure_channel(target, options=options)
        return grpc.secure_channel(target, credentials, options=options)

    def aio_channel(self, target: str, options: ChannelOptions | None = None) -> grpc.aio.Channel:
        """An asyncio client's channel to `target`."""
        credentials = self.channel_credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, credentials, options=options)

    def describe_server(self) -> str:
        """How a server with these settings serves, for its start-up log line."""
        if self.cert is None:
            return "without TLS"
        if self.client_ca is None:
            return f"with TLS ({self.cert.path})"
        return f"with mutual TLS ({self.cert.path}; clients signed by {self.client_ca.path})"

    def describe_client(self) -> str:
        """How a client with these settings connects, for a log line."""
        if self.ca is None:
            return "without TLS"
        cert = self.client_cert or self.cert
        shown = "" if cert is None else f", showing {cert.path}"
        return f"with TLS (trusting {self.ca.path}{shown})"


def connection_hint(
    details: str,
    *,
    tls: bool,
    server: str = "the scheduler",
    client: str = "here",
    probe: bool = True,
) -> str:
    """What to set where, when a connection to `server` failed with gRPC's `details`; or "".

    `tls`: whether the client connected with TLS; `client`: where its settings are, as words
    that follow "set FORGE_TLS_CA" ("here", "on the gateway"). When a plaintext client's
    connection was closed at once, `probe` asks the server for a TLS handshake (`serves_tls`,
    blocking for up to `PROBE_TIMEOUT_S`), so that the answer can be sure; without it the hint
    says "if".
    """
    reason = _openssl_reason(details)
    if "WRONG_VERSION_NUMBER" in details:
        return (
            f"{server} does not serve TLS: unset {CA} {client}, or give {server} {CERT} and {KEY} "
            f"({DOCS})"
        )
    if "CERTIFICATE_VERIFY_FAILED" in details:
        return (
            f"{server}'s certificate is not to be trusted ({reason}): {CA} {client} must name the "
            f"CA that signed it ({DOCS})"
        )
    if "Hostname Verification" in details:
        return (
            f"{server}'s certificate does not name the address used: connect by a name or IP "
            "address in its subjectAltName (one name per target; for several schedulers, a DNS "
            f"name for all of them in every certificate), or issue it one that names it ({DOCS})"
        )
    if "Socket closed" in details or "Connection reset" in details:
        if tls:
            return (
                f"{server} closed the connection during the TLS handshake: if it requires a "
                f"client certificate ({CLIENT_CA}), set {CLIENT_CERT} and {CLIENT_KEY} {client} to "
                f"one that CA signed ({DOCS})"
            )
        peer = _failed_peer(details)
        if not probe or peer is None:
            return (
                f"if {server} serves TLS, set {CA} {client} to the CA certificate that signed "
                f"{server}'s ({DOCS})"
            )
        if serves_tls(*peer):
            return (
                f"{server} serves TLS, and this connected without: set {CA} to the CA "
                f"certificate that signed {server}'s ({DOCS})"
            )
    return ""


def serves_tls(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the server at `host:port` answers a TLS handshake, whoever it claims to be."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except ssl.SSLError as error:
        # A server that wants a client certificate says so with an alert: it speaks TLS.
        return "ALERT" in (error.reason or "")
    except OSError:
        return False


def is_loopback(host: str) -> bool:
    """Whether a server listening on `host` (`127.0.0.1`, `[::1]`, `localhost`) is reachable
    from this machine only; every interface (`[::]`, `0.0.0.0`) and other addresses are not."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(variable: str, path: Path | None) -> PemFile | None:
    if path is None:
        return None
    try:
        return PemFile(variable, path, path.read_bytes())
    except OSError as error:
        raise TlsSettingsError(
            f"{variable}={path}: cannot read it ({error.strerror or error})."
        ) from None


def _check_ca(variable: str, path: Path | None) -> None:
    """Refuse a CA bundle with no certificate, now rather than at the first connection."""
    if path is None:
        return
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as error:
        raise TlsSettingsError(
            f"{variable}={path} holds no CA certificate in PEM ({error.reason or error}); name "
            f"the file that starts with -----BEGIN CERTIFICATE----- ({DOCS})."
        ) from None


def _check_pair(cert_variable: str, cert: Path | None, key_variable: str, key: Path | None) -> None:
    """Refuse a certificate and key that are not a pair in PEM, naming the settings."""
    if cert is None or key is None:
        return

    def encrypted() -> str:
        raise TlsSettingsError(
            f"{key_variable}={key} is encrypted; the services need the key unencrypted "
            f"(`openssl pkey -in {key.name} -out plain-{key.name}`), readable by their user "
            "only (chmod 600)."
        )

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=encrypted)
    except ssl.SSLError as error:
        raise TlsSettingsError(
            f"{cert_variable}={cert} and {key_variable}={key} are not a certificate and its "
            f"private key in PEM ({error.reason or error}) ({DOCS})."
        ) from None


_PEER = re.compile(r"\b(?:ipv4|ipv6):(\S+):(\d+): (?:Socket closed|Connection reset)")
_OPENSSL = re.compile(r"CERTIFICATE_VERIFY_FAILED: ([^:]+)")


def _failed_peer(details: str) -> tuple[str, int] | None:
    """The address gRPC names in `details` as the one whose connection closed."""
    match = _PEER.search(details)
    if match is None:
        return None
    return unquote(match[1]).strip("[]"), int(match[2])


def _openssl_reason(details: str) -> str:
    match = _OPENSSL.search(details)
    return match[1].strip() if match else "not signed by a CA this client trusts"
