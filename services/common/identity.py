"""Who is calling: the organisation and role come from the verified client certificate.

gRPC has already verified the chain against the deployment CA before a handler runs; here we
only read the subject (see docs/decisions/0003-certificate-identity.md). Parsing is cached per
certificate, since one peer makes many calls.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import grpc
from cryptography import x509

from crypto.errors import PkiError
from crypto.pki import PeerIdentity, identity_from_certificate


class UnauthenticatedPeer(Exception):
    """The call carried no usable client certificate."""


@lru_cache(maxsize=1024)
def _identity(pem: bytes) -> PeerIdentity:
    return identity_from_certificate(pem)


@lru_cache(maxsize=1024)
def _certificate(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _peer_pem(context: grpc.ServicerContext) -> bytes:
    found: Any = context.auth_context().get("x509_pem_cert") or []
    certs: list[bytes] = [found] if isinstance(found, bytes) else list(found)
    if len(certs) != 1:
        raise UnauthenticatedPeer("the call carries no (single) verified client certificate")
    return bytes(certs[0])


def peer_certificate(context: grpc.ServicerContext) -> x509.Certificate:
    """The caller's verified certificate (for the deny-list: serial and fingerprint)."""
    try:
        return _certificate(_peer_pem(context))
    except ValueError:
        raise UnauthenticatedPeer("the client certificate cannot be parsed") from None


def peer_identity(context: grpc.ServicerContext) -> PeerIdentity:
    pem = _peer_pem(context)
    try:
        return _identity(pem)
    except PkiError as exc:
        raise UnauthenticatedPeer(f"the client certificate has no usable identity: {exc}") from None
