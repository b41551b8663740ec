"""Audit events (Logboek Dataverwerkingen), written in the same transaction as the action.

One entry per data subject: an action on a household and a person writes two entries, each
its own span under the span of the RPC that caused it (W3C trace context, the same trace id as
the OpenTelemetry traces). The data subject id is the matcher pseudonym in hex, never an
identity. A caller's `traceparent` is read from the call itself, so an unsampled trace
(`sampled=0`) loses nothing: entries are never sampled.

`leaf` is the RFC 8785 canonical JSON of the entry's Logboek record (`logboek.record`): the
exact bytes the Merkle tree hashes, fixed at write time. The table is append-only (database
triggers). When an external Logboek is configured (`logboek_otlp.py`), the entries a
transaction wrote are delivered to it, and acknowledged, just before it commits
(`store.run_transaction`); without the acknowledgement the transaction rolls back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from opentelemetry import trace

from crypto.jcs import canonical_bytes
from services.matcher import bulk, logboek
from services.matcher.logboek import OK, PolicyRef, Register
from services.matcher.schema import audit_events

HOUSEHOLD = "household_pseudonym"
PERSON = "person_pseudonym"
NONE = "none"

SYSTEM_ORGANISATION = "matcher"
SYSTEM_ROLE = "system"

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def entry_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical leaf document of a stored entry (`logboek.record`)."""
    return logboek.record(row)


class LogboekSink(Protocol):
    """An external Logboek that acknowledges records (`logboek_otlp.OtlpLogboek`)."""

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        """Return once every record is acknowledged; raise `LogboekUnavailable` otherwise."""


@dataclass(frozen=True)
class Logboek:
    """Where entries point (the register) and where they also go (an optional sink)."""

    register: Register = field(default_factory=Register)
    sink: LogboekSink | None = None


def parse_traceparent(value: str) -> tuple[str, str, str] | None:
    """(trace id, span id, flags) of a valid W3C version-00 `traceparent`, else None."""
    m = _TRACEPARENT.fullmatch(value.strip().lower()) if value else None
    if m is None or set(m.group(1)) == {"0"} or set(m.group(2)) == {"0"}:
        return None
    return m.group(1), m.group(2), m.group(3)


@dataclass(frozen=True)
class Actor:
    """Who acts, and the trace the action belongs to."""

    organisation: str
    role: str
    trace_id: str
    parent_span_id: str
    foreign_operation: str = ""
    """The caller's W3C traceparent as it was sent (any sampled flag)."""
    started: datetime | None = None
    foreign_span_id: str = ""
    """dpl.core.foreign_operation.span_id: the caller's span."""
    processor: str = ""
    """dpl.core.foreign_operation.processor: URI of the calling organisation."""
    logboek: Logboek = field(default_factory=Logboek)

    @classmethod
    def from_current_span(
        cls, organisation: str, role: str, started: datetime | None = None,
        logboek_: Logboek | None = None, traceparent: str = "",
    ) -> Actor:
        """The trace of the active OpenTelemetry span (the RPC's server span), and the caller
        at another organisation from its own `traceparent` header.

        Every caller is another organisation's application (the matcher's operator is never a
        partner, team or officer: ADR 0010), so `processor` is always set. Without an active
        span (tracing off, or the call refused before its span) the entry continues the
        caller's trace under the caller's span; without either it starts a new trace.
        """
        book = logboek_ or Logboek()
        remote = parse_traceparent(traceparent)
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            trace_id, parent = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
        elif remote is not None:
            trace_id, parent = remote[0], remote[1]
        else:
            trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        return cls(organisation, role, trace_id, parent,
                   foreign_operation=f"00-{remote[0]}-{remote[1]}-{remote[2]}" if remote else "",
                   started=started, foreign_span_id=remote[1] if remote else "",
                   processor=book.register.organisation(organisation) if organisation else "",
                   logboek=book)

    @classmethod
    def system(cls, job: str, logboek_: Logboek | None = None) -> Actor:
        """The matcher itself (purge, expiry), in a fresh trace."""
        return cls(SYSTEM_ORGANISATION, SYSTEM_ROLE, secrets.token_hex(16), secrets.token_hex(8),
                   logboek=logboek_ or Logboek())

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_span_id}-01"


@dataclass(frozen=True)
class AuditEvent:
    """What happened to one data subject (or to none: `data_subject_id` empty, type NONE).

    `processing_activity_id` is the register's id for the activity (the policy's, or the
    signal's purpose); the entry holds it as a URI. `attributes` are ids, codes and counts,
    never free text."""

    name: str
    processing_activity_id: str
    data_subject_id: str
    data_subject_id_type: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    status: str = OK
    purpose: str = ""
    policy: PolicyRef | None = None


def under_policy(policy: Any, digest: str) -> dict[str, Any]:
    """The AuditEvent fields of an action taken under `policy` (a `policies.model.Policy`):
    its processing activity, its purposes (codes) and its id, version and digest."""
    return {"processing_activity_id": policy.processing_activity_id,
            "purpose": ",".join(sorted(policy.purposes)),
            "policy": PolicyRef(policy.id, int(policy.version), digest)}


def write(
    conn: sa.Connection, actor: Actor, events: Sequence[AuditEvent], now: datetime
) -> list[int]:
    """Insert `events` (in order) and return their row ids."""
    if not events:
        return []
    rows: list[dict[str, Any]] = []
    register = actor.logboek.register
    spans: set[str] = set()
    while len(spans) < len(events):  # distinct within the call: ids are matched back by span
        spans.add(secrets.token_hex(8))
    for event, span_id in zip(events, spans, strict=True):
        clash = logboek.RESERVED_KEYS.intersection(event.attributes)
        if clash or event.status not in logboek.STATUSES:
            raise ValueError(f"audit event {event.name}: reserved attribute "
                             f"{', '.join(sorted(clash)) or '-'} or unknown status "
                             f"{event.status!r}")
        policy = event.policy
        row: dict[str, Any] = {
            "trace_id": actor.trace_id,
            "span_id": span_id,
            "parent_span_id": actor.parent_span_id,
            "name": event.name,
            "start_time": actor.started or now,
            "end_time": now,
            "status_code": event.status,
            "actor_organisation": actor.organisation,
            "actor_role": actor.role,
            "processing_activity_id": register.activity(event.processing_activity_id),
            "data_subject_id": event.data_subject_id,
            "data_subject_id_type": event.data_subject_id_type if event.data_subject_id
            else NONE,
            "foreign_operation": actor.foreign_operation,
            "foreign_span_id": actor.foreign_span_id,
            "foreign_processor": actor.processor,
            "purpose": event.purpose,
            "policy_id": policy.id if policy else "",
            "policy_version": policy.version if policy else None,
            "policy_digest": policy.digest if policy else "",
            "attributes": {str(k): str(v) for k, v in event.attributes.items()},
            "entry_format": logboek.FORMAT,
        }
        row["leaf"] = canonical_bytes(logboek.record(row))
        rows.append(row)
    _queue_for_sink(actor, rows)
    if len(rows) == 1:
        result = conn.execute(_INSERT_ONE, rows[0])
        return [int(result.scalar_one())]
    # One statement of fixed text (services/matcher/bulk.py); ids matched back by span id
    # (RETURNING in parameter order would make SQLAlchemy send one INSERT per row on SQLite).
    ids = {str(span): int(i) for i, span in _INSERT_MANY.execute(conn, rows).all()}
    return [ids[r["span_id"]] for r in rows]



# --- delivery to an external Logboek, just before the transaction commits ---------------------
#
# The records wait in a context variable, not on the connection: a connection the database
# dropped mid-transaction cannot be asked for anything, and its error must reach the caller
# unchanged (it is what makes the call UNAVAILABLE and retried).

Pending = list[tuple[LogboekSink, list[dict[str, Any]]]]
_PENDING: ContextVar[Pending | None] = ContextVar("samenloop_logboek_pending", default=None)


def _queue_for_sink(actor: Actor, rows: Sequence[dict[str, Any]]) -> None:
    sink = actor.logboek.sink
    if sink is None:
        return
    pending = _PENDING.get()
    if pending is None:
        raise RuntimeError("audit entries for an external Logboek must be written inside "
                           "store.run_transaction, which delivers them before it commits")
    pending.append((sink, [logboek.record(r) for r in rows]))


def open_delivery() -> Token[Pending | None]:
    """Start collecting this transaction's records for the external Logboek."""
    return _PENDING.set([])


def deliver_pending() -> None:
    """Deliver the collected records; raises `LogboekUnavailable` without an acknowledgement
    (the caller then rolls the transaction back)."""
    by_sink: dict[int, tuple[LogboekSink, list[dict[str, Any]]]] = {}
    for sink, records in _PENDING.get() or []:
        by_sink.setdefault(id(sink), (sink, []))[1].extend(records)
    for sink, records in by_sink.values():
        sink.deliver(records)


def close_delivery(token: Token[Pending | None]) -> None:
    """Forget what was collected (after commit or rollback)."""
    _PENDING.reset(token)


_COLUMNS = tuple(c.name for c in audit_events.c if c.name != "id")
_INSERT_ONE = sa.insert(audit_events).returning(audit_events.c.id)
_INSERT_MANY = bulk.Insert(audit_events, _COLUMNS, lambda s: s.returning(
    audit_events.c.id, audit_events.c.span_id))
