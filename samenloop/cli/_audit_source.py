"""Where `samenloop audit show` and `audit export` read entries: the matcher's API, or its
database directly. Both walk the log in pages, oldest first, so memory stays flat however
long the log is.

Over the API the matcher applies the officer's view (a partner's officer sees only its own
organisation's entries) and logs each page as an `audit_entries_listed` entry. A database URL
reads everything, writes nothing, and is for whoever already holds the database (the operator,
or a supervisor with a copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PAGE = 1000


@dataclass(frozen=True)
class Filters:
    """What to read: an event name, a policy id, entries that ended at or after `since`."""

    name: str = ""
    policy_id: str = ""
    since: datetime | None = None
    """UTC, timezone-aware."""


@dataclass(frozen=True)
class Entry:
    """One audit entry as both sources give it (the table's fields and the leaf)."""

    index: int
    name: str
    end_time: datetime
    status: str
    actor_organisation: str
    actor_role: str
    data_subject_id: str
    data_subject_id_type: str
    policy_id: str
    policy_version: int
    purpose: str
    leaf: bytes
    entry_format: int
    content_purged: bool = False
    attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_message(cls, e: Any) -> Entry:
        return cls(int(e.index), e.name, e.end_time.ToDatetime(tzinfo=UTC), e.status_code,
                   e.actor_organisation, e.actor_role, e.data_subject_id,
                   e.data_subject_id_type, e.policy_id, int(e.policy_version), e.purpose,
                   bytes(e.leaf), int(e.entry_format) or 1, bool(e.content_purged),
                   dict(e.attributes))

    @classmethod
    def from_row(cls, r: Any) -> Entry:
        m = r._mapping
        return cls(int(m["id"]), m["name"], m["end_time"].replace(tzinfo=UTC), m["status_code"],
                   m["actor_organisation"], m["actor_role"], m["data_subject_id"],
                   m["data_subject_id_type"], m["policy_id"], int(m["policy_version"] or 0),
                   m["purpose"], bytes(m["leaf"] or b""), int(m["entry_format"] or 1),
                   not m["leaf"], {str(k): str(v) for k, v in dict(m["attributes"]).items()})


def from_api(stub: Any, filters: Filters, timeout: float) -> Iterator[Entry]:
    """The entries the caller may read, page by page (ListAuditEntries)."""
    from samenloop.v1 import audit_pb2

    request = audit_pb2.ListAuditEntriesRequest(page_size=PAGE, name=filters.name,
                                                policy_id=filters.policy_id)
    if filters.since is not None:
        request.since.FromDatetime(filters.since)
    while True:
        page = stub.ListAuditEntries(request, timeout=timeout)
        for e in page.entries:
            yield Entry.from_message(e)
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token


def from_database(url: str, filters: Filters) -> Iterator[Entry]:
    """Every entry in the database at `url`, by row id (keyset pages; read only)."""
    import sqlalchemy as sa

    from services.common.db import create_engine, ensure_migrated
    from services.matcher.config import MIGRATIONS
    from services.matcher.schema import audit_events as t

    engine = create_engine(url)
    try:
        ensure_migrated(engine, MIGRATIONS, "samenloop matcher migrate --config FILE")
        after = 0
        while True:
            query = sa.select(t).where(t.c.id > after).order_by(t.c.id).limit(PAGE)
            if filters.name:
                query = query.where(t.c.name == filters.name)
            if filters.policy_id:
                query = query.where(t.c.policy_id == filters.policy_id)
            if filters.since is not None:
                query = query.where(t.c.end_time >= filters.since.replace(tzinfo=None))
            with engine.connect() as conn:
                rows = conn.execute(query).all()
            for r in rows:
                yield Entry.from_row(r)
            if len(rows) < PAGE:
                return
            after = int(rows[-1].id)
    finally:
        engine.dispose()
