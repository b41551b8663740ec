"""Case flow: the wijkteam's alerts (list, get, stream, assign, review, close).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from domain.codes import check_regisseur, load_codes
from domain.errors import InvalidValue
from services.matcher import alerts, audit, store
from services.matcher.core import MatcherCore, check_code, parse_page_token, resource_id
from services.matcher.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.matcher.logboek import PolicyRef
from services.matcher.notify import POLL_INTERVAL
from services.matcher.schema import (
    ASSIGNED,
    CLOSED,
    OPEN,
    PENDING,
    REVIEWED,
    alert_signals,
    disclosures,
    households,
    policies,
    reveal_requests,
)
from services.matcher.schema import (
    alerts as alerts_t,
)
from services.matcher.views import (
    AlertView,
    Caller,
    ContributingView,
    PendingView,
    disclosure_view,
)


class CaseFlowUseCases(MatcherCore):
    """WijkteamService."""


    def _alert_views(
        self, conn: sa.Connection, rows: Sequence[Any], *, detail: bool
    ) -> list[AlertView]:
        views = []
        under: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r.policy_digest not in under:
                under[r.policy_digest] = self._under_policy(conn, r.policy_id, r.policy_digest)
            views.append(AlertView(
                id=int(r.id), name_id=r.name_id, policy_id=r.policy_id,
                policy_version=int(r.policy_version), policy_digest=r.policy_digest,
                team=r.team, state=r.state, domains=tuple(r.domains), mode=r.mode,
                regisseur=r.regisseur, decision=r.decision, outcome=r.outcome,
                decision_reason=r.decision_reason, traceparent=r.traceparent,
                created_at=r.created_at, updated_at=r.updated_at,
                household_id=int(r.household_id), household_pseudonym=bytes(r.pseudonym),
                processing_activity_id=under[r.policy_digest]["processing_activity_id"],
                purpose=under[r.policy_digest].get("purpose", ""),
                policy_document_json=r.policy_document_json or ""))
        if not views:
            return views
        by_id = {v.id: v for v in views}
        for s in conn.execute(
            sa.select(alert_signals).where(alert_signals.c.alert_id.in_(list(by_id)))
            .order_by(alert_signals.c.observed_on, alert_signals.c.id)
        ):
            by_id[int(s.alert_id)].signals.append(
                ContributingView(s.signal_type, s.partner_kind, s.observed_on))
        if detail:
            self._add_disclosures(conn, by_id)
            self._add_pending(conn, by_id)
        return views

    def _add_disclosures(self, conn: sa.Connection, by_id: dict[int, AlertView]) -> None:
        for d in conn.execute(
            sa.select(disclosures, reveal_requests.c.name_id.label("rr_name_id"),
                      reveal_requests.c.signal_id.label("rr_signal_id"))
            .join(reveal_requests, reveal_requests.c.id == disclosures.c.reveal_request_id)
            .where(disclosures.c.alert_id.in_(list(by_id)))
            .order_by(disclosures.c.id)
        ):
            v = by_id[int(d.alert_id)]
            v.disclosures.append(disclosure_view(d, v.name_id, d.rr_name_id, d.rr_signal_id))

    def _add_pending(self, conn: sa.Connection, by_id: dict[int, AlertView]) -> None:
        """Requests still waiting: a cancelled or expired one will never be answered."""
        for r in conn.execute(
            sa.select(reveal_requests.c.alert_id, reveal_requests.c.name_id,
                      reveal_requests.c.partner, reveal_requests.c.partner_kind,
                      reveal_requests.c.expire_at)
            .where(reveal_requests.c.alert_id.in_(list(by_id)),
                   reveal_requests.c.state == PENDING,
                   reveal_requests.c.expire_at > self.clock.now())
            .order_by(reveal_requests.c.id)
        ):
            by_id[int(r.alert_id)].pending.append(
                PendingView(r.name_id, r.partner, r.partner_kind, r.expire_at))

    def _alert_query(self) -> sa.Select[Any]:
        return (sa.select(alerts_t, households.c.pseudonym,
                          policies.c.document_json.label("policy_document_json"))
                .join(households, households.c.id == alerts_t.c.household_id)
                .outerjoin(policies, policies.c.digest == alerts_t.c.policy_digest))

    def _log_alert_reads(
        self, conn: sa.Connection, actor: audit.Actor, name: str, views: Sequence[AlertView],
        now: datetime, extra: dict[str, str] | None = None,
    ) -> None:
        audit.write(conn, actor, [
            audit.AuditEvent(name, v.processing_activity_id, v.household_pseudonym.hex(),
                             audit.HOUSEHOLD, {"alert": f"alerts/{v.name_id}", "team": v.team,
                                               **(extra or {})},
                             purpose=v.purpose,
                             policy=PolicyRef(v.policy_id, v.policy_version, v.policy_digest))
            for v in views], now)

    def list_alerts(
        self, caller: Caller, page_size: int, page_token: str, state: str | None,
        user: str = "",
    ) -> tuple[list[AlertView], str]:
        who = _team_user(user)
        size = max(1, min(page_size or 50, 500))
        before = parse_page_token(page_token)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[list[AlertView], str]:
            query = self._alert_query().where(alerts_t.c.team == caller.organisation)
            if before is not None:
                query = query.where(alerts_t.c.id < before)
            if state:
                query = query.where(alerts_t.c.state == state)
            rows = conn.execute(query.order_by(alerts_t.c.id.desc()).limit(size + 1)).all()
            more = len(rows) > size
            views = self._alert_views(conn, rows[:size], detail=False)
            self._log_alert_reads(conn, actor, "alert_listed", views, self.clock.now(), who)
            return views, (str(views[-1].id) if more and views else "")

        return store.run_transaction(self.engine, work)

    def get_alert(
        self, caller: Caller, name: str, user: str = "", view_reason: str = ""
    ) -> AlertView:
        """One alert with its sealed boxes; with `view_reason`, audited as an identity view."""
        alert_id = resource_id(name, "alerts")
        actor = self._actor(caller)
        extra = _team_user(user)
        event = "alert_viewed"
        if view_reason:
            check_code(load_codes().view_reason, view_reason, "view_reason")
            event = "identity_viewed"
            extra["view_reason"] = view_reason

        def work(conn: sa.Connection) -> AlertView:
            view = self._team_alert(conn, caller, alert_id)
            self._log_alert_reads(conn, actor, event, [view], self.clock.now(), extra)
            return view

        return store.run_transaction(self.engine, work)

    def _team_alert(self, conn: sa.Connection, caller: Caller, alert_id: str) -> AlertView:
        row = conn.execute(self._alert_query().where(alerts_t.c.name_id == alert_id)).first()
        # Another team's alert is indistinguishable from one that does not exist.
        if row is None or row.team != caller.organisation:
            raise NotFound(f"alerts/{alert_id} not found")
        return self._alert_views(conn, [row], detail=True)[0]

    def stream_alerts(
        self, caller: Caller, after: str, is_active: Callable[[], bool], user: str = ""
    ) -> Iterator[AlertView]:
        """New alerts for the caller's team as they appear (polls, woken by this process).

        The starting point (`after`, or the newest alert now) is fixed when this is called,
        not when the first alert is read: the servicer calls it on entry and only then tells
        the client the stream is open, so an alert committed after that is never skipped.
        """
        actor = self._actor(caller)
        who = _team_user(user)

        def start(conn: sa.Connection) -> int:
            if after:
                row = conn.execute(sa.select(alerts_t.c.id, alerts_t.c.team).where(
                    alerts_t.c.name_id == resource_id(after, "alerts"))).first()
                if row is None or row.team != caller.organisation:
                    raise NotFound(f"{after} not found")
                return int(row.id)
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(alerts_t.c.id), 0))
                                    ).scalar_one())

        return self._alerts_after(caller, actor, store.run_transaction(self.engine, start),
                                  is_active, who)

    def _alerts_after(
        self, caller: Caller, actor: audit.Actor, floor: int, is_active: Callable[[], bool],
        who: dict[str, str] | None = None,
    ) -> Iterator[AlertView]:
        """The caller's team's alerts with ids above `floor`, as they commit."""
        last = floor  # never send anything at or before the starting point
        sent: dict[int, datetime] = {}
        while is_active():
            seen = self.notifier.generation

            def poll(conn: sa.Connection, last: int = last) -> list[AlertView]:
                now = self.clock.now()
                # Ids come from a sequence; a transaction may commit a lower id after a higher
                # one is visible, so look back over the last minute too and skip what was sent.
                recent = now - timedelta(seconds=60)
                rows = conn.execute(self._alert_query().where(
                    alerts_t.c.team == caller.organisation,
                    sa.or_(alerts_t.c.id > last, alerts_t.c.created_at >= recent))
                    .order_by(alerts_t.c.id)).all()
                rows = [r for r in rows if int(r.id) not in sent and int(r.id) > floor]
                views = self._alert_views(conn, rows, detail=False)
                self._log_alert_reads(conn, actor, "alert_streamed", views, now, who)
                return views

            for view in store.run_transaction(self.engine, poll):
                sent[view.id] = view.created_at
                last = max(last, view.id)
                yield view
            horizon = self.clock.now() - timedelta(seconds=120)
            for k in [k for k, t in sent.items() if t < horizon]:
                del sent[k]
            self.notifier.wait(seen, POLL_INTERVAL)

    def _transition(
        self, caller: Caller, name: str, event: str,
        change: Callable[[AlertView], dict[str, Any]], extra: Callable[[AlertView], dict[str, str]],
        user: str = "",
    ) -> AlertView:
        alert_id = resource_id(name, "alerts")
        actor = self._actor(caller)
        who = _team_user(user)

        def work(conn: sa.Connection) -> AlertView:
            now = self.clock.now()
            conn.execute(sa.select(alerts_t.c.id).where(alerts_t.c.name_id == alert_id)
                         .with_for_update()).first()
            view = self._team_alert(conn, caller, alert_id)
            values = change(view)
            values["updated_at"] = now
            if values.get("state") == CLOSED:
                values["closed_at"] = now
                values["closed_on"] = now.date()
                values["retain_until"] = now.date() + timedelta(
                    days=self._retention_days(conn, view))
                alerts.cancel_pending_requests(conn, alert_ids=[view.id])
            conn.execute(alerts_t.update().where(alerts_t.c.id == view.id).values(**values))
            self._log_alert_reads(conn, actor, event, [view], now, {**extra(view), **who})
            return self._team_alert(conn, caller, alert_id)

        return store.run_transaction(self.engine, work)

    def _retention_days(self, conn: sa.Connection, view: AlertView) -> int:
        row = conn.execute(sa.select(policies.c.digest, policies.c.document_json).where(
            policies.c.digest == view.policy_digest)).first()
        if row is None:
            return 365
        return self.registry.parsed(row.digest, row.document_json).retention.alert_days

    def assign_alert(self, caller: Caller, name: str, regisseur: str, user: str = "") -> AlertView:
        try:
            check_regisseur(regisseur)
        except InvalidValue as exc:
            raise InvalidArgument(str(exc)) from None

        def change(v: AlertView) -> dict[str, Any]:
            if v.state not in (OPEN, ASSIGNED):
                raise FailedPrecondition(f"alerts/{v.name_id} is {v.state}; it cannot be assigned")
            return {"state": ASSIGNED, "regisseur": regisseur}

        return self._transition(caller, name, "alert_assigned", change,
                                lambda v: {"regisseur": regisseur}, user)

    def review_alert(
        self, caller: Caller, name: str, decision: str, reason: str, user: str = ""
    ) -> AlertView:
        if not decision:
            raise InvalidArgument("decision is required")
        check_code(load_codes().review_decision_reason, reason, "reason")

        def change(v: AlertView) -> dict[str, Any]:
            if v.state not in (ASSIGNED, REVIEWED):
                raise FailedPrecondition(
                    f"alerts/{v.name_id} is {v.state}; a regisseur must be assigned before the "
                    "review (human in the loop)")
            return {"state": REVIEWED, "decision": decision, "decision_reason": reason}

        return self._transition(caller, name, "alert_reviewed", change,
                                lambda v: {"decision": decision, "reason": reason}, user)

    def close_alert(self, caller: Caller, name: str, outcome: str, user: str = "") -> AlertView:
        if not outcome:
            raise InvalidArgument("outcome is required")
        check_code(load_codes().closure_outcome, outcome, "outcome")

        def change(v: AlertView) -> dict[str, Any]:
            if v.state != REVIEWED:
                raise FailedPrecondition(
                    f"alerts/{v.name_id} is {v.state}; the assigned regisseur must record a "
                    "review decision before it is closed")
            return {"state": CLOSED, "outcome": outcome}

        return self._transition(caller, name, "alert_closed", change,
                                lambda v: {"outcome": outcome}, user)

    def report_unverified_disclosure(self, caller: Caller, name: str, user: str = "") -> None:
        """The team's inbox refused a disclosure that did not verify: audit it, change nothing.

        A box that fails the inbox's check was moved, altered or forged on its way (at the
        matcher or in transit), so the entry is the trace a privacy officer follows up.
        """
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != "alerts" or parts[2] != "disclosures":
            raise InvalidArgument("name must be alerts/{alert}/disclosures/{disclosure}")
        alert_id = resource_id("/".join(parts[:2]), "alerts")
        actor = self._actor(caller)
        who = _team_user(user)

        def work(conn: sa.Connection) -> None:
            view = self._team_alert(conn, caller, alert_id)
            if not any(d.name_id == parts[3] for d in view.disclosures):
                raise NotFound(f"{name} not found")
            self._log_alert_reads(conn, actor, "disclosure_unverified", [view],
                                  self.clock.now(), {"disclosure": name, **who})

        store.run_transaction(self.engine, work)
        self.log.warning("disclosure_unverified", team=caller.organisation, disclosure=name)


def _team_user(user: str) -> dict[str, str]:
    """The audit attribute naming the team member who acted (a team-local id, never a name)."""
    if not user:
        return {}
    try:
        check_regisseur(user, "user")
    except InvalidValue as exc:
        raise InvalidArgument(str(exc)) from None
    return {"user": user}
