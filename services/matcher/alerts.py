"""Alerts, exactly once: at most one open alert per (policy, household), cooldown after closing.

`open_alert` runs inside the transaction that holds the household's row lock (see `store`), so
no other transaction evaluates this household at the same time. It still inserts the alert in a
SAVEPOINT and treats a violation of the partial unique index `uq_alerts_one_open_per_household`
as "already open": the index is the guarantee, the lock only avoids wasted work and makes sure
no qualifying household is missed.

Cooldown: after an alert for this policy and household was closed, a new one needs both
`policy.cooldown_days` to have passed since the closing day and at least one contributing signal
that did not contribute to the closed alert (a refreshed date does not make a signal new; an
escalated repeat is a new signal).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from crypto.signing import SigningKey
from policies.model import Policy
from policies.trigger import TriggerOutcome
from services.matcher import audit, reveal
from services.matcher.policy_registry import ActivePolicy
from services.matcher.schema import (
    CANCELLED,
    CLOSED,
    OPEN,
    PENDING,
    alert_signals,
    alerts,
    reveal_requests,
    signals,
)
from services.matcher.store import SignalRow


class AttemptResult(StrEnum):
    CREATED = "created"
    ALREADY_OPEN = "already_open"
    IN_COOLDOWN = "in_cooldown"
    NO_NEW_SIGNALS = "no_new_signals"


@dataclass(frozen=True)
class Attempt:
    result: AttemptResult
    alert_name_id: str | None
    alert_row_id: int | None = None
    reveal_requests: int = 0


@dataclass(frozen=True)
class Household:
    id: int
    pseudonym: bytes
    area_code: str | None


def new_name_id() -> str:
    return uuid.uuid4().hex


def open_alert_for(
    conn: sa.Connection, policy_id: str, household_id: int
) -> tuple[int, str] | None:
    row = conn.execute(
        sa.select(alerts.c.id, alerts.c.name_id).where(
            alerts.c.policy_id == policy_id,
            alerts.c.household_id == household_id,
            alerts.c.state != CLOSED,
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def cooldown_check(
    conn: sa.Connection, policy: Policy, household_id: int, contributing: Sequence[int], today: date
) -> AttemptResult | None:
    """None when a new alert may be created; otherwise why not."""
    last = conn.execute(
        sa.select(alerts.c.id, alerts.c.closed_on)
        .where(
            alerts.c.policy_id == policy.id,
            alerts.c.household_id == household_id,
            alerts.c.state == CLOSED,
        )
        .order_by(alerts.c.closed_at.desc(), alerts.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    last_id, closed_on = int(last[0]), last[1]
    if today < closed_on + timedelta(days=policy.cooldown_days):
        return AttemptResult.IN_COOLDOWN
    earlier = {
        int(r)
        for (r,) in conn.execute(
            sa.select(alert_signals.c.signal_ref).where(alert_signals.c.alert_id == last_id)
        )
    }
    if set(contributing) <= earlier:
        return AttemptResult.NO_NEW_SIGNALS
    return None


def open_alert(
    conn: sa.Connection,
    *,
    active: ActivePolicy,
    household: Household,
    outcome: TriggerOutcome,
    rows_by_key: Mapping[str, SignalRow],
    mode: str,
    now: datetime,
    actor: audit.Actor,
    signing_key: SigningKey,
    reveal_ttl: timedelta,
    alert_signal_retention_days: int,
) -> Attempt:
    """Create the alert and its signed reveal requests if none is open and cooldown allows."""
    policy = active.policy
    assert outcome.met, "open_alert needs a met trigger"
    existing = open_alert_for(conn, policy.id, household.id)
    if existing is not None:
        return Attempt(AttemptResult.ALREADY_OPEN, existing[1], existing[0])
    contributing = [rows_by_key[k] for k in outcome.contributing]
    blocked = cooldown_check(conn, policy, household.id, [s.id for s in contributing], now.date())
    if blocked is not None:
        return Attempt(blocked, None)

    name_id = new_name_id()
    traceparent = f"00-{actor.trace_id}-{actor.parent_span_id}-01"
    try:
        with conn.begin_nested():
            alert_id = int(
                conn.execute(
                    sa.insert(alerts).returning(alerts.c.id),
                    {
                        "name_id": name_id,
                        "policy_id": policy.id,
                        "policy_version": policy.version,
                        "policy_digest": active.digest,
                        "household_id": household.id,
                        "area_code": household.area_code,
                        "team": policy.recipient.team_id,
                        "mode": mode,
                        "state": OPEN,
                        "domains": sorted(outcome.domains),
                        "traceparent": traceparent,
                        "created_at": now,
                        "updated_at": now,
                    },
                ).scalar_one()
            )
    except sa.exc.IntegrityError:
        existing = open_alert_for(conn, policy.id, household.id)
        return Attempt(AttemptResult.ALREADY_OPEN, existing[1] if existing else None)

    conn.execute(
        sa.insert(alert_signals),
        [
            {
                "alert_id": alert_id,
                "signal_ref": s.id,
                "signal_type": s.signal_type,
                "partner_kind": s.partner_kind,
                "observed_on": s.observed_on,
            }
            for s in contributing
        ],
    )
    keep_until = now.date() + timedelta(days=alert_signal_retention_days)
    conn.execute(
        signals.update()
        .where(signals.c.id.in_([s.id for s in contributing]), signals.c.retain_until < keep_until)
        .values(retain_until=keep_until)
    )

    subject = household.pseudonym.hex()
    events = [
        audit.AuditEvent(
            "alert_created",
            data_subject_id=subject,
            data_subject_id_type=audit.HOUSEHOLD,
            **audit.under_policy(policy, active.digest),
            attributes={
                "alert": f"alerts/{name_id}",
                "mode": mode,
                "team": policy.recipient.team_id,
                "signals": str(len(contributing)),
                "domains": ",".join(sorted(outcome.domains)),
            },
        )
    ]
    requests = []
    expire = now + reveal_ttl
    for s in contributing:
        fields = policy.disclosure.fields_for(s.partner_kind)
        if not fields:
            continue  # the policy allows this partner kind to disclose nothing
        rr_name = new_name_id()
        payload = reveal.build_payload(
            name=f"revealRequests/{rr_name}",
            alert=f"alerts/{name_id}",
            policy_id=policy.id,
            policy_version=policy.version,
            policy_digest=active.digest,
            partner=s.partner,
            signal_id=s.signal_id,
            fields=fields,
            recipient_public_key=policy.recipient.public_key,
            create_time=now,
            expire_time=expire,
            traceparent=traceparent,
        )
        signed = reveal.sign(payload, signing_key)
        requests.append(
            {
                "name_id": rr_name,
                "alert_id": alert_id,
                "partner": s.partner,
                "partner_kind": s.partner_kind,
                "signal_ref": s.id,
                "signal_id": s.signal_id,
                "fields": list(fields),
                "payload": signed.payload,
                "signature": signed.signature,
                "key_id": signed.key_id,
                "state": PENDING,
                "created_at": now,
                "expire_at": expire,
                "delivered_count": 0,
            }
        )
        events.append(
            audit.AuditEvent(
                "reveal_request_created",
                data_subject_id=subject,
                data_subject_id_type=audit.HOUSEHOLD,
                **audit.under_policy(policy, active.digest),
                attributes={
                    "alert": f"alerts/{name_id}",
                    "reveal_request": f"revealRequests/{rr_name}",
                    "partner": s.partner,
                    "fields": ",".join(fields),
                },
            )
        )
    if requests:
        conn.execute(sa.insert(reveal_requests), requests)
    audit.write(conn, actor, events, now)
    return Attempt(AttemptResult.CREATED, name_id, alert_id, len(requests))


def cancel_pending_requests(
    conn: sa.Connection, *, alert_ids: Sequence[int] = (), signal_refs: Sequence[int] = ()
) -> int:
    """Stop asking for disclosures that are no longer needed (closed alert, withdrawn signal)."""
    cond = []
    if alert_ids:
        cond.append(reveal_requests.c.alert_id.in_(list(alert_ids)))
    if signal_refs:
        cond.append(reveal_requests.c.signal_ref.in_(list(signal_refs)))
    if not cond:
        return 0
    result = conn.execute(
        reveal_requests.update()
        .where(sa.or_(*cond), reveal_requests.c.state == PENDING)
        .values(state=CANCELLED)
    )
    return int(result.rowcount or 0)
