"""`azuraforge.tls`: the `FORGE_TLS_*` settings every service reads, and what a failed
connection says to fix, against real gRPC servers on loopback with a CA made for the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from azuraforge.tls import TlsSettings, TlsSettingsError, connection_hint, is_loopback, serves_tls
from tests.certificates import Certificates


def settings(**variables: Path | str) -> TlsSettings:
    return TlsSettings.from_env(
        {f"FORGE_TLS_{name.upper()}": str(v) for name, v in variables.items()}
    )


def server_tls(certificates: Certificates, *, require_clients: bool = False) -> TlsSettings:
    extra = {"client_ca": certificates.ca} if require_clients else {}
    return settings(cert=certificates.server_cert, key=certificates.server_key, **extra)


@asynccontextmanager
async def health_server(tls: TlsSettings) -> AsyncIterator[int]:
    """A gRPC server with only the health service, on a free loopback port; its port."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = tls.listen(server, "127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


async def check(target: str, tls: TlsSettings) -> grpc.aio.AioRpcError | None:
    """Call Health.Check on `target` as a client with `tls`; the error, or None when it worked."""
    async with tls.aio_channel(target) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        except grpc.aio.AioRpcError as error:
            return error
    return None


def hint_for(error: grpc.aio.AioRpcError | None, tls: TlsSettings) -> str:
    assert error is not None, "the call should have failed"
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    return connection_hint(error.details() or "", tls=tls.connects_with_tls)


# Settings


def test_no_variables_no_tls() -> None:
    tls = TlsSettings.from_env({"FORGE_TLS_CA": "  "})  # blank is unset

    assert not tls.serves_tls
    assert not tls.connects_with_tls
    assert tls.server_credentials() is None
    assert tls.channel_credentials() is None


def test_the_files_are_read_once_and_the_key_never_shown(certificates: Certificates) -> None:
    tls = settings(cert=certificates.server_cert, key=certificates.server_key, ca=certificates.ca)

    assert tls.serves_tls and tls.connects_with_tls
    assert tls.ca is not None and tls.ca.data == certificates.ca.read_bytes()
    assert "PRIVATE KEY" not in repr(tls)


def test_a_certificate_without_its_key_is_refused_by_name(certificates: Certificates) -> None:
    with pytest.raises(TlsSettingsError, match="FORGE_TLS_CERT and FORGE_TLS_KEY go together"):
        settings(cert=certificates.server_cert)
    with pytest.raises(TlsSettingsError, match="FORGE_TLS_CLIENT_CERT and FORGE_TLS_CLIENT_KEY"):
        settings(client_key=certificates.client_key)


def test_a_key_that_is_not_the_certificates_is_refused(certificates: Certificates) -> None:
    with pytest.raises(TlsSettingsError) as refused:
        settings(cert=certificates.server_cert, key=certificates.client_key)

    message = str(refused.value)
    assert "FORGE_TLS_CERT=" in message and "FORGE_TLS_KEY=" in message
    assert "KEY_VALUES_MISMATCH" in message


def test_an_encrypted_key_is_refused_with_how_to_decrypt_it(
    certificates: Certificates, tmp_path: Path
) -> None:
    key = serialization.load_pem_private_key(certificates.server_key.read_bytes(), None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"a passphrase"),
        )
    )

    with pytest.raises(TlsSettingsError, match=r"FORGE_TLS_KEY=.* is encrypted.*openssl pkey"):
        settings(cert=certificates.server_cert, key=encrypted)


def test_a_ca_file_without_a_certificate_or_missing_is_refused(
    certificates: Certificates, tmp_path: Path
) -> None:
    with pytest.raises(TlsSettingsError, match=r"FORGE_TLS_CA=.* holds no CA certificate"):
        settings(ca=certificates.server_key)
    with pytest.raises(TlsSettingsError, match=r"FORGE_TLS_CA=.*missing.pem: cannot read it"):
        settings(ca=tmp_path / "missing.pem")


def test_requiring_client_certificates_needs_a_server_certificate(
    certificates: Certificates,
) -> None:
    with pytest.raises(TlsSettingsError, match=r"FORGE_TLS_CLIENT_CA .* set FORGE_TLS_CERT"):
        settings(client_ca=certificates.ca)


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "[::1]", "::1", "localhost", "127.0.0.2"]))
    assert not any(map(is_loopback, ["[::]", "0.0.0.0", "", "192.0.2.1", "forge.example"]))


# Connections


def test_a_client_that_trusts_the_ca_gets_in(certificates: Certificates) -> None:
    async def scenario() -> None:
        async with health_server(server_tls(certificates)) as port:
            for target in (f"127.0.0.1:{port}", f"localhost:{port}"):
                assert await check(target, settings(ca=certificates.ca)) is None

    asyncio.run(scenario())


def test_a_plaintext_client_is_told_to_set_the_ca(certificates: Certificates) -> None:
    async def scenario() -> str:
        async with health_server(server_tls(certificates)) as port:
            assert serves_tls("127.0.0.1", port)
            plaintext = TlsSettings()
            return hint_for(await check(f"127.0.0.1:{port}", plaintext), plaintext)

    hint = asyncio.run(scenario())

    assert hint.startswith("the scheduler serves TLS, and this connected without: set FORGE_TLS_CA")


def test_a_client_trusting_another_ca_is_told_its_ca_is_wrong(
    certificates: Certificates,
) -> None:
    async def scenario() -> str:
        async with health_server(server_tls(certificates)) as port:
            wrong = settings(ca=certificates.other_ca)
            return hint_for(await check(f"127.0.0.1:{port}", wrong), wrong)

    hint = asyncio.run(scenario())

    assert "the scheduler's certificate is not to be trusted" in hint
    assert "FORGE_TLS_CA here must name the CA that signed it" in hint


def test_a_tls_client_of_a_plaintext_server_is_told_which_side_to_change(
    certificates: Certificates,
) -> None:
    async def scenario() -> str:
        async with health_server(TlsSettings()) as port:
            assert not serves_tls("127.0.0.1", port)
            tls = settings(ca=certificates.ca)
            return hint_for(await check(f"127.0.0.1:{port}", tls), tls)

    hint = asyncio.run(scenario())

    assert hint.startswith("the scheduler does not serve TLS: unset FORGE_TLS_CA here")


def test_a_certificate_that_does_not_name_the_target_is_explained(
    certificates: Certificates,
) -> None:
    async def scenario() -> str:
        async with health_server(server_tls(certificates)) as port:
            tls = settings(ca=certificates.ca)
            # Several addresses in one target: gRPC checks the certificate against them all.
            both = f"ipv4:127.0.0.1:{port},127.0.0.1:{port}"
            return hint_for(await check(both, tls), tls)

    hint = asyncio.run(scenario())

    assert "certificate does not name the address used" in hint


def test_mutual_tls_lets_in_only_clients_with_a_certificate(
    certificates: Certificates,
) -> None:
    async def scenario() -> tuple[str, grpc.aio.AioRpcError | None, grpc.aio.AioRpcError | None]:
        async with health_server(server_tls(certificates, require_clients=True)) as port:
            target = f"127.0.0.1:{port}"
            anonymous = settings(ca=certificates.ca)
            hint = hint_for(await check(target, anonymous), anonymous)
            client = settings(
                ca=certificates.ca,
                client_cert=certificates.client_cert,
                client_key=certificates.client_key,
            )
            # A server's certificate, shown as a client's: how schedulers reach trainers.
            server = settings(
                ca=certificates.ca, cert=certificates.server_cert, key=certificates.server_key
            )
            return hint, await check(target, client), await check(target, server)

    hint, with_client_certificate, with_server_certificate = asyncio.run(scenario())

    assert "requires a client certificate (FORGE_TLS_CLIENT_CA)" in hint
    assert "set FORGE_TLS_CLIENT_CERT and FORGE_TLS_CLIENT_KEY" in hint
    assert with_client_certificate is None
    assert with_server_certificate is None


def test_nothing_to_say_about_a_server_that_is_not_there() -> None:
    details = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
    details += "Failed to connect to remote host: Connection refused"

    assert connection_hint(details, tls=False) == ""
    assert connection_hint(details, tls=True) == ""
