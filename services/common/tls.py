"""mTLS material and the gRPC credentials built from it.

Every link between samenloop components is mutual TLS under the deployment's CA: a server
demands a client certificate, and a client checks the server's certificate against the same CA
and that the server has the role (and organisation) it meant to reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

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
        out = []
        for label, path in (("CA certificate", self.ca_cert), ("certificate", self.cert),
                            ("private key", self.key)):
            try:
                out.append(Path(path).read_bytes())
            except OSError as exc:
                raise TlsConfigError(
                    f"cannot read the {label} at {path} ({exc.strerror}); create the files with "
                    "`samenloop pki dev-setup --dir DIR` or point the configuration at them"
                ) from None
        return out[0], out[1], out[2]


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
