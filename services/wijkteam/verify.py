"""The inbox's one gate before an identity is shown: verify the disclosure, then open it.

The check itself is shared with the gateway that seals and signs (services/common/disclosure.py,
ADR 0017): the partner's Ed25519 statement over the reveal request name and the SHA-256 of the
box, verified with the key the partner published to the team (not one the matcher hands over);
the box opened with the team's private key; its plaintext bound to this alert, policy and
partner and the signal the matcher names, with no field the policy does not allow for the
partner's kind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from crypto.sealing import X25519PrivateKey
from crypto.signing import VerifyKey
from samenloop.v1 import wijkteam_pb2
from services.common.disclosure import DisclosureRejected, verify_disclosure

__all__ = ["DisclosureRejected", "open_verified"]


def open_verified(
    alert: wijkteam_pb2.Alert,
    disclosure: wijkteam_pb2.Disclosure,
    *,
    private_key: X25519PrivateKey,
    partner_keys: Mapping[str, VerifyKey],
    allowed_fields: Collection[str],
) -> dict[str, str]:
    """The disclosed fields, or `DisclosureRejected` (its message holds no personal data)."""
    if not disclosure.HasField("sealed"):
        raise DisclosureRejected("the disclosure holds no sealed box")
    opened = verify_disclosure(
        ciphertext=bytes(disclosure.sealed.ciphertext),
        signature=bytes(disclosure.disclosure_signature),
        key_id=disclosure.disclosure_key_id,
        reveal_request=disclosure.reveal_request,
        partner=disclosure.partner,
        partner_keys=partner_keys,
        private_key=private_key,
        alert=alert.name,
        policy_id=alert.policy_id,
        policy_version=alert.policy_version,
        policy_digest=alert.policy_digest,
        allowed_fields=allowed_fields,
        signal_id=disclosure.signal_id,
    )
    return opened.fields
