"""Audit queries: the audit log and subject access (AuditService).

Which entries an officer sees is `visibility.py`. Entries are listed in leaf order with their
leaf index (ADR 0022); a call first sequences what is committed, so nothing written before it
is missing. A purged entry (retention) is listed as its index and leaf hash only.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.matcher import audit, store
from services.matcher import audit_catalogue as catalogue
from services.matcher.core import MatcherCore, parse_page_token
from services.matcher.errors import (
    InvalidArgument,
)
from services.matcher.schema import (
    audit_events,
    audit_leaves,
)
from services.matcher.validation import (
    PseudonymIn,
    check_pseudonym,
)
from services.matcher.views import (
    AuditEntryView,
    Caller,
)
from services.matcher.visibility import audit_scope


class AuditUseCases(MatcherCore):
    """AuditService."""


    def list_audit_entries(
        self, caller: Caller, page_size: int, page_token: str, name: str, activity: str,
        subject: str | None = None, subject_type: str = "", since: datetime | None = None,
        policy_id: str = "",
    ) -> tuple[list[AuditEntryView], str]:
        """A page of the entries this caller may read, in leaf order; the listing is itself an
        entry. Filters: event `name`, processing `activity` (register URI or bare id), entries
        ending at or after `since`, `policy_id`, and (subject access) the subject."""
        size = max(1, min(page_size or 100, 1000))
        after = parse_page_token(page_token)
        _check_filters(name, activity, policy_id)
        actor = self._actor(caller)
        scope = audit_scope(caller.organisation, caller.role, self.settings.controller)

        def work(conn: sa.Connection) -> tuple[list[AuditEntryView], str]:
            now = self.clock.now()
            query = (sa.select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash, audit_events)
                     .select_from(audit_leaves.outerjoin(
                         audit_events, audit_events.c.id == audit_leaves.c.event_id))
                     .order_by(audit_leaves.c.leaf_index))
            if scope is not None:
                query = query.where(scope)
            if after is not None:
                query = query.where(audit_leaves.c.leaf_index > after)
            if name:
                query = query.where(audit_events.c.name == name)
            if activity:
                query = query.where(audit_events.c.processing_activity_id.in_(
                    sorted({activity, self.logboek.register.activity(activity)})))
            if since is not None:
                query = query.where(audit_events.c.end_time >= since)
            if policy_id:
                query = query.where(audit_events.c.policy_id == policy_id)
            if subject is not None:
                query = query.where(audit_events.c.data_subject_id == subject)
            rows = conn.execute(query.limit(size + 1)).all()
            views = [_entry_view(r) for r in rows[:size]]
            if subject is not None:
                event = audit.AuditEvent("subject_looked_up", catalogue.SUBJECT_ACCESS, subject,
                                         subject_type, {"entries": str(len(views))})
            else:
                filters = {"filter_name": name, "filter_activity": activity,
                           "filter_policy": policy_id,
                           "filter_since": since.isoformat() if since else ""}
                event = audit.AuditEvent("audit_entries_listed", catalogue.AUDIT_LOG, "",
                                         audit.NONE, {"entries": str(len(views)),
                                                      **{k: v for k, v in filters.items() if v}})
            audit.write(conn, actor, [event], now)
            return views, (str(views[-1].index) if len(rows) > size else "")

        self.sequence_audit_log()
        return store.run_transaction(self.engine, work)

    def lookup_subject(
        self, caller: Caller, subject: PseudonymIn | None, subject_type: str, page_size: int,
        page_token: str,
    ) -> tuple[list[AuditEntryView], str]:
        if subject is None:
            raise InvalidArgument("subject is required")
        if subject_type not in ("person", "household"):
            raise InvalidArgument("subject_type must be `person` or `household`")
        bad = check_pseudonym(subject, "subject", self.settings.accepted_key_ids)
        if bad:
            raise InvalidArgument(bad.reason)
        key = self.pseudonym(subject).hex()
        kind = audit.PERSON if subject_type == "person" else audit.HOUSEHOLD
        return self.list_audit_entries(caller, page_size, page_token, "", "", subject=key,
                                       subject_type=kind)


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/%@-]{0,511}")


def _check_filters(name: str, activity: str, policy_id: str) -> None:
    """Filters are codes and ids (the listing's own entry repeats them, so no free text)."""
    if name and name not in catalogue.EVENTS:
        raise InvalidArgument(f"name must be an event name: {', '.join(sorted(catalogue.EVENTS))}")
    for value, what in ((activity, "processing_activity_id"), (policy_id, "policy_id")):
        if value and not _ID.fullmatch(value):
            raise InvalidArgument(f"{what} must be an id or a URI (letters, digits and "
                                  "._:/%@-)")


def _entry_view(row: sa.Row[Any]) -> AuditEntryView:
    """A listed leaf: the stored entry, or only index and leaf hash once purged."""
    if row.id is None:
        return AuditEntryView(int(row.leaf_index), {}, bytes(row.leaf_hash), content_purged=True)
    fields = {k: v for k, v in row._mapping.items() if k not in ("leaf_index", "leaf_hash")}
    return AuditEntryView(int(row.leaf_index), fields, bytes(row.leaf_hash))
