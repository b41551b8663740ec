"""Refused and failed calls in the audit log (`call_refused`, `call_failed`).

A refusal of authority (a role the method is not open to, a revoked certificate, an
organisation that is not a partner, a partner's officer asking for what only the controller's
may do) is an access attempt, and NEN 7513 asks that attempts are logged as well as accesses.
The refused action wrote nothing, so the entry gets its own transaction. A call that fails
inside the matcher (an internal error, rolled back) gets a `call_failed` entry with status
`Error`. Neither names a data subject: the request that was refused is not read.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.matcher import audit, store
from services.matcher import audit_catalogue as catalogue
from services.matcher.core import MatcherCore
from services.matcher.logboek import ERROR, UNSET
from services.matcher.views import Caller


def method_name(full: str) -> str:
    """`/samenloop.v1.PolicyService/PublishPolicy` -> `PolicyService/PublishPolicy`."""
    service, _, method = full.strip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{method}" if service else method


class RefusalUseCases(MatcherCore):
    """The entries of calls that did not reach (or did not finish) their use case."""

    def record_refused_call(self, caller: Caller, method: str, code: str) -> None:
        """Write `call_refused` for `method` (full or short name) with refusal `code`."""
        self._record(caller, "call_refused", method, UNSET, {"refusal": code})

    def record_failed_call(self, caller: Caller, method: str) -> None:
        """Write `call_failed` (status Error) for a call that failed inside the matcher."""
        self._record(caller, "call_failed", method, ERROR, {})

    def _record(self, caller: Caller, name: str, method: str, status: str,
                attributes: dict[str, str]) -> None:
        actor = self._actor(caller)
        event = audit.AuditEvent(name, catalogue.ACCESS_CONTROL, "", audit.NONE,
                                 {"method": method_name(method), **attributes}, status=status)

        def work(conn: sa.Connection) -> None:
            now: datetime = self.clock.now()
            audit.write(conn, actor, [event], now)

        store.run_transaction(self.engine, work)
        self.log.info(name, method=method_name(method), organisation=caller.organisation,
                      role=caller.role, **attributes)
