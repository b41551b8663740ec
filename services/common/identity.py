"""Who is calling: the organisation and role come from the verified client certificate.

gRPC has already verified the chain against the deployment CA before a handler runs; here we
only read the subject (see docs/decisions/0003-certificate-identity.md). Parsing is cached per
certificate, since one peer makes many calls.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import grpc

from crypto.errors import PkiError
from crypto.pki import PeerIdentity, identity_from_certificate


class UnauthenticatedPeer(Exception):
    """The call carried no usable client certificate."""


@lru_cache(maxsize=1024)
def _identity(pem: bytes) -> PeerIdentity:
    return identity_from_certificate(pem)


def peer_identity(context: grpc.ServicerContext) -> PeerIdentity:
    found: Any = context.auth_context().get("x509_pem_cert") or []
    certs: list[bytes] = [found] if isinstance(found, bytes) else list(found)
    if len(certs) != 1:
        raise UnauthenticatedPeer("the call carries no (single) verified client certificate")
    try:
        return _identity(bytes(certs[0]))
    except PkiError as exc:
        raise UnauthenticatedPeer(f"the client certificate has no usable identity: {exc}") from None
