"""`samenloop audit verify` against a database someone with write access has tampered with.

The attacker first drops every trigger on the audit tables (as anyone with the database's
owner rights can), then edits, deletes, inserts or reorders one row. Each change must be found
and the first entry that does not fit named; undoing it makes the log verify again. Runs on
SQLite and on PostgreSQL. The keys believed are the ones in the dev PKI's manifest.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from crypto.checkpoint import NoteVerifier
from crypto.cosignature import CosignatureVerifier, Cosigner, cosign_checkpoint
from crypto.keys import load_signing_key, load_verify_key
from samenloop.auditverify.core import Trust
from samenloop.auditverify.database import verify_database
from samenloop.cli.main import app
from services.common.db import create_engine, migrate
from services.matcher import checkpoints
from services.matcher.audit_retention import purge_audit_content
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.schema import (
    audit_cosignatures,
    audit_events,
    audit_leaves,
)
from services.matcher.service import Matcher
from services.matcher.settings import AuditLogSettings, MatcherSettings
from services.matcher.views import Caller
from tests.matcher.conftest import CONTROLLER, PARTNERS
from tests.matcher.helpers import HOUSING, POLICE, Pki, build_matcher_for_test
from tests.matcher.test_audit_tree import write

WITNESSES = (HOUSING, POLICE)


@dataclass
class Log:
    url: str
    engine: Engine
    matcher: Matcher
    trust: Trust
    events: list[int]
    """Row id of the entry at each leaf index."""

    def verify(self, require: int = 2) -> Any:
        return verify_database(self.url, self.trust, require_cosignatures=require)

    def sql(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(statement), params)

    def checkpoint_sizes(self) -> list[int]:
        with self.engine.connect() as conn:
            return [int(s) for s in conn.execute(sa.text(
                "SELECT tree_size FROM audit_checkpoints ORDER BY tree_size")).scalars()]

    def row(self, leaf: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(audit_events)
                                     .where(audit_events.c.id == self.events[leaf])).one()
                        ._mapping)


def witness_entry(pki: Pki, org: str) -> Any:
    key = load_verify_key(pki.dir / f"gateway-{org}" / "witness.key.pub")
    return dataclasses.replace(PARTNERS[org], witness_key=key)


def trust_of(pki: Pki) -> Trust:
    components = pki.manifest["components"]
    return Trust(NoteVerifier.from_vkey(components["matcher"]["keys"]["checkpoint"]["note_vkey"]),
                 tuple(CosignatureVerifier.from_vkey(
                     components[f"gateway-{org}"]["keys"]["witness"]["cosignature_vkey"])
                     for org in WITNESSES))


def drop_triggers(engine: Engine) -> None:
    """What an attacker with the owner's rights does first: drop every trigger."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in conn.execute(sa.text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all():
                conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
        else:
            for name, table in conn.execute(sa.text(
                    "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                    "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())")).all():
                conn.execute(sa.text(f'DROP TRIGGER "{name}" ON "{table}"'))


@pytest.fixture
def log(db_url: str, pki: Pki) -> Iterator[Log]:
    migrate(MIGRATIONS, db_url)
    engine = create_engine(db_url)
    clock = SettableClock(SystemClock().now())
    partners = {**PARTNERS, **{org: witness_entry(pki, org) for org in WITNESSES}}
    settings = MatcherSettings(partners=partners, accepted_key_ids=frozenset(),
                               controller=CONTROLLER,
                               audit_log=AuditLogSettings(checkpoint_every_entries=8))
    matcher = build_matcher_for_test(engine, pki, settings, clock)
    events: list[int] = []
    for batch in (3, 5, 7, 1, 9, 6, 4, 5):  # 40 entries, checkpoints every 8 (and at once)
        events += write(engine, batch, clock.now())
        matcher.sequence_audit_log()
    matcher.sequence_audit_log(force_checkpoint=True)
    with engine.connect() as conn:
        latest = checkpoints.get(conn, None)
    assert latest is not None and latest.tree_size == 40
    for org in WITNESSES:
        signer = Cosigner(org, load_signing_key(pki.dir / f"gateway-{org}" / "witness.key"))
        line = cosign_checkpoint(latest.body, signer, int(time.time()) - 7200)
        matcher.add_cosignature(Caller(org, "gateway"), 40, latest.root_hash, line)
    with engine.connect() as conn:  # leaf order is row order here (one writer)
        assert conn.execute(sa.select(audit_leaves.c.event_id)
                            .order_by(audit_leaves.c.leaf_index)).scalars().all() == events
    drop_triggers(engine)
    yield Log(db_url, engine, matcher, trust_of(pki), events)
    engine.dispose()


def test_untouched_log_verifies_with_its_witnesses(log: Log) -> None:
    report = log.verify(require=2)
    assert report.ok, report.problem
    assert (report.entries, report.latest_checkpoint, report.witnessed_size) == (40, 40, 40)
    assert report.checkpoints >= 40 // 8
    short = log.verify(require=3)  # only two witnesses cosigned
    assert not short.ok and "3 valid cosignatures" in (short.problem or "")
    other_log = dataclasses.replace(log.trust, log=NoteVerifier(
        log.trust.log.name, load_verify_key_of_other()))
    wrong = verify_database(log.url, other_log)
    assert not wrong.ok and "not signed by any trusted key" in (wrong.problem or "")


def load_verify_key_of_other() -> Any:
    from crypto.signing import SigningKey

    return SigningKey(bytes(range(32))).verify_key


def _tamper(log: Log, apply: Callable[[], None], undo: Callable[[], None], *expected: str
            ) -> None:
    apply()
    try:
        report = log.verify()
        assert not report.ok, "the change was not detected"
        for text in expected:
            assert text in (report.problem or ""), report.problem
        assert "\n" not in (report.problem or "")
    finally:
        undo()
    again = log.verify()
    assert again.ok, again.problem


def test_an_edited_entry_is_named(log: Log) -> None:
    row = log.row(13)
    _tamper(log, lambda: log.sql("UPDATE audit_events SET data_subject_id = :v WHERE id = :id",
                                 v="ff" * 32, id=row["id"]),
            lambda: log.sql("UPDATE audit_events SET data_subject_id = :v WHERE id = :id",
                            v=row["data_subject_id"], id=row["id"]),
            "leaf 13 ", "dpl.core.data_subject_id")
    forged = bytes(row["leaf"]).replace(row["data_subject_id"].encode(), b"ff" * 32)
    assert forged != bytes(row["leaf"])
    _tamper(log, lambda: log.sql("UPDATE audit_events SET leaf = :v WHERE id = :id",
                                 v=forged, id=row["id"]),
            lambda: log.sql("UPDATE audit_events SET leaf = :v WHERE id = :id",
                            v=bytes(row["leaf"]), id=row["id"]),
            "leaf 13 ", "does not hash to the leaf hash")


def _reinsert(log: Log, row: dict[str, Any]) -> Callable[[], None]:
    def undo() -> None:
        with log.engine.begin() as conn:
            conn.execute(sa.insert(audit_events), row)
    return undo


def test_a_deleted_entry_is_named(log: Log) -> None:
    row = log.row(20)
    _tamper(log, lambda: log.sql("DELETE FROM audit_events WHERE id = :id", id=row["id"]),
            _reinsert(log, row), "leaf 20 ", "content is missing")


def test_an_inserted_entry_is_named(log: Log) -> None:
    copy = {**log.row(5), "id": max(log.events) + 1000, "span_id": "0" * 16}
    _tamper(log, _reinsert(log, copy),
            lambda: log.sql("DELETE FROM audit_events WHERE id = :id", id=copy["id"]),
            f"row {copy['id']} ", "not in the log")


def _swap_leaves(log: Log, a: int, b: int, *, with_hashes: bool) -> None:
    """Exchange what leaves a and b point at (and their stored hashes, if asked)."""
    with log.engine.begin() as conn:
        rows = {int(r.leaf_index): r for r in conn.execute(
            sa.select(audit_leaves).where(audit_leaves.c.leaf_index.in_([a, b])))}
        conn.execute(audit_leaves.update().where(audit_leaves.c.leaf_index == a)
                     .values(event_id=-1))
        for this, that in ((b, a), (a, b)):
            values: dict[str, Any] = {"event_id": rows[that].event_id}
            if with_hashes:
                values["leaf_hash"] = rows[that].leaf_hash
            conn.execute(audit_leaves.update().where(audit_leaves.c.leaf_index == this)
                         .values(**values))


def test_reordered_entries_are_named(log: Log) -> None:
    _tamper(log, lambda: _swap_leaves(log, 7, 9, with_hashes=False),
            lambda: _swap_leaves(log, 7, 9, with_hashes=False),
            "leaf 7 ", "does not hash")
    # A careful attacker moves the leaf hashes along: every entry still hashes to its leaf,
    # but the tree no longer matches the signed checkpoint; the stored subtrees point at it.
    covering = min(s for s in log.checkpoint_sizes() if s > 31)
    _tamper(log, lambda: _swap_leaves(log, 30, 31, with_hashes=True),
            lambda: _swap_leaves(log, 30, 31, with_hashes=True),
            "leaf 30 or 31", f"checkpoint at tree size {covering}")


def test_forged_cosignature_and_checkpoint_are_found(log: Log) -> None:
    with log.engine.connect() as conn:
        line = conn.execute(sa.select(audit_cosignatures.c.signature_line)
                            .where(audit_cosignatures.c.witness == POLICE)).scalar_one()
    name, blob = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    forged = f"{name} {base64.b64encode(bytes(raw)).decode()}"
    _tamper(log, lambda: log.sql("UPDATE audit_cosignatures SET signature_line = :v "
                                 "WHERE witness = :w", v=forged, w=POLICE),
            lambda: log.sql("UPDATE audit_cosignatures SET signature_line = :v "
                            "WHERE witness = :w", v=line, w=POLICE),
            "checkpoint at tree size 40", POLICE, "does not verify")
    size = log.checkpoint_sizes()[1]  # a signed checkpoint claimed for another size
    _tamper(log, lambda: log.sql("UPDATE audit_checkpoints SET tree_size = :f WHERE tree_size "
                                 "= :s", f=size - 1, s=size),
            lambda: log.sql("UPDATE audit_checkpoints SET tree_size = :s WHERE tree_size = :f",
                            f=size - 1, s=size),
            f"checkpoint at tree size {size - 1}", "differs from its signed note")


def test_cli_reports_one_line_and_exit_status(log: Log) -> None:
    keys = ["--log-key", log.trust.log.vkey] + [a for w in log.trust.witnesses
                                                for a in ("--witness", w.vkey)]
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--database-url", log.url, *keys,
                             "--require-cosignatures", "2"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("audit log verified: 40 entries")
    row = log.row(3)
    log.sql("DELETE FROM audit_events WHERE id = :id", id=row["id"])
    bad = runner.invoke(app, ["audit", "verify", "--database-url", log.url, *keys])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [
        f"error: audit log does not verify: leaf 3 (row {row['id']}): its content is missing "
        "and no retention purge record covers it: the entry was deleted"]
    missing = runner.invoke(app, ["audit", "verify", "--database-url", log.url])
    assert missing.exit_code == 1 and "no log key" in missing.output


def test_the_purge_never_covers_a_deletion(log: Log) -> None:
    # Someone deletes entry 3; years later the retention purge reaches it. It empties 0..2,
    # records that range and stops: it never writes a record that would excuse the gap.
    log.sql("DELETE FROM audit_events WHERE id = :id", id=log.events[3])
    clock = log.matcher.clock
    assert isinstance(clock, SettableClock)
    clock.advance(timedelta(days=6 * 366))
    assert purge_audit_content(log.matcher) == 3
    # (the attacker dropped the queueing trigger too: queue the purge record as it would be)
    log.sql("INSERT INTO audit_queue (event_id) SELECT id FROM audit_events WHERE id NOT IN "
            "(SELECT event_id FROM audit_leaves)")
    log.matcher.sequence_audit_log(force_checkpoint=True)
    report = log.verify(require=0)
    assert not report.ok and report.leaf == 3, report.problem
    assert report.purged == 3

