"""Is a policy in force? The one verdict the matcher and every gateway compute themselves.

A policy is in force on day `on` when all of these hold:

- at least two distinct privacy officers (by officer id) have a valid approval;
- for a `standing` policy, also a valid `independent_review` approval, by the reviewer the
  policy names under `independent_review.reviewer`;
- `valid_from <= on <= valid_until`;
- it is not revoked: neither its id, nor `id@version`, nor its digest is in `revoked`.

Structure is guaranteed by `Policy`; the semantic checks (`policies.lint`) are separate and run
by the publisher. Nothing here reads a clock or a file.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from policies.approvals import ApprovalCheck, check_approvals, distinct_valid_officers
from policies.canonical import policy_digest
from policies.model import ApprovalRole, Policy, PolicyMode
from policies.trust import Trust

REQUIRED_PRIVACY_OFFICERS = 2


@dataclass(frozen=True)
class Verdict:
    in_force: bool
    reasons: tuple[str, ...]
    """Why it is not in force (empty when it is)."""
    digest: str
    approvals: tuple[ApprovalCheck, ...]
    privacy_officers: tuple[str, ...]
    """Distinct privacy officers with a valid approval."""
    independent_reviewers: tuple[str, ...]


def in_force(
    policy: Policy, trust: Trust, on: date, revoked: Collection[str] = frozenset()
) -> Verdict:
    """Decide whether `policy` is in force on `on`; every failed condition is a reason."""
    digest = policy_digest(policy)
    checks = check_approvals(policy, trust)
    officers = distinct_valid_officers(checks, ApprovalRole.PRIVACY_OFFICER)
    reviewers = distinct_valid_officers(checks, ApprovalRole.INDEPENDENT_REVIEW)
    reasons: list[str] = []

    if len(officers) < REQUIRED_PRIVACY_OFFICERS:
        named = ", ".join(officers) if officers else "none"
        reasons.append(
            f"needs valid approvals of {REQUIRED_PRIVACY_OFFICERS} distinct privacy officers, "
            f"has {len(officers)} ({named})"
        )
    if policy.mode is PolicyMode.STANDING:
        expected = policy.independent_review.reviewer if policy.independent_review else None
        if expected is None:
            reasons.append("a standing policy must name its independent_review")
        elif expected not in reviewers:
            reasons.append(
                f"a standing policy needs a valid independent_review approval by {expected}"
            )
    if on < policy.valid_from:
        reasons.append(f"not valid before {policy.valid_from.isoformat()}")
    if on > policy.valid_until:
        reasons.append(f"expired on {policy.valid_until.isoformat()}")
    if policy.id in revoked or policy.ref in revoked or digest in revoked:
        reasons.append("revoked")
    return Verdict(
        in_force=not reasons,
        reasons=tuple(reasons),
        digest=digest,
        approvals=checks,
        privacy_officers=tuple(officers),
        independent_reviewers=tuple(reviewers),
    )
