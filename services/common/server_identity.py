"""Clients check who the server is before they send anything (ADR 0003, "Server identity").

The CA vouches for every component, so a valid chain alone does not tell a gateway that it is
talking to the matcher: the police gateway's certificate is just as valid. Two checks close
that, one for a clear error and one that binds every later connection:

1. Before the first call on a channel, `ServerIdentityCheck` opens one TLS connection to the
   same target with the same CA and client certificate (Python `ssl`), reads the server's
   certificate and compares its role (OU) and, when configured, its organisation with what the
   caller expects. A mismatch fails the call with a one-line `ServerIdentityError` naming
   expected and found identity; nothing of the request has been sent.
2. The gRPC channel itself checks the component's DNS name (`<name>.samenloop.internal` by
   default, `ssl_target_name_override`), so a later reconnect to another component fails the
   TLS handshake even if the probe's connection reached the right one.

gRPC Python exposes no client-side hook into certificate verification, hence the probe.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from crypto.errors import PkiError
from crypto.pki import PeerIdentity, identity_from_certificate


@dataclass(frozen=True)
class ExpectedServer:
    """Whom a client means to reach: a role, optionally an organisation id, and a DNS name."""

    role: str
    organisation: str | None = None
    dns_name: str = ""

    def describe(self) -> str:
        return f"role {self.role}" + (
            f" of organisation {self.organisation}" if self.organisation else ""
        )


class ServerIdentityError(grpc.RpcError):  # type: ignore[misc]
    """The server is not who the client expected, or could not be reached to check it.

    An `RpcError` with `code()` and `details()`, so callers that report gRPC failures report
    this one the same way, in one line.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self._code = code
        self._message = message

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def __str__(self) -> str:
        return self._message


def _host_port(target: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `dns:///host:port` -> (host, port)."""
    rest = target.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ServerIdentityError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{target!r} is not HOST:PORT; give the port too"
        )
    return host.strip("[]") or "localhost", int(port)


def fetch_server_certificate(
    target: str, ca_pem: bytes, cert_path: str, key_path: str, timeout: float
) -> bytes:
    """The DER certificate the server at `target` presents, verified against `ca_pem`."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem.decode("ascii"))
    context.check_hostname = False  # the role and organisation are checked instead
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(cert_path, key_path)
    context.set_alpn_protocols(["h2"])
    host, port = _host_port(target)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise ServerIdentityError(
            grpc.StatusCode.UNAVAILABLE,
            f"the server at {target} has a certificate this deployment's CA did not issue "
            f"({exc.verify_message}); check the address and the CA file",
        ) from None
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ServerIdentityError(
            grpc.StatusCode.UNAVAILABLE,
            f"cannot reach {target} ({reason}); is the server running there, and is the "
            "address right?",
        ) from None
    if not der:
        raise ServerIdentityError(
            grpc.StatusCode.UNAVAILABLE, f"the server at {target} presented no certificate"
        )
    return der


def check_identity(found: PeerIdentity, expected: ExpectedServer, target: str) -> None:
    """Raise `ServerIdentityError` (UNAUTHENTICATED) unless `found` is what was expected."""
    wrong_role = found.role != expected.role
    wrong_org = expected.organisation is not None and found.organisation != expected.organisation
    if wrong_role or wrong_org:
        raise ServerIdentityError(
            grpc.StatusCode.UNAUTHENTICATED,
            f"the server at {target} is not the expected {expected.role}: expected "
            f"{expected.describe()}, found role {found.role} of organisation "
            f"{found.organisation} ({found.common_name}); nothing was sent",
        )


class ServerIdentityCheck(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc,type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc,type-arg]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc,type-arg]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc,type-arg]
):
    """Checks the server's certificate once, before the first call of any kind goes out."""

    def __init__(
        self, target: str, expected: ExpectedServer, fetch: Callable[[float], bytes]
    ) -> None:
        self._target = target
        self._expected = expected
        self._fetch = fetch
        self._lock = threading.Lock()
        self._verified = False

    def verify(self, timeout: float | None = None) -> None:
        """Probe the server now (idempotent once it succeeded)."""
        with self._lock:
            if self._verified:
                return
            der = self._fetch(min(timeout or 10.0, 10.0))
            try:
                found = identity_from_certificate(der)
            except PkiError as exc:
                raise ServerIdentityError(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"the server at {self._target} has no usable identity ({exc}); expected "
                    f"{self._expected.describe()}; nothing was sent",
                ) from None
            check_identity(found, self._expected, self._target)
            self._verified = True

    def _before(self, details: grpc.ClientCallDetails) -> None:
        self.verify(getattr(details, "timeout", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self._before(details)
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        self._before(details)
        return continuation(details, request)

    def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Iterator[Any]
    ) -> Any:
        self._before(details)
        return continuation(details, request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Iterator[Any]
    ) -> Any:
        self._before(details)
        return continuation(details, request_iterator)
