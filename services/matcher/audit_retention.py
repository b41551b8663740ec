"""Retention of audit entries: after `audit.retention_days` (five years) the content goes.

The purge walks the tree in leaf order from where the last run stopped and deletes the
`audit_events` rows of entries older than the cutoff; their leaf hashes stay in `audit_leaves`,
so the roots, checkpoints and every proof stay valid. It stops at the first entry that is still
young, so each run covers one contiguous range of leaves, and it records that range in an entry
of its own (`audit_entries_purged`: first and end leaf, count, cutoff), which is never purged.
`samenloop audit verify` accepts a missing entry only inside such a recorded range.

The database allows exactly this deletion (migration 0008): a row that is sequenced, older than
five years by the database's clock, and not a purge record. A missing row outside every
recorded range, whoever removed it, is reported by the verifier; the purge itself stops at one
(it never records a range over an entry it did not delete).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from services.common.logging import get_logger
from services.matcher import audit, store
from services.matcher import audit_catalogue as catalogue
from services.matcher.schema import audit_events, audit_leaves, audit_tree_state

if TYPE_CHECKING:
    from services.matcher.service import Matcher

PURGE_RECORD = "audit_entries_purged"
RETENTION_ACTIVITY = catalogue.RETENTION
CHUNK = 1000


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


def purge_chunk(conn: sa.Connection, now: datetime, retention_days: int) -> tuple[int, int]:
    """Purge the next contiguous range of old entries (at most CHUNK leaves): (leaves passed,
    rows deleted). Locks the tree head row, so replicas purge one at a time."""
    state = audit_tree_state
    query = sa.select(state.c.purged_end).where(state.c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    start = int(conn.execute(query).scalar_one())
    cutoff = now - timedelta(days=retention_days)
    rows = conn.execute(
        sa.select(audit_leaves.c.leaf_index, audit_events.c.id, audit_events.c.name,
                  audit_events.c.end_time)
        .select_from(audit_leaves.outerjoin(audit_events,
                                            audit_events.c.id == audit_leaves.c.event_id))
        .where(audit_leaves.c.leaf_index >= start)
        .order_by(audit_leaves.c.leaf_index).limit(CHUNK)).all()
    end, doomed = start, []
    for row in rows:
        if row.id is None:  # gone without a purge: never launder that into a recorded range
            get_logger(component="purge").error(
                "audit_purge_blocked", leaf_index=int(row.leaf_index),
                action="an audit entry is missing outside any purge; run samenloop audit verify")
            break
        if row.end_time >= cutoff:
            break
        if row.name != PURGE_RECORD:
            doomed.append(int(row.id))
        end = int(row.leaf_index) + 1
    if end == start:
        return 0, 0
    conn.execute(state.update().where(state.c.id == 1).values(purged_end=end))
    if not doomed:  # only earlier purge records, which stay: nothing to record
        return end - start, 0
    for part in store.chunks(doomed):
        conn.execute(audit_events.delete().where(audit_events.c.id.in_(part)))
    audit.write(conn, audit.Actor.system("purge"), [audit.AuditEvent(
        PURGE_RECORD, RETENTION_ACTIVITY, "", audit.NONE,
        {"first_leaf": str(start), "end_leaf": str(end), "entries_deleted": str(len(doomed)),
         "cutoff": _iso(cutoff)})], now)
    return end - start, len(doomed)


def purge_audit_content(matcher: Matcher) -> int:
    """Delete the content of every audit entry past retention; returns how many."""
    matcher.sequence_audit_log()  # only sequenced entries can go (their leaf hash stays)
    total = 0
    while True:
        def work(conn: sa.Connection) -> tuple[int, int]:
            return purge_chunk(conn, matcher.clock.now(),
                               matcher.settings.audit_log.retention_days)

        passed, deleted = store.run_transaction(matcher.engine, work)
        total += deleted
        if passed == 0:
            return total
