"""Signed checkpoints of the audit log and the witnesses' cosignatures, stored and served.

The matcher signs a C2SP tlog-checkpoint (`crypto.checkpoint`, Ed25519, key name = origin) for
a tree head and stores the signed note once per tree size. Witnesses (the partners' gateways)
add `cosignature/v1` lines (`crypto.cosignature`); a checkpoint is served as the matcher's note
with every stored cosignature line appended, so any verifier can count k of n witnesses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crypto.checkpoint import Checkpoint, NoteSigner, parse_note, sign_checkpoint
from crypto.cosignature import Cosignature
from services.matcher.schema import audit_checkpoints, audit_cosignatures
from services.matcher.tree_store import TreeHead


@dataclass(frozen=True)
class CosignatureView:
    witness: str
    cosigned_at: int
    """The timestamp the witness signed (POSIX seconds)."""
    signature_line: str


@dataclass(frozen=True)
class CheckpointView:
    tree_size: int
    root_hash: bytes
    note: str
    """The matcher's signed note alone."""
    created_at: datetime
    cosignatures: tuple[CosignatureView, ...] = ()

    @property
    def body(self) -> str:
        """The checkpoint text the signatures cover (origin, size, root hash)."""
        return parse_note(self.note).text

    @property
    def signed_note(self) -> str:
        """The note as served: the matcher's signature, then one line per cosignature."""
        return self.note + "".join(c.signature_line + "\n" for c in self.cosignatures)


@dataclass(frozen=True)
class CheckpointMeta:
    tree_size: int
    created_at: datetime


def sign(conn: sa.Connection, signer: NoteSigner, origin: str, head: TreeHead,
         now: datetime) -> CheckpointMeta:
    """Sign and store the checkpoint of `head` (under the sequencing lock)."""
    note = sign_checkpoint(Checkpoint(origin, head.size, head.root), signer)
    conn.execute(sa.insert(audit_checkpoints), {"tree_size": head.size, "root_hash": head.root,
                                                "note": note, "created_at": now})
    return CheckpointMeta(head.size, now)


def latest_meta(conn: sa.Connection) -> CheckpointMeta | None:
    row = conn.execute(sa.select(audit_checkpoints.c.tree_size, audit_checkpoints.c.created_at)
                       .order_by(audit_checkpoints.c.tree_size.desc()).limit(1)).first()
    return None if row is None else CheckpointMeta(int(row.tree_size), row.created_at)


def _views(conn: sa.Connection, rows: Sequence[Any]) -> list[CheckpointView]:
    sizes = [int(r.tree_size) for r in rows]
    cosigs: dict[int, list[CosignatureView]] = defaultdict(list)
    if sizes:
        for c in conn.execute(sa.select(audit_cosignatures)
                              .where(audit_cosignatures.c.tree_size.in_(sizes))
                              .order_by(audit_cosignatures.c.tree_size,
                                        audit_cosignatures.c.witness)):
            cosigs[int(c.tree_size)].append(
                CosignatureView(c.witness, int(c.cosigned_at), c.signature_line))
    return [CheckpointView(int(r.tree_size), bytes(r.root_hash), r.note, r.created_at,
                           tuple(cosigs[int(r.tree_size)])) for r in rows]


def get(conn: sa.Connection, tree_size: int | None) -> CheckpointView | None:
    """The checkpoint signed at `tree_size`, or the latest one (None); None if there is none."""
    query = sa.select(audit_checkpoints)
    if tree_size is None:
        query = query.order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
    else:
        query = query.where(audit_checkpoints.c.tree_size == tree_size)
    row = conn.execute(query).first()
    return None if row is None else _views(conn, [row])[0]


def page(conn: sa.Connection, after: int | None, min_size: int, limit: int
         ) -> list[CheckpointView]:
    """Checkpoints oldest first, sizes > `after` and >= `min_size`, at most `limit`."""
    query = sa.select(audit_checkpoints).where(audit_checkpoints.c.tree_size >= min_size)
    if after is not None:
        query = query.where(audit_checkpoints.c.tree_size > after)
    rows = conn.execute(query.order_by(audit_checkpoints.c.tree_size).limit(limit)).all()
    return _views(conn, rows)


def add_cosignature(conn: sa.Connection, tree_size: int, cosignature: Cosignature,
                    now: datetime) -> bool:
    """Store a verified cosignature; the first one per checkpoint and witness is kept (False
    when the witness had cosigned this checkpoint already)."""
    values = {"tree_size": tree_size, "witness": cosignature.name,
              "cosigned_at": cosignature.timestamp, "signature_line": cosignature.line(),
              "created_at": now}
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(audit_cosignatures).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(audit_cosignatures).on_conflict_do_nothing()
    return bool(conn.execute(stmt, values).rowcount)
