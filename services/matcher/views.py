"""The plain values the matcher's use cases return and the servicers translate to protobuf.

Shared by every use-case module (`ingest`, `inquiry_service`, `disclosures`, `caseflow`,
`policy_service`, `audit_queries`) and the servicers; no database access here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.matcher.validation import (
    PseudonymIn,
)

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"

MAX_PULL = 1000
MAX_WAIT = 60.0
MAX_SEALED_BYTES = 64 * 1024

NOT_IN_FORCE = "not_in_force"
"""PolicyView.state of a published, unrevoked policy in its validity period that does not
match: its approvals do not hold under the officer trust file as it is now."""

@dataclass(frozen=True)
class Caller:
    organisation: str
    role: str
    traceparent: str = ""
    """The W3C `traceparent` the caller sent (its own span), read from the call's metadata so
    that an unsampled trace still names the caller's operation in the audit log."""


@dataclass(frozen=True)
class RowOutcome:
    id: str
    outcome: str
    reason_code: str = ""
    reason: str = ""


@dataclass
class BatchResult:
    results: list[RowOutcome]
    alerts_created: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


@dataclass(frozen=True)
class InquiryView:
    name_id: str
    policy_id: str
    household: PseudonymIn | None
    requester_role: str
    reason: str
    request_id: str
    answer: str  # indicated | not_indicated (inquiries.INDICATED / NOT_INDICATED)
    created_at: datetime


@dataclass(frozen=True)
class RevealRequestView:
    name_id: str
    alert_name_id: str
    payload: bytes
    signature: bytes
    key_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class DisclosureView:
    name_id: str
    alert_name_id: str
    partner: str
    partner_kind: str
    fields: tuple[str, ...]
    ciphertext: bytes | None
    recipient_public_key: str | None
    refusal_reason: str | None
    created_at: datetime
    audit_index: int
    reveal_request_name_id: str = ""
    signature: bytes | None = None
    """The partner gateway's signature over the disclosure statement (ADR 0017)."""
    signature_key_id: str | None = None
    signal_id: str = ""
    """The partner's own id of the signal, as the reveal request named it."""


@dataclass(frozen=True)
class PendingView:
    """A reveal request of an alert still waiting for its partner's answer."""

    reveal_request_name_id: str
    partner: str
    partner_kind: str
    expire_at: datetime


@dataclass(frozen=True)
class ContributingView:
    signal_type: str
    partner_kind: str
    observed_on: date


@dataclass
class AlertView:
    id: int
    name_id: str
    policy_id: str
    policy_version: int
    policy_digest: str
    team: str
    state: str
    domains: tuple[str, ...]
    mode: str
    regisseur: str | None
    decision: str | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    household_id: int
    household_pseudonym: bytes
    processing_activity_id: str = ""
    purpose: str = ""
    """The policy's purposes (codes, comma-separated), for the audit entries about it."""
    decision_reason: str | None = None
    traceparent: str = ""
    policy_document_json: str = ""
    """The signed policy version the alert was created under (for the team's inbox)."""
    signals: list[ContributingView] = field(default_factory=list)
    disclosures: list[DisclosureView] = field(default_factory=list)
    pending: list[PendingView] = field(default_factory=list)
    """Reveal requests still open (detail views only): not answered, cancelled or expired."""


@dataclass(frozen=True)
class PolicyView:
    policy_id: str
    version: int
    digest: str
    document_json: str
    state: str  # active | revoked | superseded | out_of_validity | not_in_force
    revoke_reason: str | None
    published_at: datetime
    revoked_at: datetime | None
    revocation: dict[str, Any] | None = None
    """The signed revocation statement (policies.revocation), when revoked with one."""
    state_reason: str = ""
    """Why a `not_in_force` policy does not match (the in-force verdict's reasons)."""


@dataclass(frozen=True)
class AuditEntryView:
    index: int
    """The entry's leaf index in the Merkle tree (ADR 0022)."""
    row: dict[str, Any]
    """The stored entry; empty once its content was purged after retention."""
    leaf_hash: bytes = b""
    content_purged: bool = False

def disclosure_view(row: Any, alert_name_id: str, rr_name_id: str,
                    signal_id: str) -> DisclosureView:
    return DisclosureView(row.name_id, alert_name_id, row.partner, row.partner_kind,
                          tuple(row.fields),
                          None if row.ciphertext is None else bytes(row.ciphertext),
                          row.recipient_public_key, row.refusal_reason, row.created_at,
                          int(row.audit_index), rr_name_id,
                          None if row.signature is None else bytes(row.signature),
                          row.signature_key_id, signal_id)


@dataclass(frozen=True)
class InclusionProofView:
    index: int
    tree_size: int
    hashes: list[bytes]
    leaf: bytes
    """The entry's leaf bytes; empty once its content was purged."""
    leaf_hash: bytes


@dataclass(frozen=True)
class ConsistencyProofView:
    first_tree_size: int
    second_tree_size: int
    hashes: list[bytes]
