"""Answering reveal requests: verify everything, then seal exactly the allowed fields, or refuse.

For each request pulled from the matcher (`decide`):

1. the matcher's Ed25519 signature over the exact payload bytes (services.matcher.reveal);
2. the request is addressed to this partner and has not expired;
   a request decided before (the matcher redelivers until an answer arrives, or replays it)
   gets its first answer again, the same bytes: never a second disclosure (ADR 0028);
3. the policy it names is in force by the gateway's own check (policy_check);
4. the recipient key is the one in that signed policy;
5. the fields asked lie within the policy's disclosure for this partner kind;
6. the signal is live in the vault;
7. four-eyes (`four_eyes: true`) or a daily ceiling reached: the request waits for a local
   human decision (`samenloop gateway approvals`), and a ceiling logs an alarm;
8. seal the fields, bound to the request (services.common.disclosure), and sign.

Every decision goes into the local audit log with field names and a reason code, never values.
`answer` then sends the sealed box or the refusal to the matcher, and notes the index of the
matcher's audit entry for it, which the witness proves in the central log (witness.py). A
request the matcher has closed meanwhile (signal withdrawn, alert closed, expired) is logged
and audited as `reveal_request_cancelled` and raises `RequestClosed`: the caller goes on with
the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import grpc
import sqlalchemy as sa

from crypto.errors import InvalidPublicKey, InvalidSignature
from crypto.sealing import parse_x25519_public_key
from policies.fields import IDENTITY_FIELDS
from policies.trust import Trust, load_trust
from samenloop.v1 import common_pb2, partner_pb2, policy_pb2
from services.common.disclosure import Binding, SignedDisclosure, seal_disclosure
from services.common.error_reason import REVEAL_REQUEST_CLOSED
from services.common.logging import get_logger
from services.matcher import reveal
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.connections import PeerRefused, call_with_retry
from services.partner_gateway.evidence import DISCLOSED, Evidence
from services.partner_gateway.evidence import REFUSED as REFUSED_ANSWER
from services.partner_gateway.journal import now_utc
from services.partner_gateway.policy_check import (
    POLICY_DIGEST_MISMATCH,
    POLICY_INVALID,
    POLICY_NO_REVIEW,
    POLICY_OUT_OF_VALIDITY,
    POLICY_REVOKED,
    POLICY_UNKNOWN,
    POLICY_UNSIGNED,
    PolicyFacts,
    check_policy,
    signed_revocations,
)
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.store import answers, approvals

BAD_SIGNATURE = "bad_signature"
MALFORMED = "malformed_request"
WRONG_PARTNER = "wrong_partner"
EXPIRED = "expired"
RECIPIENT_MISMATCH = "recipient_mismatch"
FIELDS_NOT_ALLOWED = "fields_not_allowed"
SIGNAL_NOT_LIVE = "signal_not_live"
REFUSED_BY_APPROVER = "refused_by_approver"
ALREADY_ANSWERED = "already_answered"
"""The code logged and audited for a request decided before (not a refusal sent: the first
answer is sent again)."""

REFUSAL_REASONS: Mapping[str, int] = {
    BAD_SIGNATURE: partner_pb2.REFUSAL_REASON_BAD_SIGNATURE,
    MALFORMED: partner_pb2.REFUSAL_REASON_OTHER,
    WRONG_PARTNER: partner_pb2.REFUSAL_REASON_OTHER,
    EXPIRED: partner_pb2.REFUSAL_REASON_EXPIRED,
    RECIPIENT_MISMATCH: partner_pb2.REFUSAL_REASON_RECIPIENT_MISMATCH,
    FIELDS_NOT_ALLOWED: partner_pb2.REFUSAL_REASON_FIELDS_NOT_ALLOWED,
    SIGNAL_NOT_LIVE: partner_pb2.REFUSAL_REASON_SIGNAL_NOT_LIVE,
    REFUSED_BY_APPROVER: partner_pb2.REFUSAL_REASON_OTHER,
    **{code: partner_pb2.REFUSAL_REASON_POLICY_NOT_IN_FORCE for code in (
        POLICY_UNKNOWN, POLICY_DIGEST_MISMATCH, POLICY_UNSIGNED, POLICY_NO_REVIEW,
        POLICY_OUT_OF_VALIDITY, POLICY_REVOKED, POLICY_INVALID)},
}
"""Every local reason code and the RefusalReason the matcher receives for it."""

REQUEST_CANCELLED = "reveal_request_cancelled"
"""Log event and audit reason: the matcher expects no answer any more (REVEAL_REQUEST_CLOSED)."""

SEAL, REFUSE, HOLD = "seal", "refuse", "hold"
FOUR_EYES, LIMIT_DAY, LIMIT_POLICY = "four_eyes", "limit_per_day", "limit_per_policy"


class RequestClosed(Exception):
    """The matcher no longer expects an answer to this request; go on with the next one."""


@dataclass(frozen=True)
class Decision:
    action: str  # seal | refuse | hold
    request: str
    reason_code: str = ""
    detail: str = ""
    sealed: SignedDisclosure | None = None
    repeated: bool = False
    """The request was decided before: this is that answer again, nothing new was sealed."""


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class Discloser:
    def __init__(self, gw: Gateway, trust: Trust | None = None) -> None:
        self.gw = gw
        self.trust = trust or load_trust(gw.settings.officer_trust)
        self.audit = AuditLog(gw.engine)
        self.log = get_logger()

    # the policy as the matcher serves it ----------------------------------------------------
    def policy_facts(self, policy_id: str) -> PolicyFacts | None:
        stub = self.gw.policy_stub
        try:
            published = call_with_retry(
                "the matcher", self.gw.settings.matcher,
                lambda: stub.GetPolicy(policy_pb2.GetPolicyRequest(name=f"policies/{policy_id}"),
                                       timeout=self.gw.retry.timeout_seconds), self.gw.retry)
        except PeerRefused as exc:
            if exc.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        statement = _revocation_document(published) if published.HasField("revocation") else None
        return PolicyFacts(bytes(published.document_json), published.digest, published.version,
                           published.state == policy_pb2.POLICY_STATE_REVOKED, statement)

    # deciding -------------------------------------------------------------------------------
    def decide(self, signed: partner_pb2.SignedRevealRequest, *, approved_by: str | None = None,
               now: datetime | None = None) -> Decision:
        """Verify a reveal request and seal, refuse or hold it; every outcome is audited."""
        now = now or datetime.now(UTC)
        name = signed.request.name  # unverified: used only to address a refusal
        try:
            doc = reveal.verify(reveal.SignedRequest(
                bytes(signed.signed.payload), bytes(signed.signed.signature),
                signed.signed.key_id), self.gw.matcher_key)
        except reveal.MalformedRevealRequest as exc:
            return self._refuse(name, MALFORMED, str(exc), {})
        except InvalidSignature:
            return self._refuse(name, BAD_SIGNATURE, "the matcher's signature does not verify",
                                {})
        name = str(doc["name"])
        if doc.get("partner") != self.gw.settings.organisation:
            return self._refuse(name, WRONG_PARTNER, "the request is addressed to another "
                                "partner", doc)
        if _parse_time(str(doc["expire_time"])) <= now:
            return self._refuse(name, EXPIRED, "the request expired", doc)
        prior = self._prior_answer(name)
        if prior is not None:
            return self._repeat(prior, doc)
        policy_id, version = str(doc["policy_id"]), int(doc["policy_version"])
        facts = self.policy_facts(policy_id)
        revoked = signed_revocations(
            self.trust, self.gw.settings.controller, self.gw.settings.revocations,
            facts.revocation if facts else None, now)
        verdict = check_policy(facts, policy_id=policy_id, version=version,
                               digest=str(doc["policy_digest"]), trust=self.trust, now=now,
                               revoked_digests=revoked, controller=self.gw.settings.controller)
        if verdict.reason_code or verdict.policy is None:
            return self._refuse(name, verdict.reason_code or POLICY_INVALID, verdict.detail, doc)
        policy = verdict.policy
        if not _same_key(str(doc["recipient_public_key"]), policy.recipient.public_key):
            return self._refuse(name, RECIPIENT_MISMATCH, "the recipient key is not the one "
                                "in the signed policy", doc)
        asked = [str(f) for f in doc["fields"]]
        allowed = set(policy.disclosure.fields_for(self.gw.settings.kind.value))
        if not asked or not set(asked) <= allowed or not set(asked) <= set(IDENTITY_FIELDS):
            outside = sorted(set(asked) - allowed) or ["(none asked)"]
            return self._refuse(name, FIELDS_NOT_ALLOWED,
                                f"fields outside the policy for {self.gw.settings.kind.value}: "
                                f"{', '.join(outside)}", doc)
        identity = self.gw.vault.read(str(doc["signal_id"]), now.date())
        if identity is None:
            return self._refuse(name, SIGNAL_NOT_LIVE, "the signal is withdrawn or past its "
                                "retention", doc)
        if approved_by is None:
            why = self._needs_approval(policy_id, now.date())
            if why is not None:
                return self._hold(signed, name, why, doc)
        binding = Binding(name, str(doc["alert"]), policy_id, version, str(doc["policy_digest"]),
                          str(doc["signal_id"]), self.gw.settings.organisation)
        fields = {f: identity[f] for f in asked if f in identity}
        sealed = seal_disclosure(binding, fields, str(doc["recipient_public_key"]),
                                 self.gw.disclosure_key)
        decision = Decision(SEAL, name, sealed=sealed)
        with self.gw.engine.begin() as conn:  # the answer and its audit entry, or neither
            self._store(conn, decision)
            self._record(events.DISCLOSED, doc, "", fields=sorted(fields),
                         actor=approved_by or "gateway", conn=conn)
        self.log.info("disclosure_sealed", request=name, alert=doc["alert"],
                      policy=f"{policy_id}@{version}", fields=",".join(sorted(fields)))
        return decision

    def _needs_approval(self, policy_id: str, today: date) -> str | None:
        if self.gw.settings.four_eyes:
            return FOUR_EYES
        limits = self.gw.settings.limits
        if self.audit.disclosed_on(today) >= limits.disclosures_per_day:
            return LIMIT_DAY
        if self.audit.disclosed_on(today, policy_id) >= limits.per_policy_per_day:
            return LIMIT_POLICY
        return None

    def _record(self, event: str, doc: Mapping[str, Any], reason: str,
                fields: list[str] | None = None, actor: str = "gateway", request: str = "",
                conn: sa.Connection | None = None) -> None:
        policy = f"{doc['policy_id']}@{doc['policy_version']}" if doc.get("policy_id") else ""
        self.audit.append(
            event, request=request or str(doc.get("name", "")), alert=str(doc.get("alert", "")),
            policy=policy, policy_digest=str(doc.get("policy_digest", "")),
            signal_id=str(doc.get("signal_id", "")),
            fields=fields if fields is not None else [str(f) for f in doc.get("fields", [])],
            reason_code=reason, actor=actor, conn=conn)

    def _refuse(self, name: str, code: str, detail: str, doc: Mapping[str, Any]) -> Decision:
        decision = Decision(REFUSE, name, code, detail)
        with self.gw.engine.begin() as conn:
            if code not in (BAD_SIGNATURE, MALFORMED):  # an unverified name proves nothing
                self._store(conn, decision)
            self._record(events.REFUSED, doc, code, request=name, conn=conn)
        self.log.warning("reveal_request_refused", request=name, reason_code=code)
        return decision

    # requests decided before ----------------------------------------------------------------
    @staticmethod
    def _store(conn: sa.Connection, decision: Decision) -> None:
        """Keep the answer for a request delivered again (the first one stays)."""
        if conn.execute(sa.select(answers.c.request).where(
                answers.c.request == decision.request)).first() is not None:
            return
        sealed = decision.sealed
        conn.execute(sa.insert(answers).values(
            request=decision.request, action=decision.action, reason_code=decision.reason_code,
            detail=decision.detail[:500],
            ciphertext=sealed.ciphertext if sealed else None,
            recipient_public_key=sealed.recipient_public_key if sealed else None,
            signature=sealed.signature if sealed else None,
            key_id=sealed.key_id if sealed else None, answered_at=now_utc()))

    def _prior_answer(self, name: str) -> Decision | None:
        with self.gw.engine.connect() as conn:
            row = conn.execute(sa.select(answers).where(answers.c.request == name)).first()
        if row is None:
            return None
        sealed = None
        if row.ciphertext is not None:
            sealed = SignedDisclosure(bytes(row.ciphertext), str(row.recipient_public_key),
                                      bytes(row.signature), str(row.key_id))
        return Decision(str(row.action), name, str(row.reason_code), str(row.detail), sealed,
                        repeated=True)

    def _repeat(self, prior: Decision, doc: Mapping[str, Any]) -> Decision:
        """A request decided before: audit and log it, and give the same answer again."""
        self._record(events.REPEATED, doc, ALREADY_ANSWERED, request=prior.request)
        self.log.warning("reveal_request_repeated", request=prior.request,
                         reason_code=ALREADY_ANSWERED, first_answer=prior.action)
        return prior

    def _hold(self, signed: partner_pb2.SignedRevealRequest, name: str, why: str,
              doc: Mapping[str, Any]) -> Decision:
        with self.gw.engine.begin() as conn:
            present = conn.execute(sa.select(approvals.c.state).where(
                approvals.c.request == name)).first()
            if present is not None:
                return Decision(HOLD, name, why)  # redelivered while waiting: nothing new
            conn.execute(sa.insert(approvals).values(
                request=name, payload=bytes(signed.signed.payload),
                signature=bytes(signed.signed.signature), key_id=signed.signed.key_id, why=why,
                state="waiting", received_at=now_utc()))
        self._record(events.HELD, doc, why)
        if why in (LIMIT_DAY, LIMIT_POLICY):
            self._record(events.LIMIT_ALARM, doc, why)
            self.log.warning("disclosure_limit_reached", request=name, limit=why,
                             policy=f"{doc['policy_id']}@{doc['policy_version']}",
                             action="held for local approval: samenloop gateway approvals list")
        else:
            self.log.info("reveal_request_held", request=name, why=why)
        return Decision(HOLD, name, why)

    # answering ------------------------------------------------------------------------------
    def answer(self, decision: Decision) -> str | None:
        """Send the box or the refusal to the matcher; returns the disclosure name."""
        if decision.action == HOLD:
            return None
        request = partner_pb2.SubmitDisclosureRequest(reveal_request=decision.request)
        if decision.action == SEAL:
            assert decision.sealed is not None
            request.sealed.CopyFrom(common_pb2.SealedBox(
                ciphertext=decision.sealed.ciphertext,
                recipient_public_key=decision.sealed.recipient_public_key))
            request.disclosure_signature = decision.sealed.signature
            request.disclosure_key_id = decision.sealed.key_id
        else:
            request.refusal.CopyFrom(partner_pb2.Refusal(
                reason=REFUSAL_REASONS.get(decision.reason_code,  # type: ignore[arg-type]
                                           partner_pb2.REFUSAL_REASON_OTHER),
                detail=decision.reason_code))
        stub = self.gw.partner_stub
        try:
            response = call_with_retry(
                "the matcher", self.gw.settings.matcher,
                lambda: stub.SubmitDisclosure(request, timeout=self.gw.retry.timeout_seconds),
                self.gw.retry)
        except PeerRefused as exc:
            if exc.reason != REVEAL_REQUEST_CLOSED:
                raise
            self.audit.append(events.CANCELLED, request=decision.request,
                              reason_code=REQUEST_CANCELLED)
            self.log.info(REQUEST_CANCELLED, request=decision.request,
                          answer=decision.action)
            raise RequestClosed(f"{decision.request} was cancelled or expired at the matcher "
                                "(its signal withdrawn or its alert closed); nothing was "
                                "sent") from None
        # the witness proves that the matcher's entry for this answer is in its log
        Evidence(self.gw.engine).expect_receipt(
            decision.request, str(response.disclosure),
            DISCLOSED if decision.action == SEAL else REFUSED_ANSWER, int(response.audit_index))
        return str(response.disclosure)


def _same_key(a: str, b: str) -> bool:
    try:
        return parse_x25519_public_key(a) == parse_x25519_public_key(b)
    except InvalidPublicKey:
        return False


def _revocation_document(published: Any) -> dict[str, Any]:
    import base64

    r = published.revocation
    return {"policy_id": r.policy_id, "version": r.version, "digest": r.digest,
            "reason": r.reason, "revoked_at": r.revoked_at, "officer_id": r.officer_id,
            "key_id": r.key_id, "signature": base64.b64encode(bytes(r.signature)).decode()}
