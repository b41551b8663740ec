"""The matcher's check of a partner gateway's signature on a sealed disclosure (ADR 0017).

The matcher cannot open a sealed box, but it can refuse one its partner did not sign, so a
forged or replayed box never reaches a team. The statement format is shared with the gateway and
the inbox in services/common/disclosure.py.
"""

from __future__ import annotations

from crypto.errors import InvalidSignature
from services.common.disclosure import statement as disclosure_statement
from services.matcher.errors import InvalidArgument
from services.matcher.settings import PartnerEntry


def check_disclosure_signature(
    partner: PartnerEntry, reveal_request: str, box: bytes, signature: tuple[bytes, str] | None
) -> tuple[bytes, str] | None:
    """A sealed disclosure must carry the signature of the partner's registered key (ADR 0017).

    A partner without a registered `disclosure_key` may still answer unsigned (older gateways);
    the team's inbox refuses such boxes.
    """
    key = partner.disclosure_key
    if key is None:
        return signature if signature and signature[0] else None
    if signature is None or not signature[0]:
        raise InvalidArgument("disclosure_signature is required: this partner has a registered "
                              "disclosure key")
    if signature[1] != key.key_id:
        raise InvalidArgument(f"disclosure_key_id {signature[1][:40]!r} is not the key registered "
                              f"for {partner.organisation} ({key.key_id})")
    try:
        key.verify_bytes(disclosure_statement(reveal_request, box, partner.organisation),
                         signature[0])
    except InvalidSignature:
        raise InvalidArgument("disclosure_signature does not verify over this box and reveal "
                              "request with the partner's registered key") from None
    return signature
