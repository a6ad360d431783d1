"""A private CA and the certificates a TLS cluster needs, made for a test with `cryptography`.

`make_certificates(folder)` writes, as PEM files an operator would make with openssl
(docs/running.md, "TLS between machines"):

- `ca.pem`: the cluster's CA, which signed the certificates below;
- `server.pem`, `server-key.pem`: a certificate for `localhost` and `127.0.0.1`, good for
  serving and as a client (the scheduler's and the trainers' in a test);
- `client.pem`, `client-key.pem`: a client's certificate, for mutual TLS;
- `other-ca.pem`: a CA that signed nothing here, the wrong CA to trust.

Keys are EC P-256: quick to make, and every TLS library here speaks them.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=2)
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Certificates:
    """The files `make_certificates` wrote."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path

    def server_env(self) -> dict[str, str]:
        """A scheduler's or trainer's `FORGE_TLS_*`: serve TLS, trust the CA as a client."""
        return {
            "FORGE_TLS_CERT": str(self.server_cert),
            "FORGE_TLS_KEY": str(self.server_key),
            "FORGE_TLS_CA": str(self.ca),
        }

    def client_env(self) -> dict[str, str]:
        """A gateway's or a `forge` command's: trust the CA."""
        return {"FORGE_TLS_CA": str(self.ca)}


@dataclass(frozen=True)
class _Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def make_certificates(folder: Path) -> Certificates:
    """Write a CA, a server and a client certificate it signed, and another CA into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    authority = _authority("AzuraForge test CA")
    server_key, server = _issue(authority, "forge server", server=True)
    client_key, client = _issue(authority, "forge client", server=False)
    other = _authority("Another CA")
    files = Certificates(
        ca=_write_certificate(folder / "ca.pem", authority.certificate),
        server_cert=_write_certificate(folder / "server.pem", server),
        server_key=_write_key(folder / "server-key.pem", server_key),
        client_cert=_write_certificate(folder / "client.pem", client),
        client_key=_write_key(folder / "client-key.pem", client_key),
        other_ca=_write_certificate(folder / "other-ca.pem", other.certificate),
    )
    return files


def _authority(name: str) -> _Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        _builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Authority(key, certificate)


def _issue(
    authority: _Authority, name: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    # A server's certificate is its client certificate too (mutual TLS between services).
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _builder(subject, authority.certificate.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = [x509.DNSName(host) for host in LOOPBACK_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_ADDRESSES]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(authority.key, hashes.SHA256())


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
    )


def _write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path
