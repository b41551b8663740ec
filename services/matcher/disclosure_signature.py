"""The matcher's check of a partner gateway's signature on a sealed disclosure (ADR 0017, 0029).

The matcher cannot open a sealed box, but it can refuse one its partner did not sign, so a
forged or replayed box never reaches a team. Every sealed box must be signed: a partner without
a registered disclosure key cannot submit one at all (ADR 0029). The statement format is shared
with the gateway and the inbox in services/common/disclosure.py.
"""

from __future__ import annotations

from crypto.errors import InvalidSignature
from services.common.disclosure import statement as disclosure_statement
from services.common.error_reason import DISCLOSURE_KEY_NOT_REGISTERED
from services.matcher.errors import FailedPrecondition, InvalidArgument
from services.matcher.settings import PartnerEntry


def check_disclosure_signature(
    partner: PartnerEntry, reveal_request: str, box: bytes, signature: tuple[bytes, str] | None
) -> tuple[bytes, str]:
    """The signature over `box` for `reveal_request`, verified with the partner's registered key.

    No registered key: FAILED_PRECONDITION (reason DISCLOSURE_KEY_NOT_REGISTERED); a missing,
    foreign or wrong signature: INVALID_ARGUMENT.
    """
    key = partner.disclosure_key
    if key is None:
        raise FailedPrecondition(
            f"{partner.organisation} has no registered disclosure key, so its sealed disclosure "
            "cannot be verified and is refused; the matcher operator registers the gateway's "
            f"disclosure.key.pub as partners.{partner.organisation}.disclosure_key",
            reason=DISCLOSURE_KEY_NOT_REGISTERED)
    if signature is None or not signature[0]:
        raise InvalidArgument("disclosure_signature is required: every sealed disclosure is "
                              "signed with the partner's registered disclosure key")
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
