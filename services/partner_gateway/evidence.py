"""The witness's evidence in the gateway database: checkpoints seen, and disclosure receipts.

Every checkpoint of the central audit log the gateway looked at is kept as served (the signed
note), with the verdict, the consistency proof it checked and its own cosignature, and is named
in the hash-chained local audit log in the same transaction (by the SHA-256 of the note). A
receipt ties each disclosure or refusal this gateway sent to the matcher's audit entry for it
and, once a verified checkpoint covers that entry, to its inclusion proof. `samenloop gateway
audit check` re-verifies all of it from here (services/partner_gateway/audit_check.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.merkle import HASH_SIZE
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.journal import now_utc
from services.partner_gateway.store import disclosure_receipts as receipts
from services.partner_gateway.store import witness_checkpoints as checkpoints

OK = "ok"
PENDING, PROVEN, FAILED = "pending", "proven", "failed"
DISCLOSED, REFUSED = "disclosed", "refused"


def pack(hashes: Sequence[bytes]) -> bytes:
    return b"".join(bytes(h) for h in hashes)


def unpack(blob: bytes | None) -> list[bytes]:
    data = bytes(blob or b"")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def note_sha256(note: str) -> str:
    return hashlib.sha256(note.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SeenCheckpoint:
    seq: int
    seen_at: datetime
    tree_size: int
    root_hash: bytes
    note: str
    note_sha256: str
    verdict: str
    previous_size: int | None
    consistency_proof: list[bytes]
    cosignature: str | None

    @property
    def ok(self) -> bool:
        return self.verdict == OK


def _seen(row: sa.Row[tuple[object, ...]]) -> SeenCheckpoint:
    m = row._mapping
    return SeenCheckpoint(
        int(m["seq"]), m["seen_at"], int(m["tree_size"]), bytes(m["root_hash"]), str(m["note"]),
        str(m["note_sha256"]), str(m["verdict"]),
        None if m["previous_size"] is None else int(m["previous_size"]),
        unpack(m["consistency_proof"]), m["cosignature"])


class Evidence:
    """Reads and writes the witness tables; every write also appends to the local chain."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.audit = AuditLog(engine)

    # checkpoints ---------------------------------------------------------------------------
    def checkpoints(self) -> list[SeenCheckpoint]:
        with self.engine.connect() as conn:
            return [_seen(r) for r in conn.execute(
                sa.select(checkpoints).order_by(checkpoints.c.seq))]

    def last_verified(self) -> SeenCheckpoint | None:
        """The reference for the next look: the latest checkpoint that verified."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(checkpoints).where(checkpoints.c.verdict == OK)
                               .order_by(checkpoints.c.seq.desc()).limit(1)).first()
        return None if row is None else _seen(row)

    def already_seen(self, note: str, verdict: str) -> SeenCheckpoint | None:
        """The stored row for this exact note and verdict (a look that found nothing new)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(checkpoints).where(
                checkpoints.c.note_sha256 == note_sha256(note),
                checkpoints.c.verdict == verdict).order_by(checkpoints.c.seq.desc()).limit(1)
            ).first()
        return None if row is None else _seen(row)

    def record_checkpoint(self, *, tree_size: int, root_hash: bytes, note: str, verdict: str,
                          previous_size: int | None = None,
                          consistency_proof: Sequence[bytes] = (),
                          cosignature: str | None = None) -> int:
        """Store a checkpoint seen and chain an entry naming it; returns its seq."""
        digest = note_sha256(note)
        if verdict == OK:
            event = events.CHECKPOINT_COSIGNED if cosignature else events.CHECKPOINT_VERIFIED
        else:
            event = events.CENTRAL_LOG_ALARM
        with self.engine.begin() as conn:
            seq = conn.execute(sa.insert(checkpoints).values(
                seen_at=now_utc(), tree_size=tree_size, root_hash=bytes(root_hash), note=note,
                note_sha256=digest, verdict=verdict, previous_size=previous_size,
                consistency_proof=pack(consistency_proof) or None, cosignature=cosignature,
            ).returning(checkpoints.c.seq)).scalar_one()
            self.audit.append(
                event, reason_code="" if verdict == OK else verdict, conn=conn,
                fields=[f"checkpoint={seq}", f"tree_size={tree_size}",
                        f"root={bytes(root_hash).hex()}", f"note_sha256={digest}"])
        return int(seq)

    # receipts ------------------------------------------------------------------------------
    def expect_receipt(self, request: str, disclosure: str, outcome: str,
                       audit_index: int) -> None:
        """Note that the matcher logged our answer at `audit_index` (once per request)."""
        with self.engine.begin() as conn:
            present = conn.execute(sa.select(receipts.c.request).where(
                receipts.c.request == request)).first()
            if present is None:
                conn.execute(sa.insert(receipts).values(
                    request=request, disclosure=disclosure, outcome=outcome,
                    audit_index=audit_index, answered_at=now_utc(), state=PENDING))

    def pending_receipts(self, below_size: int) -> list[sa.Row[tuple[object, ...]]]:
        """Receipts still waiting for a proof whose entry a tree of `below_size` covers."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(receipts).where(
                receipts.c.state == PENDING, receipts.c.audit_index < below_size)
                .order_by(receipts.c.audit_index)))

    def receipts(self) -> list[sa.Row[tuple[object, ...]]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(receipts).order_by(receipts.c.answered_at,
                                                                   receipts.c.request)))

    def settle_receipt(self, request: str, *, state: str, checkpoint_seq: int, tree_size: int,
                       proof: Sequence[bytes], leaf: bytes, reason_code: str = "") -> None:
        """Store the inclusion proof (or why it failed) and chain an entry saying so."""
        with self.engine.begin() as conn:
            conn.execute(receipts.update().where(receipts.c.request == request).values(
                state=state, checkpoint_seq=checkpoint_seq, tree_size=tree_size,
                proof=pack(proof), leaf=bytes(leaf), reason_code=reason_code or None,
                proven_at=now_utc()))
            index = conn.execute(sa.select(receipts.c.audit_index).where(
                receipts.c.request == request)).scalar_one()
            self.audit.append(
                events.INCLUSION_PROVEN if state == PROVEN else events.CENTRAL_LOG_ALARM,
                request=request, reason_code=reason_code, conn=conn,
                fields=[f"audit_index={index}", f"checkpoint={checkpoint_seq}",
                        f"tree_size={tree_size}",
                        f"leaf_sha256={hashlib.sha256(bytes(leaf)).hexdigest()}"])
