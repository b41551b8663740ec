"""Retention: expire and delete what the matcher may no longer keep, and log what went.

One run (the `samenloop matcher purge` command, and periodically in the server):

1. signals past their catalogue retention (`expires_on`) stop counting (state `expired`); their
   households are re-evaluated, since an expired excluded-type signal no longer vetoes;
2. withdrawn signals lose their household and person reference at once (a tombstone of partner,
   signal id and type stays for idempotency until its retention ends);
3. signals past `retain_until` (catalogue retention, or longer while they back an alert) are
   deleted, with their pending reveal requests;
4. closed alerts past their policy's alert retention are deleted with their contributing-signal
   snapshot, reveal requests and disclosures;
5. household links superseded longer than `link_retention_days` ago, and inquiries older than
   `inquiry_retention_days`, are deleted;
6. household and person rows nothing refers to any more are deleted.

7. audit entries older than `audit.retention_days` (five years) lose their content; their leaf
   hashes stay in the Merkle tree and the purge records the range (`audit_retention.py`).

Every expiry, scrub and deletion of something about a data subject writes an audit entry for
that subject (ids and codes only), and the run ends with one `retention_purge` entry holding its
counts; it also logs them with the ids of deleted alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from services.matcher import alerts, audit, matching, store
from services.matcher import audit_catalogue as catalogue
from services.matcher.audit_retention import purge_audit_content
from services.matcher.schema import (
    CLOSED,
    EXPIRED,
    LIVE,
    MERGED,
    WITHDRAWN,
    household_links,
    households,
    inquiries,
    persons,
    signals,
)
from services.matcher.schema import (
    alerts as alerts_t,
)
from services.matcher.service import Matcher

CHUNK = 500
RETENTION_ACTIVITY = catalogue.RETENTION


@dataclass
class PurgeReport:
    signals_expired: int = 0
    signals_scrubbed: int = 0
    signals_deleted: int = 0
    alerts_deleted: int = 0
    links_deleted: int = 0
    inquiries_deleted: int = 0
    households_deleted: int = 0
    persons_deleted: int = 0
    audit_entries_purged: int = 0
    alerts_created: int = 0
    deleted_alert_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


def _signal_rows(
    conn: sa.Connection, where: sa.ColumnElement[bool], order: sa.Column[Any]
) -> list[Any]:
    """A chunk of signals, walked along an indexed date column (`order`)."""
    return list(conn.execute(
        sa.select(signals.c.id, signals.c.household_id, signals.c.person_id,
                  signals.c.observed_on, signals.c.purpose, signals.c.signal_type,
                  signals.c.partner, signals.c.signal_id)
        .where(where).order_by(order).limit(CHUNK)
    ).all())


def purge(matcher: Matcher) -> PurgeReport:
    report = PurgeReport()
    actor = matcher._system_actor("purge")
    engine = matcher.engine

    # 1. Expire live signals past their retention, re-evaluating their households.
    while True:
        def expire(conn: sa.Connection) -> int:
            now = matcher.clock.now()
            rows = _signal_rows(conn, sa.and_(signals.c.expires_on < now.date(),
                                              signals.c.state.in_([LIVE, MERGED])),
                                signals.c.expires_on)
            if not rows:
                return 0
            affected = matcher._lock_for_signal_rows(conn, rows, now)
            keys = matcher._subject_keys(conn, rows)
            conn.execute(signals.update().where(signals.c.id.in_([r.id for r in rows]),
                                                signals.c.state.in_([LIVE, MERGED]))
                         .values(state=EXPIRED, updated_at=now))
            events = [audit.AuditEvent("signal_expired", r.purpose, k, kind,
                                       {"partner": r.partner, "signal_id": r.signal_id,
                                        "signal_type": r.signal_type}, purpose=r.purpose)
                      for r in rows for k, kind in keys[int(r.id)]]
            audit.write(conn, actor, events, now)
            attempts = matching.evaluate_standing(conn, matcher.env, affected, now=now,
                                                  actor=actor)
            report.alerts_created += sum(
                1 for a in attempts if a.result is alerts.AttemptResult.CREATED)
            return len(rows)

        n = store.run_transaction(engine, expire)
        report.signals_expired += n
        if n < CHUNK:
            break

    # 2. Withdrawn signals lose their subject at once.
    def scrub(conn: sa.Connection) -> int:
        now = matcher.clock.now()
        rows = _signal_rows(conn, sa.and_(
            signals.c.state == WITHDRAWN,
            sa.or_(signals.c.household_id.is_not(None), signals.c.person_id.is_not(None))),
            signals.c.id)
        if not rows:
            return 0
        keys = matcher._subject_keys(conn, rows)
        conn.execute(signals.update().where(signals.c.id.in_([r.id for r in rows]))
                     .values(household_id=None, person_id=None, area_code=None))
        audit.write(conn, actor, [
            audit.AuditEvent("signal_subject_removed", r.purpose, k, kind,
                             {"partner": r.partner, "signal_id": r.signal_id,
                              "reason": "withdrawn"}, purpose=r.purpose)
            for r in rows for k, kind in keys[int(r.id)]], now)
        return len(rows)

    while True:
        n = store.run_transaction(engine, scrub)
        report.signals_scrubbed += n
        if n < CHUNK:
            break

    # 3. Delete signals past retain_until.
    while True:
        def delete_signals(conn: sa.Connection) -> int:
            now = matcher.clock.now()
            rows = _signal_rows(conn, signals.c.retain_until < now.date(),
                                signals.c.retain_until)
            if not rows:
                return 0
            ids = [int(r.id) for r in rows]
            keys = matcher._subject_keys(conn, rows)
            alerts.cancel_pending_requests(conn, signal_refs=ids)
            conn.execute(signals.delete().where(signals.c.id.in_(ids)))
            events = [audit.AuditEvent("signal_deleted", r.purpose, k, kind,
                                       {"partner": r.partner, "signal_id": r.signal_id,
                                        "reason": "retention"}, purpose=r.purpose)
                      for r in rows for k, kind in keys[int(r.id)]]
            audit.write(conn, actor, events, now)
            return len(rows)

        n = store.run_transaction(engine, delete_signals)
        report.signals_deleted += n
        if n < CHUNK:
            break

    # 4. Closed alerts past their retention.
    def delete_alerts(conn: sa.Connection) -> int:
        now = matcher.clock.now()
        rows = conn.execute(
            sa.select(alerts_t.c.id, alerts_t.c.name_id, alerts_t.c.policy_id,
                      alerts_t.c.policy_digest, households.c.pseudonym)
            .join(households, households.c.id == alerts_t.c.household_id)
            .where(alerts_t.c.state == CLOSED, alerts_t.c.retain_until < now.date())
            .order_by(alerts_t.c.id).limit(CHUNK)).all()
        if not rows:
            return 0
        conn.execute(alerts_t.delete().where(alerts_t.c.id.in_([r.id for r in rows])))
        audit.write(conn, actor, [
            audit.AuditEvent("alert_deleted", data_subject_id=bytes(r.pseudonym).hex(),
                             data_subject_id_type=audit.HOUSEHOLD,
                             attributes={"alert": f"alerts/{r.name_id}", "reason": "retention"},
                             **matcher._under_policy(conn, r.policy_id, r.policy_digest))
            for r in rows], now)
        report.deleted_alert_ids.extend(f"alerts/{r.name_id}" for r in rows)
        return len(rows)

    while True:
        n = store.run_transaction(engine, delete_alerts)
        report.alerts_deleted += n
        if n < CHUNK:
            break

    # 5. Superseded links and old inquiries.
    def delete_links(conn: sa.Connection) -> int:
        now = matcher.clock.now()
        cutoff = now.date() - timedelta(days=matcher.settings.link_retention_days)
        newer = household_links.alias("newer")
        rows = conn.execute(
            sa.select(household_links.c.id, household_links.c.partner,
                      household_links.c.link_id, persons.c.pseudonym.label("person"),
                      households.c.pseudonym.label("household"))
            .join(persons, persons.c.id == household_links.c.person_id)
            .join(households, households.c.id == household_links.c.household_id)
            .where(sa.exists(sa.select(newer.c.id).where(
                newer.c.person_id == household_links.c.person_id,
                newer.c.valid_from > household_links.c.valid_from,
                newer.c.valid_from <= cutoff)))
            .order_by(household_links.c.id).limit(CHUNK)).all()
        if not rows:
            return 0
        conn.execute(household_links.delete().where(
            household_links.c.id.in_([r.id for r in rows])))
        audit.write(conn, actor, [
            audit.AuditEvent("household_link_deleted", RETENTION_ACTIVITY, bytes(key).hex(),
                             kind, {"partner": r.partner, "link_id": r.link_id,
                                    "reason": "retention"})
            for r in rows
            for key, kind in ((r.person, audit.PERSON), (r.household, audit.HOUSEHOLD))], now)
        return len(rows)

    def delete_inquiries(conn: sa.Connection) -> int:
        now = matcher.clock.now()
        old = now - timedelta(days=matcher.settings.inquiry_retention_days)
        rows = conn.execute(
            sa.select(inquiries.c.id, inquiries.c.name_id, inquiries.c.partner,
                      inquiries.c.policy_id, inquiries.c.household_pseudonym)
            .where(inquiries.c.created_at < old).order_by(inquiries.c.id).limit(CHUNK)).all()
        if not rows:
            return 0
        conn.execute(inquiries.delete().where(inquiries.c.id.in_([r.id for r in rows])))
        audit.write(conn, actor, [
            audit.AuditEvent("inquiry_deleted", data_subject_id=bytes(r.household_pseudonym).hex(),
                             data_subject_id_type=audit.HOUSEHOLD,
                             attributes={"inquiry": f"inquiries/{r.name_id}",
                                         "partner": r.partner, "reason": "retention"},
                             **matcher._under_policy(conn, r.policy_id))
            for r in rows], now)
        return len(rows)

    for step, counter in ((delete_links, "links_deleted"), (delete_inquiries,
                                                            "inquiries_deleted")):
        while True:
            n = store.run_transaction(engine, step)
            setattr(report, counter, getattr(report, counter) + n)
            if n < CHUNK:
                break

    # 6. Unreferenced household and person rows (a concurrent submission may have just
    #    referenced one again: then that chunk is retried or skipped).
    def orphans(conn: sa.Connection) -> tuple[int, int]:
        h = conn.execute(households.delete().where(
            ~sa.exists(sa.select(signals.c.id).where(signals.c.household_id == households.c.id)),
            ~sa.exists(sa.select(household_links.c.id).where(
                household_links.c.household_id == households.c.id)),
            ~sa.exists(sa.select(alerts_t.c.id).where(alerts_t.c.household_id == households.c.id)),
        ))
        p = conn.execute(persons.delete().where(
            ~sa.exists(sa.select(signals.c.id).where(signals.c.person_id == persons.c.id)),
            ~sa.exists(sa.select(household_links.c.id).where(
                household_links.c.person_id == persons.c.id)),
        ))
        return int(h.rowcount or 0), int(p.rowcount or 0)

    try:
        report.households_deleted, report.persons_deleted = store.run_transaction(engine, orphans)
    except sa.exc.IntegrityError:
        matcher.log.info("purge_orphans_skipped", reason="referenced concurrently; next run")

    # 7. Audit entries past their retention: content deleted, leaf hash kept (ADR 0022).
    report.audit_entries_purged = purge_audit_content(matcher)

    # 8. The run itself, with its counts (no subject).
    def log_run(conn: sa.Connection) -> None:
        audit.write(conn, actor, [audit.AuditEvent(
            "retention_purge", RETENTION_ACTIVITY, "", audit.NONE,
            {k: str(v) for k, v in report.counts().items()})], matcher.clock.now())

    store.run_transaction(engine, log_run)
    if report.alerts_created:
        matcher.notifier.notify()
    matcher.log.info("purge_done", **report.counts(),
                     deleted_alerts=report.deleted_alert_ids[:100])
    return report
