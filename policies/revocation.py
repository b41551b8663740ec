"""Revocations: a controller officer's signed statement that a published policy ends.

A revocation is made like an approval, by one officer of the controller's organisation (one is
enough: revoking only ever reduces processing). What is signed (domain-separated):

    b"samenloop policy revocation v1\\n" + RFC 8785 canonical JSON of
        {"digest": <policy digest hex>, "key_id": ..., "officer_id": ...,
         "policy_id": ..., "reason": <code>, "revoked_at": "YYYY-MM-DDTHH:MM:SSZ",
         "version": <int>}

The statement binds one exact document (id, version and digest), a reason code from
`revocation_reasons()` (never free text: the statement is kept in the append-only audit log) and
who signed it. The matcher verifies it before it stops the policy and keeps it with the policy,
so every gateway can verify the same statement itself when it refuses reveal requests of a
revoked policy. Nothing here reads a clock or a file.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crypto.errors import InvalidSignature
from crypto.jcs import canonical_bytes
from crypto.signing import SigningKey
from domain.codes import CodeList, load_codes
from policies.approvals import format_time
from policies.errors import PolicyError
from policies.model import ApprovalRole
from policies.trust import Officer, Trust

REVOCATION_CONTEXT = b"samenloop policy revocation v1\n"



def revocation_reasons() -> CodeList:
    """The reason codes (`revocation_reason` in domain/codes.yaml, the project's one versioned
    code list); a statement with another reason is refused."""
    return load_codes().revocation_reason


MAX_CLOCK_SKEW = timedelta(minutes=5)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
_FIELDS = ("policy_id", "version", "digest", "reason", "revoked_at", "officer_id", "key_id",
           "signature")


class RevocationError(PolicyError):
    """A revocation statement is malformed, or cannot be made as asked."""


@dataclass(frozen=True)
class Revocation:
    """A signed revocation statement (see the module docstring for the signed bytes)."""

    policy_id: str
    version: int
    digest: str
    reason: str
    revoked_at: str
    officer_id: str
    key_id: str
    signature: str
    """Standard base64 of the Ed25519 signature over `revocation_message`."""

    @property
    def ref(self) -> str:
        return f"{self.policy_id}@{self.version}"

    def message(self) -> bytes:
        return revocation_message(
            policy_id=self.policy_id, version=self.version, digest=self.digest,
            reason=self.reason, revoked_at=self.revoked_at, officer_id=self.officer_id,
            key_id=self.key_id,
        )

    def to_document(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_document(cls, document: Any, source: str = "revocation") -> Revocation:
        """Parse the JSON form; raises `RevocationError` naming the field."""
        if not isinstance(document, Mapping):
            raise RevocationError(f"{source}: must be a mapping")
        extra = sorted(set(document) - set(_FIELDS))
        if extra:
            raise RevocationError(f"{source}: unknown field(s) {', '.join(extra)}")
        missing = [f for f in _FIELDS if f not in document]
        if missing:
            raise RevocationError(f"{source}: missing field(s) {', '.join(missing)}")
        version = document["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RevocationError(f"{source}: 'version' must be a positive integer")
        for name in _FIELDS:
            if name != "version" and not isinstance(document[name], str):
                raise RevocationError(f"{source}: '{name}' must be text")
        out = cls(**{name: document[name] for name in _FIELDS})
        out.check_form(source)
        return out

    def check_form(self, source: str = "revocation") -> None:
        """Field formats (not the signature); raises `RevocationError`."""
        if not self.policy_id or not self.officer_id or not self.key_id:
            raise RevocationError(f"{source}: policy_id, officer_id and key_id are required")
        if self.version < 1:
            raise RevocationError(f"{source}: 'version' must be a positive integer")
        if not _DIGEST.match(self.digest):
            raise RevocationError(f"{source}: 'digest' must be 64 lowercase hex characters")
        reasons = revocation_reasons()
        if self.reason not in reasons:
            raise RevocationError(
                f"{source}: the reason is not a revocation reason code (codes version "
                f"{reasons.version}: {', '.join(reasons)}); free text is not accepted"
            )
        if not _TIME.match(self.revoked_at):
            raise RevocationError(f"{source}: 'revoked_at' must be YYYY-MM-DDTHH:MM:SSZ (UTC)")


def revocation_message(
    *, policy_id: str, version: int, digest: str, reason: str, revoked_at: str,
    officer_id: str, key_id: str,
) -> bytes:
    """The exact bytes a revocation's signature covers."""
    body = {
        "digest": digest,
        "key_id": key_id,
        "officer_id": officer_id,
        "policy_id": policy_id,
        "reason": reason,
        "revoked_at": revoked_at,
        "version": version,
    }
    return REVOCATION_CONTEXT + canonical_bytes(body)


def sign_revocation(
    *, policy_id: str, version: int, digest: str, reason: str, key: SigningKey,
    officer_id: str, now: datetime,
) -> Revocation:
    """Make a revocation statement signed with `key` (refuses an unknown reason code)."""
    unsigned = Revocation(policy_id, version, digest, reason, format_time(now), officer_id,
                          key.key_id, "")
    unsigned.check_form()
    signature = base64.b64encode(key.sign_bytes(unsigned.message())).decode("ascii")
    return Revocation(**{**unsigned.to_document(), "signature": signature})


@dataclass(frozen=True)
class RevocationCheck:
    """The verdict on a revocation statement."""

    valid: bool
    reason: str
    """Why it does not count (empty when valid)."""
    officer: Officer | None = None


def verify_revocation(
    revocation: Revocation, trust: Trust, *, controller: str, now: datetime | None = None
) -> RevocationCheck:
    """Is `revocation` a valid statement by a privacy officer of `controller`?

    Valid when the key is registered in `trust` for the officer the statement names, as a
    privacy officer of the controller's organisation, the reason is a known code, the signature
    verifies over `revocation_message`, and (when `now` is given; naive means UTC) `revoked_at`
    is not later than `now` plus `MAX_CLOCK_SKEW`. Whether it names the right document is the
    caller's check: compare `policy_id`, `version` and `digest` with the published policy.
    """
    try:
        revocation.check_form()
    except RevocationError as exc:
        return RevocationCheck(False, str(exc))
    officer = trust.by_key_id(revocation.key_id)
    if officer is None:
        return RevocationCheck(False, f"key {revocation.key_id} is not in the trust file")
    if officer.officer_id != revocation.officer_id:
        return RevocationCheck(
            False, f"key {revocation.key_id} belongs to {officer.officer_id}, not to "
            f"{revocation.officer_id}", officer)
    if officer.role is not ApprovalRole.PRIVACY_OFFICER:
        return RevocationCheck(
            False, f"{officer.officer_id} is registered as {officer.role.value}; only a privacy "
            "officer revokes", officer)
    if officer.organisation != controller:
        return RevocationCheck(
            False, f"{officer.officer_id} is an officer of {officer.organisation}, not of the "
            f"controller {controller}; only the controller's officers revoke", officer)
    try:
        signature = base64.b64decode(revocation.signature, validate=True)
    except (binascii.Error, ValueError):
        return RevocationCheck(False, "signature is not valid base64", officer)
    try:
        officer.key.verify_bytes(revocation.message(), signature)
    except InvalidSignature:
        return RevocationCheck(
            False, "signature does not verify: the statement was changed after signing",
            officer)
    if now is not None:
        signed = datetime.strptime(revocation.revoked_at, "%Y-%m-%dT%H:%M:%SZ")
        aware_now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        if signed.replace(tzinfo=UTC) > aware_now + MAX_CLOCK_SKEW:
            return RevocationCheck(
                False, f"revoked_at {revocation.revoked_at} is in the future; check the "
                "signing computer's clock", officer)
    return RevocationCheck(True, "", officer)
