"""Is a policy in force? The one verdict the matcher and every gateway compute themselves.

A policy is in force on day `on` when all of these hold:

- at least two distinct privacy officers (by officer id) have a valid approval;
- when the caller names the controller's organisation (the matcher does), at least one of them
  is an officer of that organisation: a partner's officer may co-sign, but the controller
  answers for the processing (ADR 0013);
- for a `standing` policy, also a valid `independent_review` approval, by the reviewer the
  policy names under `independent_review.reviewer`;
- `valid_from <= on <= valid_until`;
- it is not revoked: neither its id, nor `id@version`, nor its digest is in `revoked`.

An approval counts only if it was signed by the verification time `now` (plus
`MAX_CLOCK_SKEW`). A caller with a clock passes it as `now`; without one, `now` is the end of day
`on` (UTC), so a policy is never in force on a day before it was approved, and an approval dated
2099 never counts.

Structure is guaranteed by `Policy`; the semantic checks (`policies.lint`) are separate and run
by the publisher. Nothing here reads a clock or a file.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

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


def end_of_day(on: date) -> datetime:
    """The last second of `on` in UTC: the verification time when the caller has no clock."""
    return datetime.combine(on, time(23, 59, 59), tzinfo=UTC)


def in_force(
    policy: Policy,
    trust: Trust,
    on: date,
    revoked: Collection[str] = frozenset(),
    *,
    now: datetime | None = None,
    controller: str | None = None,
) -> Verdict:
    """Decide whether `policy` is in force on `on`; every failed condition is a reason.

    `now` is the verifier's clock for the approvals' signing times (default: end of day `on`).
    """
    digest = policy_digest(policy)
    clock = now if now is not None else end_of_day(on)
    checks = check_approvals(policy, trust, now=clock)
    officers = distinct_valid_officers(checks, ApprovalRole.PRIVACY_OFFICER)
    reviewers = distinct_valid_officers(checks, ApprovalRole.INDEPENDENT_REVIEW)
    reasons: list[str] = []

    if len(officers) < REQUIRED_PRIVACY_OFFICERS:
        named = ", ".join(officers) if officers else "none"
        reasons.append(
            f"needs valid approvals of {REQUIRED_PRIVACY_OFFICERS} distinct privacy officers, "
            f"has {len(officers)} ({named})"
        )
    if controller is not None and not any(
        c.valid and c.officer is not None and c.officer.organisation == controller
        and c.approval.role is ApprovalRole.PRIVACY_OFFICER
        for c in checks
    ):
        reasons.append(
            f"needs a valid approval by a privacy officer of the controller {controller}"
        )
    if policy.mode is PolicyMode.STANDING:
        expected = policy.independent_review.reviewer if policy.independent_review else None
        if expected is None:
            reasons.append("a standing policy must name its independent_review")
        elif expected not in reviewers:
            reasons.append(
                f"a standing policy needs a valid independent_review approval by {expected}"
            )
    if reasons:  # say why a signature that is there did not count, if the clock is the reason
        reasons += [
            f"the approval by {c.approval.officer_id} does not count: {c.reason}"
            for c in checks
            if c.from_the_future
        ]
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
