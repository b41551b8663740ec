"""The gateway's own append-only audit log of every decision on a reveal request.

Entries hold the request, alert, policy (id@version and digest), the partner's signal id, the
names of the fields, a reason code and the local actor — never a value. Each entry's hash
chains over the previous one (SHA-256 over the previous hash and the entry's canonical JSON), and
the database refuses UPDATE and DELETE on the table, so a rewritten history is detected by
`verify_chain`. The witness of the central log (witness.py, ADR 0024) chains every checkpoint
it looked at and every proof of this gateway's answers into the same log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.jcs import canonical_bytes
from services.partner_gateway.journal import now_utc
from services.partner_gateway.store import audit

GENESIS = "0" * 64

DISCLOSED = "disclosed"
REFUSED = "refused"
HELD = "held_for_approval"
APPROVED = "approved_locally"
APPROVAL_REFUSED = "refused_locally"
LIMIT_ALARM = "limit_reached"
REPEATED = "repeated_request"
VAULT_PURGED = "vault_purged"
CANCELLED = "request_cancelled"
"""The matcher no longer expects an answer (signal withdrawn, alert closed, request expired)."""
# the witness of the central log (ADR 0024): `fields` name the tree size, root and note hash
CHECKPOINT_COSIGNED = "checkpoint_cosigned"
CHECKPOINT_VERIFIED = "checkpoint_verified"  # verified, but not cosigned (no witness key)
CENTRAL_LOG_ALARM = "central_log_alarm"  # reason_code: what was wrong
INCLUSION_PROVEN = "inclusion_proven"  # the matcher's entry of a disclosure is in the log
SUBJECT_LOOKED_UP = "subject_looked_up"  # an officer's subject-access request (no identity)

CHAIN_LOCK = 0x5A4D_4C4F  # PostgreSQL advisory lock: one appender at a time across processes


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    event: str
    request: str
    alert: str
    policy: str
    policy_digest: str
    signal_id: str
    fields: str
    reason_code: str
    actor: str
    entry_hash: str


def _hash(previous: str, values: dict[str, Any]) -> str:
    body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    return hashlib.sha256(previous.encode() + canonical_bytes(body)).hexdigest()


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, event: str, *, request: str = "", alert: str = "", policy: str = "",
               policy_digest: str = "", signal_id: str = "", fields: Sequence[str] = (),
               reason_code: str = "", actor: str = "gateway",
               conn: sa.Connection | None = None) -> None:
        """Append one entry; inside `conn`'s transaction when given (evidence and its entry
        commit together), else in a transaction of its own."""
        values: dict[str, Any] = {
            "at": now_utc(), "event": event, "request": request, "alert": alert,
            "policy": policy, "policy_digest": policy_digest, "signal_id": signal_id,
            "fields": ",".join(fields), "reason_code": reason_code, "actor": actor,
        }
        if conn is not None:
            self._insert(conn, values)
            return
        with self.engine.begin() as own:
            self._insert(own, values)

    @staticmethod
    def _insert(conn: sa.Connection, values: dict[str, Any]) -> None:
        # Two appenders reading the same last hash would fork the chain. SQLite serialises
        # writers with BEGIN IMMEDIATE (services.common.db); PostgreSQL needs a lock.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
        last = conn.execute(sa.select(audit.c.entry_hash).order_by(audit.c.seq.desc())
                            .limit(1)).scalar()
        values["entry_hash"] = _hash(last or GENESIS, values)
        conn.execute(sa.insert(audit).values(**values))

    def entries(self, event: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit).order_by(audit.c.seq)
        if event is not None:
            query = query.where(audit.c.event == event)
        with self.engine.connect() as conn:
            return [AuditEntry(**row._mapping) for row in conn.execute(query)]

    def verify_chain(self) -> int | None:
        """The seq of the first entry whose hash does not chain, or None if all do."""
        previous = GENESIS
        for e in self.entries():
            values = {k: getattr(e, k) for k in ("at", "event", "request", "alert", "policy",
                                                 "policy_digest", "signal_id", "fields",
                                                 "reason_code", "actor")}
            if _hash(previous, values) != e.entry_hash:
                return e.seq
            previous = e.entry_hash
        return None

    def disclosed_on(self, day: date, policy: str | None = None) -> int:
        """Distinct requests disclosed on `day` (UTC), overall or for one policy id."""
        start = datetime.combine(day, time())
        query = sa.select(sa.func.count(sa.distinct(audit.c.request))).where(
            audit.c.event == DISCLOSED, audit.c.at >= start,
            audit.c.at < start + timedelta(days=1))
        if policy is not None:
            query = query.where(audit.c.policy.startswith(f"{policy}@", autoescape=True))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def last_decision(self, request: str) -> AuditEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit).where(
                audit.c.request == request,
                audit.c.event.in_([DISCLOSED, REFUSED, HELD, APPROVED, APPROVAL_REFUSED]))
                .order_by(audit.c.seq.desc()).limit(1)).first()
        return None if row is None else AuditEntry(**row._mapping)
