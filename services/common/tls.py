"""mTLS material and the gRPC credentials built from it.

Every link between samenloop components is mutual TLS under the deployment's CA: a server
demands a client certificate, and a client checks the server's certificate against the same CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


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
    server_name: str | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
) -> grpc.Channel:
    """An mTLS channel to `target` (host:port). `server_name` overrides the name checked in
    the server certificate (defaults to the host in `target`)."""
    ca, cert, key = material.read()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    options: list[tuple[str, object]] = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, credentials, options=options)
