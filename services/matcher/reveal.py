"""Reveal requests: what the matcher asks a partner to disclose, signed with its Ed25519 key.

The payload is a JSON object; the signature covers its RFC 8785 canonical bytes exactly, and
those bytes travel as `SignedPayload.payload`, so a gateway verifies the signature over the bytes
it received and only then parses them. `type` separates this from every other signed object.
The fields asked for are exactly `policy.disclosure.fields_for(partner_kind)`; the recipient key
is the one in the signed policy, so a compromised matcher cannot redirect a disclosure without
the gateway noticing (it checks both against the policy it verified itself).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crypto.errors import InvalidSignature
from crypto.jcs import canonical_bytes
from crypto.signing import SigningKey, VerifyKey
from services.matcher.clock import rfc3339

PAYLOAD_TYPE = "samenloop.v1.RevealRequest"
_TEXT_FIELDS = ("name", "alert", "policy_id", "policy_digest", "partner", "signal_id",
                "recipient_public_key", "create_time", "expire_time")


class MalformedRevealRequest(InvalidSignature):
    """Signed by the matcher, but not a well-formed reveal request (a field missing or of the
    wrong type): what a compromised or broken matcher could send. Refused, never a crash."""


@dataclass(frozen=True)
class SignedRequest:
    payload: bytes
    signature: bytes
    key_id: str


def build_payload(
    *,
    name: str,
    alert: str,
    policy_id: str,
    policy_version: int,
    policy_digest: str,
    partner: str,
    signal_id: str,
    fields: Sequence[str],
    recipient_public_key: str,
    create_time: datetime,
    expire_time: datetime,
    traceparent: str,
) -> dict[str, Any]:
    """The reveal request document (pure). Times are naive UTC, rendered RFC 3339."""
    return {
        "type": PAYLOAD_TYPE,
        "name": name,
        "alert": alert,
        "policy_id": policy_id,
        "policy_version": policy_version,
        "policy_digest": policy_digest,
        "partner": partner,
        "signal_id": signal_id,
        "fields": list(fields),
        "recipient_public_key": recipient_public_key,
        "create_time": rfc3339(create_time),
        "expire_time": rfc3339(expire_time),
        "traceparent": traceparent,
    }


def sign(payload: dict[str, Any], key: SigningKey) -> SignedRequest:
    data = canonical_bytes(payload)
    return SignedRequest(data, key.sign_bytes(data), key.key_id)


def verify(signed: SignedRequest, key: VerifyKey) -> dict[str, Any]:
    """Check the signature over the exact payload bytes, then parse them.

    Raises `InvalidSignature` if the key id or signature does not match, or the payload is
    not a reveal request in canonical form.
    """
    if signed.key_id != key.key_id:
        raise InvalidSignature(f"signed by {signed.key_id}, expected {key.key_id}")
    key.verify_bytes(signed.payload, signed.signature)
    try:
        doc = json.loads(signed.payload)
    except ValueError:
        raise InvalidSignature("the signed payload is not JSON") from None
    if not isinstance(doc, dict) or doc.get("type") != PAYLOAD_TYPE:
        raise InvalidSignature("the signed payload is not a reveal request")
    if canonical_bytes(doc) != signed.payload:
        raise InvalidSignature("the signed payload is not in canonical form")
    _check_shape(doc)
    return doc


def _check_shape(doc: dict[str, Any]) -> None:
    """Every field a gateway reads, with its type; times as `rfc3339` writes them."""
    for key in _TEXT_FIELDS:
        if not isinstance(doc.get(key), str):
            raise MalformedRevealRequest(f"the reveal request has no text field {key!r}")
    version = doc.get("policy_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedRevealRequest("the reveal request's policy_version is not a number")
    fields = doc.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise MalformedRevealRequest("the reveal request's fields are not a list of names")
    for key in ("create_time", "expire_time"):
        try:
            datetime.strptime(doc[key], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise MalformedRevealRequest(
                f"the reveal request's {key} is not a time YYYY-MM-DDTHH:MM:SSZ") from None
