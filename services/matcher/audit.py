"""Audit events (Logboek Dataverwerkingen), written in the same transaction as the action.

One entry per data subject: an action on a household and a person writes two entries. The data
subject id is the matcher pseudonym in hex, never an identity. Each entry gets its own span id
under the span of the RPC that caused it (W3C trace context from OpenTelemetry), and names the
caller's remote span in `foreign_operation` when the caller sent one.

`leaf` is the RFC 8785 canonical JSON of the entry (everything but its index): the exact bytes
the Merkle tree of the audit-log issue hashes. The table is append-only (database triggers).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from opentelemetry import trace

from crypto.jcs import canonical_bytes
from services.matcher.schema import audit_events

HOUSEHOLD = "household_pseudonym"
PERSON = "person_pseudonym"
NONE = "none"

SYSTEM_ORGANISATION = "matcher"
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """Who acts, and the trace the action belongs to."""

    organisation: str
    role: str
    trace_id: str
    parent_span_id: str
    foreign_operation: str = ""
    started: datetime | None = None

    @classmethod
    def from_current_span(
        cls, organisation: str, role: str, started: datetime | None = None
    ) -> Actor:
        """Take the trace from the active OpenTelemetry span (the RPC's server span)."""
        span = trace.get_current_span()
        ctx = span.get_span_context()
        if ctx.is_valid:
            trace_id = format(ctx.trace_id, "032x")
            parent = format(ctx.span_id, "016x")
        else:
            trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        foreign = ""
        remote = getattr(span, "parent", None)
        if remote is not None and getattr(remote, "is_remote", False):
            foreign = f"00-{remote.trace_id:032x}-{remote.span_id:016x}-01"
        return cls(organisation, role, trace_id, parent, foreign, started)

    @classmethod
    def system(cls, job: str) -> Actor:
        """The matcher itself (purge, expiry), in a fresh trace."""
        return cls(SYSTEM_ORGANISATION, SYSTEM_ROLE, secrets.token_hex(16), secrets.token_hex(8),
                   foreign_operation="", started=None)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_span_id}-01"


@dataclass(frozen=True)
class AuditEvent:
    name: str
    processing_activity_id: str
    data_subject_id: str
    data_subject_id_type: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    status_code: str = "OK"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def entry_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical leaf document of a stored entry (all fields but the index)."""
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"],
        "name": row["name"],
        "start_time": _iso(row["start_time"]),
        "end_time": _iso(row["end_time"]),
        "status_code": row["status_code"],
        "actor": {"organisation": row["actor_organisation"], "role": row["actor_role"]},
        "dpl.core.processing_activity_id": row["processing_activity_id"],
        "dpl.core.data_subject_id": row["data_subject_id"],
        "dpl.core.data_subject_id_type": row["data_subject_id_type"],
        "foreign_operation": row["foreign_operation"],
        "attributes": dict(row["attributes"]),
    }


def write(
    conn: sa.Connection, actor: Actor, events: Sequence[AuditEvent], now: datetime
) -> list[int]:
    """Insert `events` (in order) and return their indexes."""
    if not events:
        return []
    rows: list[dict[str, Any]] = []
    for event in events:
        row: dict[str, Any] = {
            "trace_id": actor.trace_id,
            "span_id": secrets.token_hex(8),
            "parent_span_id": actor.parent_span_id,
            "name": event.name,
            "start_time": actor.started or now,
            "end_time": now,
            "status_code": event.status_code,
            "actor_organisation": actor.organisation,
            "actor_role": actor.role,
            "processing_activity_id": event.processing_activity_id,
            "data_subject_id": event.data_subject_id,
            "data_subject_id_type": event.data_subject_id_type,
            "foreign_operation": actor.foreign_operation,
            "attributes": {str(k): str(v) for k, v in event.attributes.items()},
        }
        row["leaf"] = canonical_bytes(entry_document(row))
        rows.append(row)
    if len(rows) == 1:
        result = conn.execute(sa.insert(audit_events).returning(audit_events.c.id), rows[0])
        return [int(result.scalar_one())]
    result = conn.execute(
        sa.insert(audit_events).returning(audit_events.c.id, sort_by_parameter_order=True), rows
    )
    return [int(r[0]) for r in result]
