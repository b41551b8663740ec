"""Approvals: Ed25519 signatures by registered officers over the policy digest.

What is signed (domain-separated, and binding who signs in which role):

    b"samenloop policy approval v1\\n" + RFC 8785 canonical JSON of
        {"digest": <policy digest hex>, "key_id": ..., "officer_id": ..., "role": ...,
         "signed_at": "YYYY-MM-DDTHH:MM:SSZ"}

The prefix keeps an approval from being valid as any other samenloop signature (a reveal
request, a checkpoint), and the role inside the message means a signature given as privacy
officer cannot be relabelled as the independent review, or the reverse.

An approval dated after the verifier's clock (beyond `MAX_CLOCK_SKEW`) does not count: a
signing time in the future is a wrong clock or a forward-dated approval, and accepting it
would let an approval claim it was made after events (a revocation, an officer leaving) that
it in fact preceded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crypto.errors import InvalidSignature
from crypto.jcs import canonical_bytes
from crypto.signing import SigningKey
from policies.canonical import policy_digest
from policies.errors import ApprovalError
from policies.model import Approval, ApprovalRole, Policy
from policies.trust import Officer, Trust

APPROVAL_CONTEXT = b"samenloop policy approval v1\n"

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far an approval's `signed_at` may lie after the verifier's clock and still count.

Officers' workstations and the servers keep time by NTP, which keeps them well within a second;
five minutes covers a workstation whose clock has drifted without letting a forward-dated
approval through (docs/policies.md, "Approvals")."""


def approval_message(
    digest: str, *, officer_id: str, role: ApprovalRole | str, key_id: str, signed_at: str
) -> bytes:
    """The exact bytes an approval's signature covers."""
    body = {
        "digest": digest,
        "key_id": key_id,
        "officer_id": officer_id,
        "role": ApprovalRole(role).value,
        "signed_at": signed_at,
    }
    return APPROVAL_CONTEXT + canonical_bytes(body)


def format_time(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC (seconds precision); `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ApprovalError("signing time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PriorApproval:
    """An officer's earlier approval (in the same role) found in the policy being signed."""

    index: int
    """Its position in `approvals`."""
    approval: Approval
    stale: bool
    """It no longer counts (the policy changed after it was made, or its key is not
    registered for this officer); signing again replaces it."""
    reason: str
    """Why it is stale (empty when it still holds)."""


def prior_approval(
    policy: Policy,
    *,
    officer_id: str,
    role: ApprovalRole,
    key: SigningKey,
    trust: Trust | None,
    now: datetime,
) -> PriorApproval | None:
    """This officer's earlier approval of `policy` in `role`, judged current or stale.

    Made with `key`, it is judged with the key itself: stale exactly when its signature does
    not verify over the current digest (the policy was changed after signing). Made with
    another key, only the trust file can judge it; without one this raises `ApprovalError`.
    """
    digest = policy_digest(policy)
    for index, existing in enumerate(policy.approvals):
        if existing.officer_id != officer_id or existing.role is not role:
            continue
        if existing.key_id == key.key_id:
            message = approval_message(
                digest,
                officer_id=officer_id,
                role=role,
                key_id=existing.key_id,
                signed_at=existing.signed_at,
            )
            try:
                key.verify_key.verify_bytes(message, base64.b64decode(existing.signature))
            except (InvalidSignature, binascii.Error, ValueError):
                return PriorApproval(
                    index, existing, True, "the policy was changed after it was signed"
                )
            return PriorApproval(index, existing, False, "")
        if trust is None:
            raise ApprovalError(
                f"{officer_id} already has an approval of {policy.ref} made with key "
                f"{existing.key_id}, not this key; pass --officer-trust so it can be checked "
                "(a stale one is replaced), or remove it from the file"
            )
        check = _check(existing, digest, trust, now)
        return PriorApproval(index, existing, not check.valid, check.reason)
    return None


def sign_policy(
    policy: Policy,
    key: SigningKey,
    *,
    officer_id: str,
    role: ApprovalRole = ApprovalRole.PRIVACY_OFFICER,
    now: datetime,
    replaces: int | None = None,
) -> Approval:
    """Make an approval of `policy` by `officer_id` with `key`.

    Refuses (`ApprovalError`) if this officer already approved the policy in this role: a
    second signature by the same officer would not count, and a document carrying it only
    misleads its readers. The one exception is `replaces`: the index of this officer's stale
    approval (see `prior_approval`), which the caller replaces with the new one. Checking the
    policy itself (lint) is the caller's duty; the CLI refuses to sign a policy with lint errors.
    """
    if replaces is not None:
        old = policy.approvals[replaces]
        if old.officer_id != officer_id or old.role is not role:
            raise ApprovalError(f"approval {replaces} is not {officer_id}'s as {role.value}")
    for index, existing in enumerate(policy.approvals):
        if index != replaces and existing.officer_id == officer_id and existing.role is role:
            raise ApprovalError(
                f"{officer_id} already approved {policy.ref} as {role.value} "
                f"(at {existing.signed_at}); one officer counts once, nothing was written"
            )
    signed_at = format_time(now)
    message = approval_message(
        policy_digest(policy),
        officer_id=officer_id,
        role=role,
        key_id=key.key_id,
        signed_at=signed_at,
    )
    signature = base64.b64encode(key.sign_bytes(message)).decode("ascii")
    return Approval(
        officer_id=officer_id,
        role=role,
        key_id=key.key_id,
        signed_at=signed_at,
        signature=signature,
    )


def with_approval(document: dict[str, Any], approval: Approval) -> dict[str, Any]:
    """A copy of `document` with `approval` appended to its `approvals`."""
    out = dict(document)
    out["approvals"] = [*document.get("approvals", []), approval.to_document()]
    return out


@dataclass(frozen=True)
class ApprovalCheck:
    """The verdict on one approval of a policy."""

    approval: Approval
    valid: bool
    reason: str
    """Why it does not count (empty when valid)."""
    officer: Officer | None = None
    from_the_future: bool = False
    """The only fault is a `signed_at` later than the verifier's clock allows."""


def check_approvals(
    policy: Policy, trust: Trust, *, now: datetime
) -> tuple[ApprovalCheck, ...]:
    """Check every approval of `policy` against the trust file, in document order.

    An approval is valid when its key id is registered, registered for the same officer and
    role the approval names, the signature verifies over `approval_message`, and its
    `signed_at` is no later than `now` + `MAX_CLOCK_SKEW` (`now` is the verifier's clock,
    timezone-aware). Validity of one approval says nothing about whether the policy is in
    force: see `policies.in_force`.
    """
    if now.tzinfo is None:
        raise ApprovalError("the verification time must be timezone-aware")
    digest = policy_digest(policy)
    return tuple(_check(a, digest, trust, now) for a in policy.approvals)


def parse_time(text: str) -> datetime | None:
    """A `signed_at` value as an aware UTC datetime; None if it is no real moment."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def from_the_future(approval: Approval, now: datetime) -> str:
    """Why `approval` is dated too late for a verifier at `now`; empty if it is not."""
    signed = parse_time(approval.signed_at)
    if signed is None:
        return f"signed_at {approval.signed_at} is not a real date and time"
    if signed > now + MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        return (
            f"signed_at {approval.signed_at} is later than the verification time "
            f"{format_time(now)} (more than the {minutes} minutes of clock skew allowed): a "
            "signature from the future does not count; check the signer's clock and sign again"
        )
    return ""


def _check(approval: Approval, digest: str, trust: Trust, now: datetime) -> ApprovalCheck:
    officer = trust.by_key_id(approval.key_id)
    if officer is None:
        return ApprovalCheck(approval, False, f"key {approval.key_id} is not in the trust file")
    if officer.officer_id != approval.officer_id:
        return ApprovalCheck(
            approval,
            False,
            f"key {approval.key_id} belongs to {officer.officer_id}, not to {approval.officer_id}",
            officer,
        )
    if officer.role is not approval.role:
        return ApprovalCheck(
            approval,
            False,
            f"{officer.officer_id} is registered as {officer.role.value}, "
            f"not {approval.role.value}",
            officer,
        )
    try:
        signature = base64.b64decode(approval.signature, validate=True)
    except (binascii.Error, ValueError):
        return ApprovalCheck(approval, False, "signature is not valid base64", officer)
    message = approval_message(
        digest,
        officer_id=approval.officer_id,
        role=approval.role,
        key_id=approval.key_id,
        signed_at=approval.signed_at,
    )
    try:
        officer.key.verify_bytes(message, signature)
    except InvalidSignature:
        return ApprovalCheck(
            approval,
            False,
            "signature does not verify: the policy was changed after signing, or the "
            "approval was not made for this policy",
            officer,
        )
    too_late = from_the_future(approval, now)
    if too_late:
        return ApprovalCheck(approval, False, too_late, officer, from_the_future=True)
    return ApprovalCheck(approval, True, "", officer)


def distinct_valid_officers(checks: Sequence[ApprovalCheck], role: ApprovalRole) -> list[str]:
    """Officer ids with at least one valid approval in `role`, each once, sorted."""
    return sorted({c.approval.officer_id for c in checks if c.valid and c.approval.role is role})
