"""Audit queries: the audit log and subject access (AuditService).

Which entries an officer sees is `visibility.py`.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.matcher import audit, store
from services.matcher.core import MatcherCore, parse_page_token
from services.matcher.errors import (
    InvalidArgument,
)
from services.matcher.schema import (
    audit_events,
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
        subject: str | None = None,
    ) -> tuple[list[AuditEntryView], str]:
        size = max(1, min(page_size or 100, 1000))
        after = parse_page_token(page_token)
        actor = self._actor(caller)
        scope = audit_scope(caller.organisation, caller.role, self.settings.controller)

        def work(conn: sa.Connection) -> tuple[list[AuditEntryView], str]:
            now = self.clock.now()
            query = sa.select(audit_events).order_by(audit_events.c.id)
            if scope is not None:
                query = query.where(scope)
            if after is not None:
                query = query.where(audit_events.c.id > after)
            if name:
                query = query.where(audit_events.c.name == name)
            if activity:
                query = query.where(audit_events.c.processing_activity_id == activity)
            if subject is not None:
                query = query.where(audit_events.c.data_subject_id == subject)
            rows = conn.execute(query.limit(size + 1)).all()
            views = [AuditEntryView(int(r.id), dict(r._mapping)) for r in rows[:size]]
            if subject is not None:
                event = audit.AuditEvent("subject_looked_up", "subject-access", subject,
                                         "pseudonym", {"entries": str(len(views))})
            else:
                event = audit.AuditEvent("audit_entries_listed", "audit-log", "", audit.NONE,
                                         {"entries": str(len(views)), "filter_name": name,
                                          "filter_activity": activity})
            audit.write(conn, actor, [event], now)
            return views, (str(views[-1].index) if len(rows) > size else "")

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
        return self.list_audit_entries(caller, page_size, page_token, "", "", subject=key)
