"""Reveal requests waiting for a local human decision (four-eyes, or above a daily ceiling).

`approve` re-verifies the request in full (a policy may have been revoked, the signal withdrawn
meanwhile) and then seals and sends; `refuse` sends a refusal. Both are audited with the local
approver's staff id (an id, never a name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from samenloop.v1 import common_pb2, partner_pb2
from services.partner_gateway import audit as events
from services.partner_gateway.disclosure import (
    REFUSE,
    REFUSED_BY_APPROVER,
    Decision,
    Discloser,
    RequestClosed,
)
from services.partner_gateway.journal import now_utc
from services.partner_gateway.store import approvals

WAITING, APPROVED, REFUSED, ANSWERED = "waiting", "approved", "refused", "answered"
CANCELLED = "cancelled"
"""The matcher closed the request before the local answer reached it."""


class ApprovalError(Exception):
    """The request is not waiting for a decision; the message says what to do."""


@dataclass(frozen=True)
class Waiting:
    request: str
    why: str
    state: str
    received_at: datetime
    alert: str
    policy: str
    signal_id: str
    fields: tuple[str, ...]


def _signed(row: sa.Row) -> partner_pb2.SignedRevealRequest:  # type: ignore[type-arg]
    doc = json.loads(bytes(row.payload))
    return partner_pb2.SignedRevealRequest(
        request=partner_pb2.RevealRequest(name=str(doc.get("name", ""))),
        signed=common_pb2.SignedPayload(payload=bytes(row.payload),
                                        signature=bytes(row.signature), key_id=row.key_id))


def list_waiting(discloser: Discloser, include_decided: bool = False) -> list[Waiting]:
    query = sa.select(approvals).order_by(approvals.c.received_at)
    if not include_decided:
        query = query.where(approvals.c.state.in_([WAITING, APPROVED]))
    with discloser.gw.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        doc = json.loads(bytes(r.payload))
        out.append(Waiting(r.request, r.why, r.state, r.received_at, str(doc.get("alert")),
                           f"{doc.get('policy_id')}@{doc.get('policy_version')}",
                           str(doc.get("signal_id")), tuple(doc.get("fields", []))))
    return out


def _row(discloser: Discloser, request: str, states: tuple[str, ...]) -> sa.Row:  # type: ignore[type-arg]
    name = request if request.startswith("revealRequests/") else f"revealRequests/{request}"
    with discloser.gw.engine.connect() as conn:
        row = conn.execute(sa.select(approvals).where(approvals.c.request == name)).first()
    if row is None:
        raise ApprovalError(f"{name} is not waiting for approval; see `samenloop gateway "
                            "approvals list`")
    if row.state not in states:
        raise ApprovalError(f"{name} is already {row.state}")
    return row


def _set_state(discloser: Discloser, request: str, state: str, by: str | None) -> None:
    values: dict[str, object] = {"state": state}
    if by is not None:
        values.update(decided_by=by, decided_at=now_utc())
    with discloser.gw.engine.begin() as conn:
        conn.execute(approvals.update().where(approvals.c.request == request).values(**values))


def approve(discloser: Discloser, request: str, by: str) -> Decision:
    """Approve and answer at once (re-verified); an unreachable matcher leaves it approved."""
    row = _row(discloser, request, (WAITING, APPROVED))
    if row.state == WAITING:
        _set_state(discloser, row.request, APPROVED, by)
        discloser.audit.append(events.APPROVED, request=row.request, actor=by,
                               reason_code=row.why)
    return send_approved(discloser, row.request)


def send_approved(discloser: Discloser, request: str) -> Decision:
    row = _row(discloser, request, (APPROVED,))
    decision = discloser.decide(_signed(row), approved_by=row.decided_by or "approver")
    _send(discloser, decision)
    return decision


def refuse(discloser: Discloser, request: str, by: str) -> Decision:
    """Refuse locally, audit, and send the refusal (again by `serve` if the matcher is away)."""
    row = _row(discloser, request, (WAITING, APPROVED))
    _set_state(discloser, row.request, REFUSED, by)
    doc = json.loads(bytes(row.payload))
    discloser.audit.append(
        events.APPROVAL_REFUSED, request=row.request, alert=str(doc.get("alert", "")),
        policy=f"{doc.get('policy_id')}@{doc.get('policy_version')}",
        policy_digest=str(doc.get("policy_digest", "")), signal_id=str(doc.get("signal_id", "")),
        fields=[str(f) for f in doc.get("fields", [])], reason_code=REFUSED_BY_APPROVER, actor=by)
    return refuse_again(discloser, row.request)


def refuse_again(discloser: Discloser, request: str) -> Decision:
    """Send the refusal of a locally refused request to the matcher."""
    decision = Decision(REFUSE, request, REFUSED_BY_APPROVER, "refused by a local approver")
    _send(discloser, decision)
    return decision


def _send(discloser: Discloser, decision: Decision) -> None:
    """Answer the matcher and mark the request answered, or cancelled if the matcher closed it
    meanwhile (then `ApprovalError` says so: nothing was sent)."""
    try:
        discloser.answer(decision)
    except RequestClosed as exc:
        _set_state(discloser, decision.request, CANCELLED, None)
        raise ApprovalError(str(exc)) from None
    _set_state(discloser, decision.request, ANSWERED, None)


def pending_approved(discloser: Discloser) -> list[str]:
    with discloser.gw.engine.connect() as conn:
        return list(conn.execute(sa.select(approvals.c.request).where(
            approvals.c.state == APPROVED)).scalars())
