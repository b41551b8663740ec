"""Who is calling: the organisation and role come from the verified client certificate.

gRPC has already verified the chain against the deployment CA before a handler runs; here we
only read the subject (see docs/decisions/0003-certificate-identity.md).
"""

from __future__ import annotations

import grpc
from crypto.pki import PeerIdentity, identity_from_certificate


class UnauthenticatedPeer(Exception):
    """The call carried no usable client certificate."""


def peer_identity(context: grpc.ServicerContext) -> PeerIdentity:
    auth = context.auth_context()
    certs = auth.get("x509_pem_cert")
    if not certs:
        raise UnauthenticatedPeer("no client certificate on this call")
    return identity_from_certificate(bytes(certs[0]))  # grpc-stubs type the values loosely
