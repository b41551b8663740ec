"""mTLS material and the gRPC credentials built from it.

Every link between samenloop components is mutual TLS under the deployment's CA: a server
demands a client certificate, and a client checks the server's certificate against the same CA
and that the server has the role (and organisation) it meant to reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto.keys import read_private_key_file
from crypto.pki import component_dns_name
from services.common.server_identity import (
    ExpectedServer,
    ServerIdentityCheck,
    fetch_server_certificate,
)


class TlsConfigError(Exception):
    """The TLS files are missing or unreadable; the message names the file and what to do."""


@dataclass(frozen=True)
class TlsMaterial:
    """Paths to the CA certificate and this component's certificate and private key (PEM)."""

    ca_cert: Path
    cert: Path
    key: Path

    @classmethod
    def from_dir(cls, directory: Path, component: str) -> TlsMaterial:
        """The layout `samenloop pki dev-setup` writes: `ca/ca.crt`, `<component>/tls.crt|key`."""
        directory = Path(directory)
        return cls(
            ca_cert=directory / "ca" / "ca.crt",
            cert=directory / component / "tls.crt",
            key=directory / component / "tls.key",
        )

    def read(self) -> tuple[bytes, bytes, bytes]:
        """The three PEM files, after `check`: a foreseeable mistake is one clear line here,
        not a TLS handshake failure later."""
        self.check()
        return (Path(self.ca_cert).read_bytes(), Path(self.cert).read_bytes(),
                read_private_key_file(self.key))

    def check(self, now: datetime | None = None) -> None:
        """Refuse missing or unreadable files, an exposed private key, a file that is not a PEM
        certificate, a certificate outside its validity period, and a key that does not belong
        to the certificate. Raises `TlsConfigError` naming the file and the fix."""
        from crypto.errors import KeyFileError

        try:
            key_pem = read_private_key_file(self.key)
        except KeyFileError as exc:
            raise TlsConfigError(f"TLS private key: {exc}") from None
        ca = _load_pem_certificate("CA certificate", self.ca_cert)
        cert = _load_pem_certificate("certificate", self.cert)
        moment = now or datetime.now(UTC)
        for label, path, item in (("CA certificate", self.ca_cert, ca),
                                  ("certificate", self.cert, cert)):
            if moment > item.not_valid_after_utc:
                raise TlsConfigError(
                    f"the {label} {path} expired on {item.not_valid_after_utc:%Y-%m-%d %H:%M} UTC;"
                    f" issue a new one (development: `samenloop pki issue` or `pki dev-setup`)")
            if moment < item.not_valid_before_utc:
                raise TlsConfigError(
                    f"the {label} {path} is not valid before "
                    f"{item.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check this machine's clock")
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise TlsConfigError(
                f"the TLS private key {self.key} is not an unencrypted PEM private key") from None
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            raise TlsConfigError(
                f"the TLS private key {self.key} does not belong to the certificate {self.cert};"
                " point `tls.key` at the key issued with it")


def _load_pem_certificate(label: str, path: Path) -> x509.Certificate:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TlsConfigError(
            f"cannot read the {label} at {path} ({exc.strerror}); create the files with "
            "`samenloop pki dev-setup --dir DIR` or point the configuration at them"
        ) from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise TlsConfigError(f"the {label} {path} is not a PEM certificate") from None


def server_credentials(material: TlsMaterial) -> grpc.ServerCredentials:
    ca, cert, key = material.read()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def secure_channel(
    target: str,
    material: TlsMaterial,
    *,
    server_role: str,
    server_organisation: str | None = None,
    server_name: str | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
) -> grpc.Channel:
    """An mTLS channel to `target` (host:port) that talks only to the expected server.

    Before the first call the server's certificate must show role `server_role` (and
    organisation `server_organisation` when given), or the call fails with a one-line
    `ServerIdentityError` and nothing is sent. Every TLS handshake also checks the DNS name
    `server_name`, by default the component's `<server_role>.samenloop.internal`
    (see services/common/server_identity.py and ADR 0003).
    """
    ca, cert, key = material.read()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    dns_name = server_name or component_dns_name(server_role)
    options: list[tuple[str, object]] = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.ssl_target_name_override", dns_name),
    ]
    channel = grpc.secure_channel(target, credentials, options=options)
    expected = ExpectedServer(server_role, server_organisation, dns_name)

    def fetch(timeout: float) -> bytes:
        return fetch_server_certificate(target, ca, str(material.cert), str(material.key),
                                        timeout)

    return grpc.intercept_channel(channel, ServerIdentityCheck(target, expected, fetch))
