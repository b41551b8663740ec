"""The matcher's application core: every use case as one method, one transaction each.

`Matcher` is the facade the servicers, the purge and the tests hold; it only mixes in the
use-case modules, one per servicer (docs/matcher.md, "Module map"):

- `ingest.py`          signals, withdrawals, household links (PartnerService)
- `inquiry_service.py` CreateInquiry (rules in `inquiries.py`)
- `disclosures.py`     PullRevealRequests, SubmitDisclosure
- `caseflow.py`        the wijkteam's alerts (WijkteamService)
- `policy_service.py`  PolicyService
- `audit_queries.py`   AuditService: entries and subject access (visibility in `visibility.py`)
- `audit_log.py`       AuditService: the Merkle tree's checkpoints, proofs and cosignatures
- `refusals.py`        the audit entries of refused and failed calls

Shared state and helpers are in `core.py`, the returned values in `views.py`. The servicers
translate protobuf to those plain values and errors to status codes; everything that decides
is in these modules or the pure modules they call (`validation`, `reveal`, `policies.*`).
"""

from __future__ import annotations

from services.matcher.audit_log import AuditLogUseCases
from services.matcher.audit_queries import AuditUseCases
from services.matcher.caseflow import CaseFlowUseCases
from services.matcher.disclosures import DisclosureUseCases
from services.matcher.ingest import IngestUseCases
from services.matcher.inquiry_service import InquiryUseCases
from services.matcher.policy_service import PolicyUseCases
from services.matcher.refusals import RefusalUseCases
from services.matcher.views import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    AlertView,
    AuditEntryView,
    BatchResult,
    Caller,
    ContributingView,
    DisclosureView,
    InquiryView,
    PolicyView,
    RevealRequestView,
    RowOutcome,
)

__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "REJECTED",
    "AlertView",
    "AuditEntryView",
    "BatchResult",
    "Caller",
    "ContributingView",
    "DisclosureView",
    "InquiryView",
    "Matcher",
    "PolicyView",
    "RevealRequestView",
    "RowOutcome",
]


class Matcher(
    IngestUseCases,
    InquiryUseCases,
    DisclosureUseCases,
    CaseFlowUseCases,
    PolicyUseCases,
    AuditUseCases,
    RefusalUseCases,
    AuditLogUseCases,
):
    """The matcher's use cases over one database (any number of these may share it)."""
