"""The ingest journal: what happened to each line of each export file (ADR 0017).

A file is identified by the SHA-256 of its bytes, a row by its line. Before a batch goes to the
matcher its rows are written as `prepared`, with the pseudonymised message exactly as it will
be sent and its batch id, in the same transaction as their vault entries. When the matcher's
answer arrives the rows become `done` with their outcome. After a crash or a lost connection,
a rerun skips `done` rows, resubmits `prepared` rows as stored (no second pseudonymisation, same
batch id; the matcher is idempotent on (partner, id)), and reads only the rest anew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.partner_gateway.store import files, journal

PREPARED = "prepared"
DONE = "done"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    line: int
    row_id: str
    state: str
    batch_id: str
    message: bytes | None
    outcome: str | None
    reason_code: str | None
    reason: str | None


@dataclass(frozen=True)
class Prepared:
    """A row about to be sent: its line, id and the serialised message."""

    line: int
    row_id: str
    message: bytes


@dataclass(frozen=True)
class Outcome:
    line: int
    outcome: str
    reason_code: str = ""
    reason: str = ""


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start_file(self, sha: str, kind: str, name: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(files.c.file_sha256).where(files.c.file_sha256 == sha)
                            ).first() is None:
                conn.execute(sa.insert(files).values(file_sha256=sha, kind=kind, name=name[:512],
                                                     started_at=now_utc()))

    def finish_file(self, sha: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(files.update().where(files.c.file_sha256 == sha)
                         .values(finished_at=now_utc()))

    def lookup(self, sha: str, lines: Sequence[int]) -> dict[int, Entry]:
        if not lines:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(journal).where(
                journal.c.file_sha256 == sha, journal.c.line.in_(list(lines)))).all()
        return {
            int(r.line): Entry(int(r.line), r.row_id, r.state, r.batch_id,
                               None if r.message is None else bytes(r.message), r.outcome,
                               r.reason_code, r.reason)
            for r in rows
        }

    def prepare(self, conn: sa.Connection, sha: str, kind: str, batch_id: str,
                rows: Iterable[Prepared]) -> None:
        """Record rows as prepared (inside the caller's transaction, with their vault entries)."""
        now = now_utc()
        values = [
            {"file_sha256": sha, "line": p.line, "kind": kind, "row_id": p.row_id,
             "state": PREPARED, "batch_id": batch_id, "message": p.message, "updated_at": now}
            for p in rows
        ]
        if values:
            conn.execute(sa.insert(journal), values)

    def complete(self, conn: sa.Connection, sha: str, outcomes: Sequence[Outcome]) -> None:
        """Mark rows done with the matcher's outcome; the stored message is dropped."""
        if not outcomes:
            return
        now = now_utc()
        conn.execute(
            journal.update()
            .where(journal.c.file_sha256 == sa.bindparam("sha"),
                   journal.c.line == sa.bindparam("row_line"))
            .values(state=DONE, outcome=sa.bindparam("row_outcome"),
                    reason_code=sa.bindparam("row_code"), reason=sa.bindparam("row_reason"),
                    message=None, updated_at=now),
            [{"sha": sha, "row_line": o.line, "row_outcome": o.outcome,
              "row_code": o.reason_code or None,
              "row_reason": (o.reason or None) and o.reason[:500]} for o in outcomes],
        )

    def accepted_elsewhere(self, conn: sa.Connection, row_ids: Sequence[str]) -> set[str]:
        """Ids the matcher holds from some earlier row (accepted, refreshed or duplicate)."""
        if not row_ids:
            return set()
        return set(conn.execute(
            sa.select(journal.c.row_id).where(
                journal.c.row_id.in_(list(row_ids)), journal.c.state == DONE,
                journal.c.outcome.in_(["accepted", "refreshed", "duplicate"]))
        ).scalars())

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(journal)
                                    .where(journal.c.state == PREPARED)).scalar_one())
