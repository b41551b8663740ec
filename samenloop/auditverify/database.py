"""`audit verify --database-url`: read the matcher's tables directly, as a supervisor with a
copy of the database (or the operator) would.

Reads in one snapshot (PostgreSQL REPEATABLE READ), never writes. Besides the walk in `core`,
the database shows two more things: an `audit_events` row that is neither a leaf nor queued
for the sequencer was put there by hand, and when a checkpoint's root does not match, the
subtree hashes the sequencer stored when the leaves were appended point at the changed leaf.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from crypto.merkle import node_hash
from samenloop.auditverify.core import (
    PURGE_RECORD,
    CheckpointRecord,
    Failure,
    Leaf,
    Report,
    Trust,
    verify,
)
from services.common.db import ensure_migrated
from services.matcher import checkpoints, logboek, tree_store
from services.matcher.config import MIGRATIONS
from services.matcher.schema import audit_events, audit_leaves, audit_queue, audit_tree_nodes

PAGE = 2000


@contextmanager
def snapshot(url: str) -> Iterator[sa.Connection]:
    """A read-only connection seeing one state of the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
    finally:
        engine.dispose()


def leaves(conn: sa.Connection) -> Iterator[Leaf]:
    """Every leaf in leaf order with its entry's bytes and shown columns (streamed)."""
    after = -1
    while True:
        rows = conn.execute(
            sa.select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash,
                      audit_leaves.c.event_id.label("leaf_event_id"), audit_events)
            .select_from(audit_leaves.outerjoin(
                audit_events, audit_events.c.id == audit_leaves.c.event_id))
            .where(audit_leaves.c.leaf_index > after)
            .order_by(audit_leaves.c.leaf_index).limit(PAGE)).all()
        if not rows:
            return
        for r in rows:
            yield _leaf(r)
        after = int(rows[-1].leaf_index)


def _leaf(r: Any) -> Leaf:
    label = f"row {int(r.leaf_event_id)}"
    if r.id is None:
        return Leaf(int(r.leaf_index), bytes(r.leaf_hash), None, {}, label, int(r.leaf_event_id))
    columns = {c.name: r._mapping[c.name] for c in audit_events.columns}
    return Leaf(int(r.leaf_index), bytes(r.leaf_hash), bytes(r.leaf), logboek.record(columns),
                label, int(r.leaf_event_id))


def checkpoint_records(conn: sa.Connection) -> list[CheckpointRecord]:
    """Every checkpoint, as the matcher serves it (its note with the cosignature lines)."""
    out: list[CheckpointRecord] = []
    after: int | None = None
    while True:
        page = checkpoints.page(conn, after, 0, PAGE)
        if not page:
            return out
        out.extend(CheckpointRecord(c.tree_size, c.root_hash, c.signed_note) for c in page)
        after = page[-1].tree_size


def purge_records(conn: sa.Connection) -> list[tuple[int, bytes | None]]:
    rows = conn.execute(
        sa.select(audit_leaves.c.leaf_index, audit_events.c.leaf)
        .join(audit_events, audit_events.c.id == audit_leaves.c.event_id)
        .where(audit_events.c.name == PURGE_RECORD)).all()
    return [(int(r.leaf_index), bytes(r.leaf)) for r in rows]


def stray_row(conn: sa.Connection) -> str | None:
    """The first entry row that is neither a leaf nor queued: inserted past the matcher."""
    row = conn.execute(
        sa.select(audit_events.c.id, audit_events.c.name)
        .where(~sa.exists().where(audit_leaves.c.event_id == audit_events.c.id),
               ~sa.exists().where(audit_queue.c.event_id == audit_events.c.id))
        .order_by(audit_events.c.id).limit(1)).first()
    if row is None:
        return None
    return (f"row {int(row.id)} ({row.name}) is in audit_events but not in the log, neither "
            "sequenced nor queued: it was inserted past the matcher")


def localizer(conn: sa.Connection) -> Any:
    """Name the first leaf in [start, end) that no longer matches the subtree hashes stored
    when it was appended (lowest leaf first, then the smallest subtree)."""

    def localize(start: int, end: int) -> str | None:
        lo = start - start % 2
        rows = conn.execute(sa.select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash)
                            .where(audit_leaves.c.leaf_index >= lo,
                                   audit_leaves.c.leaf_index < end)
                            .order_by(audit_leaves.c.leaf_index)).all()
        hashes = {int(r.leaf_index): bytes(r.leaf_hash) for r in rows}
        stored = {(int(n.level), int(n.node_index)): bytes(n.hash) for n in conn.execute(
            sa.select(audit_tree_nodes).where(audit_tree_nodes.c.level == 1,
                                              audit_tree_nodes.c.node_index >= lo // 2,
                                              audit_tree_nodes.c.node_index < end // 2))}
        for pair in range(lo // 2, end // 2):
            left, right = hashes.get(2 * pair), hashes.get(2 * pair + 1)
            want = stored.get((1, pair))
            if left is None or right is None or want is None:
                continue
            if node_hash(left, right) != want:
                return (f"leaf {2 * pair} or {2 * pair + 1} does not fit the subtree hash "
                        "stored when it was sequenced: an entry was replaced, reordered or "
                        f"inserted there (the checkpoint at tree size {end} no longer matches)")
        return None

    return localize


def verify_database(url: str, trust: Trust, *, require_cosignatures: int = 0) -> Report:
    """The whole check against a matcher database (see `core.verify` and this module).

    Raises `DatabaseUnavailable` / `DatabaseNotMigrated` (one line each) when the database
    cannot be read or holds no audit log of this version.
    """
    engine = sa.create_engine(url)
    try:
        ensure_migrated(engine, MIGRATIONS, "samenloop matcher migrate --config MATCHER.yaml")
    finally:
        engine.dispose()
    with snapshot(url) as conn:
        report = verify(
            trust, leaves(conn), checkpoint_records(conn), purge_records(conn),
            require_cosignatures=require_cosignatures,
            consistency=lambda a, b: tree_store.consistency_proof(conn, a, b),
            localize=localizer(conn))
        if report.ok:
            stray = stray_row(conn)
            if stray is not None:
                report.ok, report.problem = False, stray
    return report


__all__ = ["Failure", "verify_database"]
