"""The sequencer: gives committed audit entries gap-free leaf indexes and signs checkpoints.

Row ids of `audit_events` cannot be leaf indexes (ADR 0009): with two replicas on PostgreSQL
they have gaps (rolled-back transactions) and commit out of order. So an insert only queues the
entry (a trigger adds its id to `audit_queue`, in the same transaction), and one step, as
Trillian's sequencer does, appends what is committed:

    lock the tree head row  ->  take queued ids (committed only, lowest first)
    ->  hash their leaf bytes (RFC 9162)  ->  append to the tree  ->  dequeue
    ->  sign a checkpoint when N entries or T seconds have passed (or when asked)

The lock (`SELECT ... FOR UPDATE` on the single `audit_tree_state` row; SQLite's writer lock)
makes sequencers on several replicas take turns, so every index is used exactly once and an
entry is never appended twice. An entry that commits after a later-numbered one simply gets
the next free index: leaf order is sequencing order, which follows commit order.

Checkpoints: at least every `checkpoint_every_entries` entries (a run appends at most up to
that boundary before it signs) and every `checkpoint_interval` while entries arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crypto.checkpoint import NoteSigner
from crypto.merkle import leaf_hash
from services.common.logging import get_logger
from services.matcher import checkpoints, tree_store
from services.matcher.schema import audit_events, audit_queue
from services.matcher.settings import AuditLogSettings
from services.matcher.tree_store import TreeHead


@dataclass(frozen=True)
class SequenceRun:
    sequenced: int
    head: TreeHead
    checkpoints_signed: tuple[int, ...]
    more: bool
    """The run stopped at its batch limit: entries may still be queued."""


def _take(conn: sa.Connection, limit: int) -> tuple[int, list[tuple[int, bytes]]]:
    """Dequeue up to `limit` entries, lowest id first: (how many, [(event id, leaf hash)])."""
    ids = [int(i) for i in conn.execute(sa.select(audit_queue.c.event_id)
                                        .order_by(audit_queue.c.event_id).limit(limit))
           .scalars()]
    if not ids:
        return 0, []
    rows = {int(r.id): bytes(r.leaf) for r in conn.execute(
        sa.select(audit_events.c.id, audit_events.c.leaf).where(audit_events.c.id.in_(ids)))}
    orphans = [i for i in ids if i not in rows]
    if orphans:  # only a hand-made change can remove a queued row; never append a guess
        get_logger(component="sequencer").error(
            "audit_queue_orphans", event_ids=orphans[:20], count=len(orphans),
            action="an unsequenced audit entry was removed from audit_events; investigate")
    conn.execute(audit_queue.delete().where(audit_queue.c.event_id.in_(ids)))
    return len(ids), [(i, leaf_hash(rows[i])) for i in ids if i in rows]


def sequence(
    conn: sa.Connection,
    *,
    now: datetime,
    signer: NoteSigner | None,
    settings: AuditLogSettings,
    force_checkpoint: bool = False,
) -> SequenceRun:
    """One sequencing step in the caller's transaction (see the module docstring).

    Without a `signer` the tree still grows; no checkpoint is signed. `force_checkpoint` signs
    one at the end whenever the tree grew past the latest checkpoint.
    """
    head = tree_store.tree_head(conn, lock=True)
    latest = checkpoints.latest_meta(conn)
    signed: list[int] = []
    every = settings.checkpoint_every_entries
    done = appended = 0
    more = False

    def sign() -> None:
        nonlocal latest
        assert signer is not None
        latest = checkpoints.sign(conn, signer, settings.origin, head, now)
        signed.append(head.size)

    while True:
        since = head.size - (latest.tree_size if latest else 0)
        if signer is not None and since >= every:
            sign()
            since = 0
        room = settings.sequence_batch - done
        if signer is not None:
            room = min(room, every - since)
        if room <= 0:
            more = True
            break
        dequeued, taken = _take(conn, room)
        if not dequeued:
            break
        head = tree_store.append(conn, head, taken, now)
        done += dequeued
        appended += len(taken)
    grew = head.size > (latest.tree_size if latest else 0)
    due = force_checkpoint or latest is None or (
        now - latest.created_at >= settings.checkpoint_interval)
    if signer is not None and grew and due:
        sign()
    return SequenceRun(appended, head, tuple(signed), more)


def work_due(conn: sa.Connection, *, now: datetime, signing: bool,
             settings: AuditLogSettings) -> bool:
    """Whether `sequence` would append or sign anything now (no lock taken)."""
    if conn.execute(sa.select(audit_queue.c.event_id).limit(1)).first() is not None:
        return True
    if not signing:
        return False
    head = tree_store.tree_head(conn)
    latest = checkpoints.latest_meta(conn)
    if head.size == 0 or (latest is not None and latest.tree_size >= head.size):
        return False
    return latest is None or now - latest.created_at >= settings.checkpoint_interval
