"""A disclosure bound to its reveal request: what the gateway seals and signs, the inbox checks.

One place for both ends (ADR 0017), so the gateway and the wijkteam inbox cannot drift apart.

The gateway seals (X25519 sealed box, crypto.sealing) to the recipient key of the policy a
plaintext that names, next to the identity fields, everything the disclosure is about:

    {"type": "samenloop.v1.DisclosurePlaintext", "reveal_request": "revealRequests/…",
     "alert": "alerts/…", "policy_id": …, "policy_version": …, "policy_digest": …,
     "signal_id": …, "partner": <organisation>, "fields": {name: value, …}}

and signs with its own Ed25519 disclosure key (registered with the matcher and published to
the teams) the statement

    b"samenloop disclosure v1\\n" + RFC 8785 JSON of
        {"box_sha256": <hex SHA-256 of the sealed box>, "partner": <organisation>,
         "reveal_request": "revealRequests/…"}

The inbox (`verify_disclosure`) checks the signature with the partner's registered key, opens
the box, and checks that the plaintext names the alert, policy and partner it is looking at and
the signed reveal request, and holds only fields the alert says were asked. A box moved under
another alert fails the alert check; a box sealed by anyone else (a compromised matcher) has no
valid partner signature; a signed box moved to another reveal request fails the statement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from crypto.errors import CryptoError, DecryptionFailed, InvalidSignature
from crypto.jcs import canonical_bytes
from crypto.sealing import X25519PrivateKey, open_sealed, seal
from crypto.signing import SigningKey, VerifyKey

PLAINTEXT_TYPE: Final = "samenloop.v1.DisclosurePlaintext"
STATEMENT_CONTEXT: Final = b"samenloop disclosure v1\n"


class DisclosureRejected(Exception):
    """The inbox must not show this disclosure; the message says why (no personal data)."""


@dataclass(frozen=True)
class Binding:
    """What a disclosure is about: the request, its alert and policy, the signal and partner."""

    reveal_request: str
    alert: str
    policy_id: str
    policy_version: int
    policy_digest: str
    signal_id: str
    partner: str


@dataclass(frozen=True)
class SignedDisclosure:
    """What the gateway submits: the sealed box and its signature."""

    ciphertext: bytes
    recipient_public_key: str
    signature: bytes
    key_id: str


def statement(reveal_request: str, box: bytes, partner: str) -> bytes:
    """The exact bytes the gateway's disclosure signature covers."""
    body = {"box_sha256": hashlib.sha256(box).hexdigest(), "partner": partner,
            "reveal_request": reveal_request}
    return STATEMENT_CONTEXT + canonical_bytes(body)


def plaintext(binding: Binding, fields: Mapping[str, str]) -> bytes:
    doc: dict[str, Any] = {
        "type": PLAINTEXT_TYPE,
        "reveal_request": binding.reveal_request,
        "alert": binding.alert,
        "policy_id": binding.policy_id,
        "policy_version": binding.policy_version,
        "policy_digest": binding.policy_digest,
        "signal_id": binding.signal_id,
        "partner": binding.partner,
        "fields": dict(fields),
    }
    return canonical_bytes(doc)


def seal_disclosure(binding: Binding, fields: Mapping[str, str], recipient_public_key: str,
                    key: SigningKey) -> SignedDisclosure:
    """Seal `fields` with their binding to the recipient (base64 X25519) and sign the statement."""
    box = seal(recipient_public_key, plaintext(binding, fields))
    signature = key.sign_bytes(statement(binding.reveal_request, box, binding.partner))
    return SignedDisclosure(box, recipient_public_key, signature, key.key_id)


@dataclass(frozen=True)
class OpenedDisclosure:
    binding: Binding
    fields: dict[str, str]


def verify_disclosure(
    *,
    ciphertext: bytes,
    signature: bytes,
    key_id: str,
    reveal_request: str,
    partner: str,
    partner_keys: Mapping[str, VerifyKey],
    private_key: X25519PrivateKey,
    alert: str,
    policy_id: str,
    policy_version: int,
    policy_digest: str,
    allowed_fields: Collection[str],
    signal_id: str | None = None,
) -> OpenedDisclosure:
    """Check a disclosure shown under `alert` and open it; raise `DisclosureRejected` if not.

    `partner_keys` maps organisation ids to their registered disclosure keys (as published to
    the teams, not as the matcher says). `allowed_fields` are the field names the alert lists
    for this disclosure (the policy's fields for the partner's kind). `signal_id`, when given,
    is the signal the matcher says the disclosure is about: the box must name the same one.
    """
    key = partner_keys.get(partner)
    if key is None:
        raise DisclosureRejected(f"no registered disclosure key for partner {partner}")
    if not signature:
        raise DisclosureRejected(f"the disclosure from {partner} is not signed")
    if key_id != key.key_id:
        raise DisclosureRejected(
            f"the disclosure is signed with {key_id or 'no key'}, but {partner}'s registered "
            f"key is {key.key_id}")
    try:
        key.verify_bytes(statement(reveal_request, ciphertext, partner), signature)
    except InvalidSignature:
        raise DisclosureRejected(
            f"the signature of {partner} does not cover this box for {reveal_request}: it was "
            "changed, moved or sealed by someone else") from None
    try:
        doc = json.loads(open_sealed(private_key, ciphertext))
    except (DecryptionFailed, ValueError):
        raise DisclosureRejected("the box does not open with this team's key") from None
    except RecursionError:  # a partner's JSON nested thousands deep
        raise DisclosureRejected("the box does not hold a samenloop disclosure") from None
    except CryptoError as exc:
        raise DisclosureRejected(f"the box is malformed: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != PLAINTEXT_TYPE:
        raise DisclosureRejected("the box does not hold a samenloop disclosure")
    expected = {
        "reveal_request": reveal_request, "alert": alert, "policy_id": policy_id,
        "policy_version": policy_version, "policy_digest": policy_digest, "partner": partner,
    }
    if signal_id is not None:
        expected["signal_id"] = signal_id
    for name, value in expected.items():
        if doc.get(name) != value:
            raise DisclosureRejected(
                f"the box is bound to {name} {str(doc.get(name))[:80]!r}, not {str(value)[:80]!r}: "
                "it was moved from another disclosure")
    fields = doc.get("fields")
    if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise DisclosureRejected("the box's fields are malformed")
    extra = sorted(set(fields) - set(allowed_fields))
    if extra:
        raise DisclosureRejected(f"the box holds fields the policy does not allow: "
                                 f"{', '.join(extra)}")
    binding = Binding(reveal_request, alert, policy_id, policy_version, policy_digest,
                      str(doc.get("signal_id", "")), partner)
    return OpenedDisclosure(binding, dict(fields))
