"""Alerts, exactly once: at most one open alert per (policy, household), cooldown after closing.

`open_alerts` runs inside the transaction that holds the households' row locks (see `store`), so
no other transaction evaluates those households at the same time. It creates every alert a
batch needs in a fixed number of statements, whatever the number of alerts (ADR 0025): one
query for the open and closed alerts of the (policy, household) pairs, one for the signals of
closed alerts past their cooldown (only when there are any), one `INSERT … ON CONFLICT DO
NOTHING RETURNING` for the alerts, and one multi-row statement each for their contributing
signals, the signals' retention, the reveal requests and (unless the caller collects them for
its own single write) the audit entries. The partial unique index
`uq_alerts_one_open_per_household` is the conflict target: an alert it refuses was opened by
someone else and counts as "already open". The index is the guarantee, the lock only avoids
wasted work and makes sure no qualifying household is missed (ADR 0007).

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
from typing import Any

import sqlalchemy as sa

from crypto.signing import SigningKey
from policies.trigger import TriggerOutcome
from services.matcher import audit, bulk, reveal
from services.matcher.policy_registry import ActivePolicy
from services.matcher.schema import (
    CANCELLED,
    CLOSED,
    OPEN,
    OPEN_ALERT_PREDICATE,
    PENDING,
    alert_signals,
    alerts,
    reveal_requests,
    signals,
)
from services.matcher.store import SignalRow, chunks


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


@dataclass(frozen=True)
class Candidate:
    """A (policy, household) whose trigger is met: an alert is wanted unless one is open or the
    cooldown holds."""

    active: ActivePolicy
    household: Household
    outcome: TriggerOutcome
    rows_by_key: Mapping[str, SignalRow]

    @property
    def key(self) -> tuple[str, int]:
        return self.active.policy.id, self.household.id


# Hot-path statements, built once per dialect (`bulk`, ADR 0025).
_EXISTING = bulk.PerDialect(lambda d: sa.select(
    alerts.c.id, alerts.c.name_id, alerts.c.policy_id, alerts.c.household_id, alerts.c.state,
    alerts.c.closed_on, alerts.c.closed_at,
).where(bulk.any_of(alerts.c.policy_id, "policy_ids", d),
        bulk.any_of(alerts.c.household_id, "household_ids", d)))
_EARLIER_SIGNALS = bulk.PerDialect(lambda d: sa.select(
    alert_signals.c.alert_id, alert_signals.c.signal_ref,
).where(bulk.any_of(alert_signals.c.alert_id, "ids", d)))
_KEEP_SIGNALS = bulk.PerDialect(lambda d: (
    signals.update()
    .where(bulk.any_of(signals.c.id, "ids", d), signals.c.retain_until < sa.bindparam("keep"))
    .values(retain_until=sa.bindparam("keep"))))
ALERT_COLUMNS = ("name_id", "policy_id", "policy_version", "policy_digest", "household_id",
                 "area_code", "team", "mode", "state", "domains", "traceparent", "created_at",
                 "updated_at")
SNAPSHOT_COLUMNS = ("alert_id", "signal_ref", "signal_type", "partner_kind", "observed_on")
REQUEST_COLUMNS = ("name_id", "alert_id", "partner", "partner_kind", "signal_ref", "signal_id",
                   "fields", "payload", "signature", "key_id", "state", "created_at",
                   "expire_at", "delivered_count")
# INSERT … ON CONFLICT (the one-open-alert index) DO NOTHING RETURNING id, name_id.
_INSERT_ALERTS = bulk.Insert(alerts, ALERT_COLUMNS, lambda s: (
    s.on_conflict_do_nothing(index_elements=[alerts.c.policy_id, alerts.c.household_id],
                             index_where=sa.text(OPEN_ALERT_PREDICATE))
    .returning(alerts.c.id, alerts.c.name_id)))
_INSERT_SNAPSHOT = bulk.Insert(alert_signals, SNAPSHOT_COLUMNS)
_INSERT_REQUESTS = bulk.Insert(reveal_requests, REQUEST_COLUMNS)


def new_name_id() -> str:
    return uuid.uuid4().hex


def _history(
    conn: sa.Connection, keys: set[tuple[str, int]]
) -> tuple[dict[tuple[str, int], tuple[int, str]], dict[tuple[str, int], Any]]:
    """The open alert and the latest closed alert of each (policy, household) key."""
    opened: dict[tuple[str, int], tuple[int, str]] = {}
    closed: dict[tuple[str, int], Any] = {}
    policy_ids = sorted({p for p, _ in keys})
    for part in chunks(sorted({h for _, h in keys})):
        for r in conn.execute(_EXISTING(conn), {"policy_ids": policy_ids,
                                                "household_ids": part}).all():
            key = (str(r.policy_id), int(r.household_id))
            if key not in keys:
                continue
            if r.state != CLOSED:
                opened[key] = (int(r.id), str(r.name_id))
            elif key not in closed or _closing(r) > _closing(closed[key]):
                closed[key] = r
    return opened, closed


def _closing(row: Any) -> tuple[datetime, int]:
    """Order of closed alerts: the latest closing, then the highest id."""
    return row.closed_at or datetime.min, int(row.id)


def _blocked_by_cooldown(
    conn: sa.Connection, wanted: Sequence[Candidate], closed: Mapping[tuple[str, int], Any],
    today: date,
) -> dict[tuple[str, int], AttemptResult]:
    """Why a candidate with a closed alert may not have a new one yet (absent: it may)."""
    out: dict[tuple[str, int], AttemptResult] = {}
    past: dict[tuple[str, int], int] = {}
    for c in wanted:
        last = closed.get(c.key)
        if last is None:
            continue
        if today < last.closed_on + timedelta(days=c.active.policy.cooldown_days):
            out[c.key] = AttemptResult.IN_COOLDOWN
        else:
            past[c.key] = int(last.id)
    if past:
        earlier: dict[int, set[int]] = {}
        for part in chunks(sorted(set(past.values()))):
            for alert_id, ref in conn.execute(_EARLIER_SIGNALS(conn), {"ids": part}).all():
                earlier.setdefault(int(alert_id), set()).add(int(ref))
        for c in wanted:
            if c.key in past:
                contributing = {c.rows_by_key[k].id for k in c.outcome.contributing}
                if contributing <= earlier.get(past[c.key], set()):
                    out[c.key] = AttemptResult.NO_NEW_SIGNALS
    return out


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
    [attempt] = open_alerts(
        conn, [Candidate(active, household, outcome, rows_by_key)], mode=mode, now=now,
        actor=actor, signing_key=signing_key, reveal_ttl=reveal_ttl,
        alert_signal_retention_days=alert_signal_retention_days)
    return attempt


def open_alerts(
    conn: sa.Connection,
    candidates: Sequence[Candidate],
    *,
    mode: str,
    now: datetime,
    actor: audit.Actor,
    signing_key: SigningKey,
    reveal_ttl: timedelta,
    alert_signal_retention_days: int,
    events: list[audit.AuditEvent] | None = None,
) -> list[Attempt]:
    """Create the alerts (with signed reveal requests) that are not open yet and that cooldown
    allows, in a fixed number of statements; one Attempt per candidate, in order.

    `events`: when given, the audit events are appended to it for the caller to write with its
    own (one statement per transaction); otherwise they are written here.
    """
    for c in candidates:
        assert c.outcome.met, "open_alerts needs met triggers"
    if not candidates:
        return []
    keys = {c.key for c in candidates}
    opened, closed = _history(conn, keys)
    blocked = _blocked_by_cooldown(
        conn, [c for c in candidates if c.key not in opened], closed, now.date())

    results: dict[tuple[str, int], Attempt] = {}
    new: list[tuple[Candidate, str, dict[str, Any]]] = []
    seen: set[tuple[str, int]] = set()
    for c in candidates:
        if c.key in seen:
            continue  # the same pair twice: one alert, the same Attempt for both
        seen.add(c.key)
        if c.key in opened:
            alert_id, name = opened[c.key]
            results[c.key] = Attempt(AttemptResult.ALREADY_OPEN, name, alert_id)
        elif c.key in blocked:
            results[c.key] = Attempt(blocked[c.key], None)
        else:
            name_id = new_name_id()
            policy = c.active.policy
            new.append((c, name_id, {
                "name_id": name_id,
                "policy_id": policy.id,
                "policy_version": policy.version,
                "policy_digest": c.active.digest,
                "household_id": c.household.id,
                "area_code": c.household.area_code,
                "team": policy.recipient.team_id,
                "mode": mode,
                "state": OPEN,
                "domains": sorted(c.outcome.domains),
                "traceparent": actor.traceparent,
                "created_at": now,
                "updated_at": now,
            }))
    if new:
        inserted = {
            str(name): int(alert_id)
            for alert_id, name in _INSERT_ALERTS.execute(conn, [row for _, _, row in new]).all()
        }
        lost = [c for c, name, _ in new if name not in inserted]
        if lost:  # opened by a concurrent transaction despite the lock: the index held
            again, _ = _history(conn, {c.key for c in lost})
            for c in lost:
                found = again.get(c.key)
                results[c.key] = Attempt(AttemptResult.ALREADY_OPEN, found[1] if found else None,
                                         found[0] if found else None)
        created = [(c, name, inserted[name]) for c, name, _ in new if name in inserted]
        pending = _write_created(
            conn, created, mode=mode, now=now, actor=actor, signing_key=signing_key,
            reveal_ttl=reveal_ttl, alert_signal_retention_days=alert_signal_retention_days)
        for c, name, alert_id in created:
            results[c.key] = Attempt(AttemptResult.CREATED, name, alert_id, pending.requests[name])
        if events is not None:
            events.extend(pending.events)
        else:
            audit.write(conn, actor, pending.events, now)
    return [results[c.key] for c in candidates]


@dataclass
class _Written:
    events: list[audit.AuditEvent]
    requests: dict[str, int]  # alert name -> reveal requests created


def _write_created(
    conn: sa.Connection,
    created: Sequence[tuple[Candidate, str, int]],
    *,
    mode: str,
    now: datetime,
    actor: audit.Actor,
    signing_key: SigningKey,
    reveal_ttl: timedelta,
    alert_signal_retention_days: int,
) -> _Written:
    """The rows that belong to newly inserted alerts: contributing signals, their retention,
    signed reveal requests; returns the audit events to write."""
    snapshot: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    events: list[audit.AuditEvent] = []
    per_alert: dict[str, int] = {}
    expire = now + reveal_ttl
    traceparent = actor.traceparent
    for c, name_id, alert_id in created:
        policy = c.active.policy
        contributing = [c.rows_by_key[k] for k in c.outcome.contributing]
        snapshot.extend(
            {"alert_id": alert_id, "signal_ref": s.id, "signal_type": s.signal_type,
             "partner_kind": s.partner_kind, "observed_on": s.observed_on}
            for s in contributing)
        subject = c.household.pseudonym.hex()
        under = audit.under_policy(policy, c.active.digest)
        events.append(audit.AuditEvent(
            "alert_created", data_subject_id=subject, data_subject_id_type=audit.HOUSEHOLD,
            **under,
            attributes={"alert": f"alerts/{name_id}", "mode": mode,
                        "team": policy.recipient.team_id, "signals": str(len(contributing)),
                        "domains": ",".join(sorted(c.outcome.domains))}))
        count = 0
        for s in contributing:
            fields = policy.disclosure.fields_for(s.partner_kind)
            if not fields:
                continue  # the policy allows this partner kind to disclose nothing
            rr_name = new_name_id()
            payload = reveal.build_payload(
                name=f"revealRequests/{rr_name}", alert=f"alerts/{name_id}",
                policy_id=policy.id, policy_version=policy.version,
                policy_digest=c.active.digest, partner=s.partner, signal_id=s.signal_id,
                fields=fields, recipient_public_key=policy.recipient.public_key,
                create_time=now, expire_time=expire, traceparent=traceparent)
            signed = reveal.sign(payload, signing_key)
            requests.append({
                "name_id": rr_name, "alert_id": alert_id, "partner": s.partner,
                "partner_kind": s.partner_kind, "signal_ref": s.id, "signal_id": s.signal_id,
                "fields": list(fields), "payload": signed.payload,
                "signature": signed.signature, "key_id": signed.key_id, "state": PENDING,
                "created_at": now, "expire_at": expire, "delivered_count": 0})
            events.append(audit.AuditEvent(
                "reveal_request_created", data_subject_id=subject,
                data_subject_id_type=audit.HOUSEHOLD, **under,
                attributes={"alert": f"alerts/{name_id}",
                            "reveal_request": f"revealRequests/{rr_name}",
                            "partner": s.partner, "fields": ",".join(fields)}))
            count += 1
        per_alert[name_id] = count
    if snapshot:
        _INSERT_SNAPSHOT.execute(conn, snapshot)
        keep_until = now.date() + timedelta(days=alert_signal_retention_days)
        for part in chunks(sorted({row["signal_ref"] for row in snapshot})):
            conn.execute(_KEEP_SIGNALS(conn), {"ids": part, "keep": keep_until})
    if requests:
        _INSERT_REQUESTS.execute(conn, requests)
    return _Written(events, per_alert)


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
