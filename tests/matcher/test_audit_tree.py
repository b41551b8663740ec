"""The audit log's Merkle tree in the database (ADR 0022), on SQLite and PostgreSQL.

Oracles: leaf hashes computed here with hashlib; roots and proofs of the in-memory RFC 9162
functions (crypto.merkle, held to the RFC 6962 reference tree and transparency-dev's vectors);
checkpoint notes opened with the public key from the dev PKI's manifest.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.checkpoint import NoteVerifier, verify_checkpoint
from crypto.merkle import (
    consistency_proof,
    inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from services.common.db import create_engine, migrate
from services.matcher import audit, tree_store
from services.matcher.audit_retention import PURGE_RECORD, purge_audit_content
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.schema import (
    audit_checkpoints,
    audit_events,
    audit_leaves,
    audit_tree_nodes,
)
from services.matcher.service import Matcher
from services.matcher.settings import AuditLogSettings, MatcherSettings
from tests.matcher.conftest import CONTROLLER, PARTNERS
from tests.matcher.helpers import HOUSING, WAMS, Pki, build_matcher_for_test


def make_matcher(engine: Engine, pki: Pki, clock: SettableClock, **audit_log: Any) -> Matcher:
    settings = MatcherSettings(partners=PARTNERS, accepted_key_ids=frozenset(),
                               controller=CONTROLLER, audit_log=AuditLogSettings(**audit_log))
    return build_matcher_for_test(engine, pki, settings, clock)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(MIGRATIONS, db_url)
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def write(engine: Engine, n: int, now: datetime, name: str = "signal_received") -> list[int]:
    """`n` audit entries in one transaction, as the use cases write them; their row ids."""
    events = [audit.AuditEvent(name, WAMS, secrets.token_hex(32), audit.HOUSEHOLD,
                               {"partner": HOUSING, "n": str(i)}) for i in range(n)]
    with engine.begin() as conn:
        return audit.write(conn, audit.Actor.system("test"), events, now)


def leaves(engine: Engine) -> list[tuple[int, int, bytes, bytes]]:
    """(leaf index, event id, stored leaf hash, SHA-256(0x00 || entry bytes)) in leaf order."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_leaves.c.leaf_index, audit_leaves.c.event_id,
                                      audit_leaves.c.leaf_hash, audit_events.c.leaf)
                            .join(audit_events, audit_events.c.id == audit_leaves.c.event_id)
                            .order_by(audit_leaves.c.leaf_index)).all()
    return [(int(r.leaf_index), int(r.event_id), bytes(r.leaf_hash),
             hashlib.sha256(b"\x00" + bytes(r.leaf)).digest()) for r in rows]


def checkpoint_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(audit_checkpoints)
                                 .order_by(audit_checkpoints.c.tree_size)).all())


def log_key(pki: Pki) -> NoteVerifier:
    return NoteVerifier.from_vkey(pki.component("matcher")["keys"]["checkpoint"]["note_vkey"])


def test_stored_tree_gives_the_rfc_roots_and_proofs(engine: Engine, pki: Pki) -> None:
    clock = SettableClock(SystemClock().now())
    matcher = make_matcher(engine, pki, clock, checkpoint_every_entries=1_000_000)
    ids: list[int] = []
    sizes = []
    for batch in (1, 2, 5, 3, 8, 13, 1, 4):  # 37 leaves, appended across many tree shapes
        ids += write(engine, batch, clock.now())
        matcher.sequence_audit_log()
        sizes.append(len(ids))
    stored = leaves(engine)
    assert [s[0] for s in stored] == list(range(37))  # gap-free
    assert [s[1] for s in stored] == ids  # one writer: row order
    assert all(s[2] == s[3] for s in stored)  # leaf hash = SHA-256(0x00 || the fixed bytes)
    hashes = [s[2] for s in stored]
    with engine.connect() as conn:
        assert tree_store.tree_head(conn).root == root_hash(hashes)
        for size in range(1, 38):
            assert tree_store.root_at(conn, size) == root_hash(hashes[:size])
        for size in sizes:
            for index in range(size):
                assert tree_store.inclusion_proof(conn, index, size) == \
                    inclusion_proof(hashes[:size], index)
            for old in range(1, size + 1):
                assert tree_store.consistency_proof(conn, old, size) == \
                    consistency_proof(hashes[:size], old)
        # Each complete inner subtree is stored once: n leaves make n - popcount(n) of them.
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_tree_nodes)
                            ).scalar_one() == 37 - bin(37).count("1")


def test_checkpoints_every_n_entries_or_t_seconds(engine: Engine, pki: Pki) -> None:
    clock = SettableClock(SystemClock().now())
    matcher = make_matcher(engine, pki, clock, checkpoint_every_entries=4,
                           checkpoint_interval=timedelta(seconds=60))
    write(engine, 10, clock.now())
    matcher.sequence_audit_log()
    assert [r.tree_size for r in checkpoint_rows(engine)] == [4, 8]  # 10: not yet due
    matcher.sequence_audit_log()
    assert [r.tree_size for r in checkpoint_rows(engine)] == [4, 8]
    clock.advance(timedelta(seconds=61))
    assert matcher.audit_log_work_due()
    matcher.sequence_audit_log()  # T seconds since the last one, and the tree grew
    write(engine, 1, clock.now())
    matcher.sequence_audit_log(force_checkpoint=True)  # as after a disclosure
    rows = checkpoint_rows(engine)
    assert [r.tree_size for r in rows] == [4, 8, 10, 11]
    assert not matcher.audit_log_work_due()
    hashes = [s[2] for s in leaves(engine)]
    for row in rows:
        cp = verify_checkpoint(row.note, [log_key(pki)], origin="samenloop.local/audit")
        assert (cp.size, cp.root_hash) == (row.tree_size, root_hash(hashes[:row.tree_size]))


def test_sequencing_follows_commit_order_across_replicas(engine: Engine, pki: Pki,
                                                         db_url: str) -> None:
    clock = SettableClock(SystemClock().now())
    replicas = [make_matcher(engine, pki, clock, checkpoint_every_entries=7)]
    other = create_engine(db_url)
    replicas.append(make_matcher(other, pki, clock, checkpoint_every_entries=7))
    try:
        if engine.dialect.name == "postgresql":
            # A transaction that took the lower row id commits after one that took a higher id:
            # the later commit gets the later leaf (row ids are not leaf indexes, ADR 0009).
            with engine.connect() as slow:
                tx = slow.begin()
                [late] = audit.write(slow, audit.Actor.system("t"), [audit.AuditEvent(
                    "signal_received", WAMS, "aa" * 32, audit.HOUSEHOLD)], clock.now())
                [early] = write(other, 1, clock.now())
                assert early > late
                replicas[1].sequence_audit_log()
                tx.commit()
            replicas[0].sequence_audit_log()
            assert [s[1] for s in leaves(engine)] == [early, late]

        errors: list[BaseException] = []
        done = threading.Event()

        def writer(eng: Engine) -> None:
            try:
                for _ in range(12):
                    write(eng, 3, clock.now())
            except BaseException as exc:
                errors.append(exc)

        def sequencer(m: Matcher) -> None:
            try:
                while not done.is_set():
                    m.sequence_audit_log()
            except BaseException as exc:
                errors.append(exc)

        writers = [threading.Thread(target=writer, args=(e,)) for e in (engine, other)]
        sequencers = [threading.Thread(target=sequencer, args=(m,)) for m in replicas]
        for t in writers + sequencers:
            t.start()
        for t in writers:
            t.join(timeout=120)
        done.set()
        for t in sequencers:
            t.join(timeout=120)
        assert not errors, errors
        replicas[0].sequence_audit_log()
    finally:
        other.dispose()
    stored = leaves(engine)
    with engine.connect() as conn:
        all_ids = sorted(int(i) for i in conn.execute(sa.select(audit_events.c.id)).scalars())
    assert [s[0] for s in stored] == list(range(len(all_ids)))  # gap-free
    assert sorted(s[1] for s in stored) == all_ids  # every entry exactly once
    hashes = [s[2] for s in stored]
    for row in checkpoint_rows(engine):
        assert row.root_hash == root_hash(hashes[:row.tree_size])
    sizes = [0] + [r.tree_size for r in checkpoint_rows(engine)]
    # at least every 7 entries: no run of more than 7 entries without a checkpoint
    assert all(0 < b - a <= 7 for a, b in itertools.pairwise(sizes))
    assert len(stored) - sizes[-1] < 7


def test_retention_deletes_content_keeps_leaf_hashes_and_proofs(engine: Engine, pki: Pki
                                                              ) -> None:
    clock = SettableClock(SystemClock().now() - timedelta(days=12 * 366))
    matcher = make_matcher(engine, pki, clock, checkpoint_every_entries=1000)
    old = write(engine, 5, clock.now())
    matcher.sequence_audit_log(force_checkpoint=True)
    clock.set(SystemClock().now() - timedelta(days=30))
    young = write(engine, 3, clock.now())
    matcher.sequence_audit_log(force_checkpoint=True)
    before = leaves(engine)
    [_, signed] = checkpoint_rows(engine)

    # The database refuses to delete a young entry, to change any, to touch the tree.
    for stmt in (audit_events.delete().where(audit_events.c.id == young[0]),
                 audit_events.update().where(audit_events.c.id == old[0]).values(name="x"),
                 audit_leaves.delete().where(audit_leaves.c.leaf_index == 0),
                 audit_tree_nodes.delete(),
                 audit_checkpoints.update().values(note="x")):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)

    clock.set(SystemClock().now() - timedelta(days=6 * 366))  # the purge ran six years ago
    assert purge_audit_content(matcher) == 5
    matcher.sequence_audit_log()
    clock.set(SystemClock().now())
    assert purge_audit_content(matcher) == 0  # the rest is young; purge records stay
    with engine.connect() as conn:
        present = {int(i) for i in conn.execute(sa.select(audit_events.c.id)).scalars()}
        record = conn.execute(sa.select(audit_events)
                              .where(audit_events.c.name == PURGE_RECORD)).one()
    assert not present & set(old) and set(young) <= present
    assert record.attributes == {"first_leaf": "0", "end_leaf": "5", "entries_deleted": "5",
                                 "cutoff": record.attributes["cutoff"]}
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.id == record.id))  # old, but
        # the record of what the purge deleted stays as long as the log
    # The leaf hashes stay: the tree and the proofs against the earlier checkpoint hold.
    with engine.connect() as conn:
        kept = conn.execute(sa.select(audit_leaves.c.leaf_hash)
                            .order_by(audit_leaves.c.leaf_index).limit(8)).scalars().all()
        assert [bytes(h) for h in kept] == [b[2] for b in before]
        for index in range(5):
            verify_inclusion(before[index][2], index, signed.tree_size,
                             tree_store.inclusion_proof(conn, index, signed.tree_size),
                             bytes(signed.root_hash))
    matcher.sequence_audit_log(force_checkpoint=True)
    with engine.connect() as conn:
        latest = tree_store.tree_head(conn)
        verify_consistency(signed.tree_size, latest.size,
                           tree_store.consistency_proof(conn, signed.tree_size, latest.size),
                           bytes(signed.root_hash), latest.root)
