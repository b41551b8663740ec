"""`samenloop gateway inquire`: an involved professional asks about one household.

The address is normalised and pseudonymised like any signal, the reason and role are codes from
the versioned lists (domain/codes.yaml), and the answer is one bit: "coordinated approach
indicated; the team will contact you" or "not indicated" (ADR 0012). The request id is chosen
here and reused on retries, so a lost answer is asked again without a second inquiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from crypto.pseudonyms import voprf_input
from domain.identifiers.address import Address, parse_address
from samenloop.v1 import common_pb2, partner_pb2
from services.partner_gateway.connections import call_with_retry
from services.partner_gateway.runtime import Gateway

INDICATED = "coordinated approach indicated; the team will contact you"
NOT_INDICATED = "not indicated"


@dataclass(frozen=True)
class InquiryAnswer:
    indicated: bool

    @property
    def text(self) -> str:
        return INDICATED if self.indicated else NOT_INDICATED


def parse_address_option(text: str) -> Address:
    """`"3072AB 14"`, `"3072 ab 14-2"`: postcode, then the house number with letter/addition."""
    parts = text.strip().split()
    if len(parts) < 2:
        from domain.errors import InvalidValue

        raise InvalidValue("address", "give the postcode and house number, e.g. \"3072AB 14\"",
                           code="address.format")
    if len(parts) >= 3 and len(parts[0]) == 4 and len(parts[1]) == 2:
        postcode, number = parts[0] + parts[1], " ".join(parts[2:])
    else:
        postcode, number = parts[0], " ".join(parts[1:])
    return parse_address(postcode, number)


def inquire(gw: Gateway, address: Address, *, policy: str, reason: str, role: str,
            request_id: str | None = None) -> InquiryAnswer:
    """Ask the matcher about the household at `address` under `policy`."""
    request_id = request_id or uuid.uuid4().hex
    [output] = gw.pseudonymiser.evaluate_all(
        [voprf_input("household", address.canonical())], request_id=request_id)
    inquiry = partner_pb2.Inquiry(
        policy=policy if policy.startswith("policies/") else f"policies/{policy}",
        household=common_pb2.Pseudonym(voprf_output=output,
                                       key_id=gw.settings.pseudonymiser_key_id),
        requester_role=role, reason=reason, request_id=request_id)
    stub = gw.partner_stub
    answer = call_with_retry(
        "the matcher", gw.settings.matcher,
        lambda: stub.CreateInquiry(partner_pb2.CreateInquiryRequest(inquiry=inquiry),
                                   timeout=gw.retry.timeout_seconds), gw.retry)
    return InquiryAnswer(_indicated(answer))


def _indicated(answer: partner_pb2.Inquiry) -> bool:
    """Only the one bit is read from the answer, whatever else a matcher might send."""
    return bool(answer.answer == partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED)
