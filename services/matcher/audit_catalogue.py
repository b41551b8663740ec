"""Every audit event the matcher writes, the matcher's own processing activities, and the
codes of refused calls: one list, for the docs, `samenloop audit show --type` and the tests.

An event name is a code (snake_case), never a sentence; what happened is told by the name and
the entry's ids, codes and counts. A new event is added here first (ADR 0023).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

EVENTS: Mapping[str, str] = MappingProxyType({
    # PartnerService: what the partners' gateways send
    "batch_received": "a partner's batch (signals, withdrawals or household links) and its "
                      "counts; no subject",
    "signal_received": "a signal stored, per subject (household and/or person)",
    "signal_refreshed": "a non-escalated repeat moved an earlier signal's date, per subject",
    "signal_withdrawn": "a partner withdrew a signal, per subject",
    "household_link_received": "a municipality link person → household (two entries)",
    "inquiry_received": "an involved partner's inquiry was answered",
    "inquiry_refused": "an inquiry was refused or the partner was not involved",
    "reveal_request_delivered": "a partner's gateway pulled a reveal request",
    "disclosure_received": "a partner sent a sealed disclosure",
    "disclosure_refused": "a partner refused a reveal request",
    # matching
    "alert_created": "a policy's trigger was met for a household",
    "reveal_request_created": "the matcher asked a partner to disclose for an alert",
    # WijkteamService: the team's reads and decisions, with the team user
    "alert_listed": "an alert was in a team's list",
    "alert_streamed": "an alert was sent to a team's open stream",
    "alert_viewed": "a team opened an alert",
    "identity_viewed": "a team opened an alert to read the disclosed identity",
    "alert_assigned": "a regisseur was assigned",
    "alert_reviewed": "the regisseur recorded a decision",
    "alert_closed": "the alert was closed with an outcome",
    "disclosure_unverified": "the team's inbox refused a disclosure that failed its check",
    # PolicyService
    "policy_published": "a signed policy was published",
    "policy_revoked": "a policy was revoked with a signed statement",
    "policy_simulated": "a policy was simulated on the pseudonymous data (nothing changed)",
    "policy_read": "an officer or gateway read a policy",
    "policies_listed": "an officer or gateway listed the policies",
    "fairness_report": "an officer read a policy's fairness report",
    # AuditService
    "audit_entries_listed": "an officer listed or exported audit entries",
    "subject_looked_up": "subject access: an officer asked for a subject's entries",
    "inclusion_proof_served": "a gateway or officer fetched the Merkle inclusion proof of an "
                              "entry (about that entry's subject; ADR 0022)",
    # retention
    "signal_expired": "a signal passed its retention and stopped counting, per subject",
    "signal_subject_removed": "a withdrawn signal lost its link to its subject, per subject",
    "signal_deleted": "a signal was deleted after its retention, per subject",
    "alert_deleted": "a closed alert was deleted after its retention",
    "household_link_deleted": "a superseded household link was deleted (two entries)",
    "inquiry_deleted": "an inquiry was deleted after its retention",
    "retention_purge": "one retention run and its counts; no subject",
    "audit_entries_purged": "the retention purge deleted the content of a range of audit "
                            "entries older than five years (leaf hashes kept; ADR 0022)",
    # every service
    "call_refused": "a call was refused: role, revoked certificate, organisation or scope",
    "call_failed": "a call failed inside the matcher (status Error); nothing was changed",
})

ACTIVITIES: Mapping[str, str] = MappingProxyType({
    "batch-receipt": "receiving partner batches (the counts of a batch)",
    "policy-administration": "reading and listing policies",
    "audit-log": "reading the audit log",
    "subject-access": "subject access requests (AVG art. 15)",
    "retention": "the retention runs",
    "access-control": "refusing calls",
})
"""The matcher's own processing activities (ids in the controller's register, ADR 0023).
Signals carry their partner's purpose as activity id; policies their `processing_activity_id`."""

BATCH_RECEIPT = "batch-receipt"
POLICY_ADMINISTRATION = "policy-administration"
AUDIT_LOG = "audit-log"
SUBJECT_ACCESS = "subject-access"
RETENTION = "retention"
ACCESS_CONTROL = "access-control"

# Codes of `call_refused` (attribute `refusal`).
ROLE_NOT_ALLOWED = "role_not_allowed"
CERTIFICATE_REVOKED = "certificate_revoked"
NO_CERTIFICATE = "no_client_certificate"
PERMISSION_DENIED = "permission_denied"
NOT_A_PARTNER = "not_a_partner"
NOT_CONTROLLER_OFFICER = "not_controller_officer"
MUNICIPALITY_ONLY = "municipality_only"
PURPOSE_NOT_COVERED = "purpose_not_covered"
REVOCATION_NOT_VALID = "revocation_not_valid"

REFUSALS: Mapping[str, str] = MappingProxyType({
    ROLE_NOT_ALLOWED: "the certificate's role may not call this method",
    CERTIFICATE_REVOKED: "the certificate is on the deny-list",
    NO_CERTIFICATE: "no client certificate",
    NOT_A_PARTNER: "the organisation is not a registered partner",
    NOT_CONTROLLER_OFFICER: "only the controller's privacy officers may do this",
    MUNICIPALITY_ONLY: "only the municipality's gateway sends household links",
    PURPOSE_NOT_COVERED: "the partner has no purpose the policy covers",
    REVOCATION_NOT_VALID: "the revocation statement does not verify",
    PERMISSION_DENIED: "refused for another reason of authority",
})
