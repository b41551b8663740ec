"""The gateway verifies the policy a reveal request names itself; it trusts no one's verdict.

The document comes from the matcher (PolicyService.GetPolicy), but it counts only if its digest
is the one the signed reveal request names, and if `policies.in_force` says so against the
gateway's own officer trust file on the gateway's own date: two privacy officers, validity
dates, the independent review for a standing policy, and not revoked.

Revocation. The matcher saying "revoked" is believed (it only ever stops a disclosure). A
matcher that hides a revocation is caught by signed revocation statements: those the matcher
returns with the policy and those the controller publishes into the gateway's `revocations`
folder are verified against the trust file (`policies.revocation`, by the controller's officers)
and count whatever the matcher says (`signed_revocations`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from policies.errors import PolicyError
from policies.in_force import in_force
from policies.model import Policy, parse_policy
from policies.revocation import Revocation, verify_revocation
from policies.trust import Trust

# Local reason codes (the gateway's audit log), each mapped to the RefusalReason sent back.
POLICY_UNKNOWN = "policy_unknown"
POLICY_DIGEST_MISMATCH = "policy_digest_mismatch"
POLICY_UNSIGNED = "policy_not_approved"
POLICY_NO_REVIEW = "policy_review_missing"
POLICY_OUT_OF_VALIDITY = "policy_out_of_validity"
POLICY_REVOKED = "policy_revoked"
POLICY_INVALID = "policy_invalid"


@dataclass(frozen=True)
class PolicyFacts:
    """What the matcher returned for a policy id."""

    document_json: bytes
    digest: str
    version: int
    revoked_by_matcher: bool
    revocation: dict[str, Any] | None = None
    """The signed revocation statement the matcher keeps with the policy, if any."""


@dataclass(frozen=True)
class PolicyVerdict:
    policy: Policy | None
    reason_code: str
    """Empty when the policy is in force for this request."""
    detail: str = ""


def _statements(folder: Path | None) -> Iterable[tuple[str, Any]]:
    if folder is None or not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append((str(path), json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, RecursionError):
            continue  # an unreadable statement cannot revoke anything; config-check warns
    return out


def signed_revocations(
    trust: Trust, controller: str | None, folder: Path | None, from_matcher: dict[str, Any] | None,
    now: datetime,
) -> set[str]:
    """Digests revoked by a valid statement of the controller's officer (hook, ADR 0017).

    A statement counts when `policies.revocation.verify_revocation` accepts it against the
    gateway's own trust file: a privacy officer of the controller signed it.
    """
    revoked: set[str] = set()
    candidates = list(_statements(folder))
    if from_matcher:
        candidates.append(("matcher", from_matcher))
    for source, doc in candidates:
        try:
            statement = Revocation.from_document(doc, source)
        except PolicyError:
            continue
        if controller and verify_revocation(statement, trust, controller=controller,
                                            now=now).valid:
            revoked.add(statement.digest)
    return revoked


def check_policy(
    facts: PolicyFacts | None,
    *,
    policy_id: str,
    version: int,
    digest: str,
    trust: Trust,
    now: datetime,
    revoked_digests: set[str],
    controller: str | None = None,
) -> PolicyVerdict:
    """Is the policy the request names, as served, in force today by the gateway's own check?"""
    if facts is None:
        return PolicyVerdict(None, POLICY_UNKNOWN, f"the matcher knows no policy {policy_id}")
    if facts.digest != digest or facts.version != version:
        return PolicyVerdict(None, POLICY_DIGEST_MISMATCH,
                             f"the request names {policy_id}@{version}, the matcher serves "
                             f"@{facts.version} with another digest")
    try:
        policy = parse_policy(json.loads(facts.document_json))
    except (PolicyError, ValueError, RecursionError):  # RecursionError: JSON nested absurdly
        return PolicyVerdict(None, POLICY_INVALID, "the served policy document is not valid")
    verdict = in_force(policy, trust, now.date(), revoked=revoked_digests, now=now,
                       controller=controller)
    if verdict.digest != digest or policy.id != policy_id or policy.version != version:
        return PolicyVerdict(None, POLICY_DIGEST_MISMATCH,
                             "the served document does not have the digest the request names")
    if facts.revoked_by_matcher or "revoked" in verdict.reasons:
        return PolicyVerdict(policy, POLICY_REVOKED, "the policy is revoked")
    if verdict.in_force:
        return PolicyVerdict(policy, "")
    text = "; ".join(verdict.reasons)
    if any(r.startswith("needs valid approvals") or "controller" in r
           for r in verdict.reasons):
        return PolicyVerdict(policy, POLICY_UNSIGNED, text)
    if any("independent_review" in r for r in verdict.reasons):
        return PolicyVerdict(policy, POLICY_NO_REVIEW, text)
    return PolicyVerdict(policy, POLICY_OUT_OF_VALIDITY, text)
