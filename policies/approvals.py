"""Approvals: Ed25519 signatures by registered officers over the policy digest.

What is signed (domain-separated, and binding who signs in which role):

    b"samenloop policy approval v1\\n" + RFC 8785 canonical JSON of
        {"digest": <policy digest hex>, "key_id": ..., "officer_id": ..., "role": ...,
         "signed_at": "YYYY-MM-DDTHH:MM:SSZ"}

The prefix keeps an approval from being valid as any other samenloop signature (a reveal
request, a checkpoint), and the role inside the message means a signature given as privacy
officer cannot be relabelled as the independent review, or the reverse.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crypto.errors import InvalidSignature
from crypto.jcs import canonical_bytes
from crypto.signing import SigningKey
from policies.canonical import policy_digest
from policies.errors import ApprovalError
from policies.model import Approval, ApprovalRole, Policy
from policies.trust import Officer, Trust

APPROVAL_CONTEXT = b"samenloop policy approval v1\n"


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


def sign_policy(
    policy: Policy,
    key: SigningKey,
    *,
    officer_id: str,
    role: ApprovalRole = ApprovalRole.PRIVACY_OFFICER,
    now: datetime,
) -> Approval:
    """Make an approval of `policy` by `officer_id` with `key`.

    Refuses (`ApprovalError`) if this officer already approved the policy in this role: a
    second signature by the same officer would not count, and a document carrying it only
    misleads its readers. Checking the policy itself (lint) is the caller's duty; the CLI
    refuses to sign a policy with lint errors.
    """
    for existing in policy.approvals:
        if existing.officer_id == officer_id and existing.role is role:
            raise ApprovalError(
                f"{officer_id} already approved {policy.ref} as {role.value} "
                f"(at {existing.signed_at}); one officer counts once"
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


def check_approvals(policy: Policy, trust: Trust) -> tuple[ApprovalCheck, ...]:
    """Check every approval of `policy` against the trust file, in document order.

    An approval is valid when its key id is registered, registered for the same officer and
    role the approval names, and the signature verifies over `approval_message`. Validity of
    one approval says nothing about whether the policy is in force: see `policies.in_force`.
    """
    digest = policy_digest(policy)
    return tuple(_check(a, digest, trust) for a in policy.approvals)


def _check(approval: Approval, digest: str, trust: Trust) -> ApprovalCheck:
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
    return ApprovalCheck(approval, True, "", officer)


def distinct_valid_officers(checks: Sequence[ApprovalCheck], role: ApprovalRole) -> list[str]:
    """Officer ids with at least one valid approval in `role`, each once, sorted."""
    return sorted({c.approval.officer_id for c in checks if c.valid and c.approval.role is role})
