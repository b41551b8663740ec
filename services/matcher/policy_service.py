"""Policies: publish, revoke, read, list, simulate and fairness reports (PolicyService).

Who may do what is in `authorization.py`; whether a policy is in force is `policies.*`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from domain.text_files import TextInputError, decode_utf8
from policies.canonical import policy_digest
from policies.errors import PolicyError, PolicyInvalid
from policies.fairness import FairnessReport, fairness_report
from policies.lint import lint_document
from policies.model import Policy, parse_policy
from policies.revocation import Revocation, verify_revocation
from policies.simulate import SimulationReport, summarise_counts
from policies.source import parse_yaml
from services.common.db import read_snapshot
from services.matcher import alerts, audit, simulation, store
from services.matcher import audit_catalogue as catalogue
from services.matcher.authorization import controller_refusal
from services.matcher.clock import to_utc_aware
from services.matcher.core import MatcherCore, parse_page_token, resource_id
from services.matcher.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.matcher.policy_registry import (
    ACTIVE,
    REVOKED,
    SUPERSEDED,
)
from services.matcher.schema import (
    CLOSED,
    LIVE,
    households,
    policies,
    signals,
)
from services.matcher.schema import (
    alerts as alerts_t,
)
from services.matcher.views import (
    NOT_IN_FORCE,
    Caller,
    PolicyView,
)


class PolicyUseCases(MatcherCore):
    """PolicyService."""


    def _log_policy_event(
        self, conn: sa.Connection, actor: audit.Actor, name: str, policy: Policy | None,
        attrs: dict[str, str], now: datetime, digest: str = "",
    ) -> None:
        """One entry about a policy (no data subject), or about policies in general."""
        under: dict[str, Any] = {"processing_activity_id": catalogue.POLICY_ADMINISTRATION}
        if policy is not None:
            under = audit.under_policy(policy, digest or policy_digest(policy))
        audit.write(conn, actor, [audit.AuditEvent(
            name, data_subject_id="", data_subject_id_type=audit.NONE, attributes=attrs,
            **under)], now)

    def _require_controller(self, caller: Caller, action: str) -> None:
        refusal = controller_refusal(caller.organisation, caller.role,
                                     self.settings.controller, action)
        if refusal is not None:
            raise PermissionDenied(refusal, refusal=catalogue.NOT_CONTROLLER_OFFICER)

    def publish_policy(self, caller: Caller, document: bytes) -> PolicyView:
        self._require_controller(caller, "publish policies")
        doc = _parse_policy_document(document)
        today = self.clock.today()
        report = lint_document(doc, today=today, catalogue=self.catalogue)
        if not report.ok or report.policy is None:
            raise InvalidArgument("the policy does not lint: " + "; ".join(
                f.render() for f in report.errors[:10]))
        policy = report.policy
        if self.settings.municipality and policy.scope.municipality != self.settings.municipality:
            raise FailedPrecondition(
                f"the policy serves {policy.scope.municipality}; this matcher serves "
                f"{self.settings.municipality}")
        digest = policy_digest(policy)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            same = conn.execute(sa.select(policies).where(
                policies.c.policy_id == policy.id, policies.c.version == policy.version)).first()
            if same is not None:
                if same.digest == digest and same.state != REVOKED:
                    return self._policy_view(same, now.date())
                raise AlreadyExists(
                    f"{policy.ref} is already published with another digest or was revoked; "
                    "publish a new version")
            revoked = frozenset(str(d) for (d,) in conn.execute(
                sa.select(policies.c.digest).where(policies.c.state == REVOKED)))
            verdict = self.registry.verdict(policy, now.date(), revoked,
                                            now=to_utc_aware(now))
            if not verdict.in_force:
                raise FailedPrecondition(f"{policy.ref} is not in force: "
                                         + "; ".join(verdict.reasons))
            newest = conn.execute(sa.select(sa.func.max(policies.c.version)).where(
                policies.c.policy_id == policy.id)).scalar_one()
            if newest is not None and int(newest) > policy.version:
                raise FailedPrecondition(
                    f"version {policy.version} is older than the published version {newest}")
            conn.execute(policies.update().where(policies.c.policy_id == policy.id,
                                                 policies.c.state == ACTIVE)
                         .values(state=SUPERSEDED))
            conn.execute(sa.insert(policies), {
                "policy_id": policy.id, "version": policy.version, "digest": digest,
                "mode": policy.mode.value, "team_id": policy.recipient.team_id,
                "document_json": json.dumps(policy.document(), ensure_ascii=False,
                                            sort_keys=True),
                "state": ACTIVE, "valid_from": policy.valid_from,
                "valid_until": policy.valid_until, "published_at": now,
                "published_by": caller.organisation})
            self._log_policy_event(conn, actor, "policy_published", policy,
                                   {"mode": policy.mode.value}, now, digest)
            row = conn.execute(sa.select(policies).where(policies.c.digest == digest,
                                                         policies.c.state == ACTIVE)).one()
            return self._policy_view(row, now.date())

        view = store.run_transaction(self.engine, work)
        self.log.info("policy_published", policy=f"{view.policy_id}@{view.version}",
                      digest=view.digest)
        return view

    def _policy_view(self, row: Any, today: date) -> PolicyView:
        """The stored policy with the state evaluation gives it today: an active row whose
        approvals no longer hold under the trust file is `not_in_force`, with the reasons."""
        state, reason = row.state, ""
        if state in (ACTIVE, SUPERSEDED) and not (row.valid_from <= today <= row.valid_until):
            state = "out_of_validity"
        elif state == ACTIVE:
            policy = self.registry.parsed(row.digest, row.document_json)
            if not self.registry.is_in_force(policy, row.digest, today):
                state = NOT_IN_FORCE
                reason = "; ".join(self.registry.verdict(policy, today).reasons)
        revocation = json.loads(row.revocation_json) if row.revocation_json else None
        return PolicyView(row.policy_id, int(row.version), row.digest, row.document_json, state,
                          row.revoke_reason, row.published_at, row.revoked_at, revocation,
                          reason)

    def revoke_policy(
        self, caller: Caller, name: str, statement: Revocation | None
    ) -> PolicyView:
        """Revoke the published document a controller officer's signed statement names."""
        self._require_controller(caller, "revoke policies")
        policy_id = resource_id(name, "policies")
        if statement is None:
            raise InvalidArgument(
                "a signed revocation statement is required; make one with "
                "`samenloop policy revoke ID --reason CODE --key KEY --officer ID`")
        if statement.policy_id != policy_id:
            raise InvalidArgument(
                f"the statement revokes policies/{statement.policy_id[:64]}, not {name}")
        check = verify_revocation(statement, self.registry.trust,
                                  controller=self.settings.controller, now=self.clock.now())
        if not check.valid:
            raise PermissionDenied(f"revocation of {statement.ref} refused: {check.reason}",
                                   refusal=catalogue.REVOCATION_NOT_VALID)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            row = conn.execute(sa.select(policies).where(
                policies.c.policy_id == policy_id,
                policies.c.version == statement.version)).first()
            if row is None:
                raise NotFound(f"{statement.ref} is not published here")
            if row.digest != statement.digest:
                raise FailedPrecondition(
                    f"the statement names digest {statement.digest[:16]}…, but the published "
                    f"{statement.ref} has digest {row.digest[:16]}…; sign a statement for the "
                    "published document (samenloop policy list --all shows it)")
            if row.state == REVOKED:
                return self._policy_view(row, now.date())  # the same revocation again
            conn.execute(policies.update().where(policies.c.id == row.id).values(
                state=REVOKED, revoked_at=now, revoke_reason=statement.reason,
                revocation_json=json.dumps(statement.to_document(), sort_keys=True)))
            open_ids = [int(i) for (i,) in conn.execute(sa.select(alerts_t.c.id).where(
                alerts_t.c.policy_id == policy_id, alerts_t.c.policy_digest == row.digest,
                alerts_t.c.state != CLOSED))]
            for part in store.chunks(open_ids):
                alerts.cancel_pending_requests(conn, alert_ids=part)
            policy = self.registry.parsed(row.digest, row.document_json)
            self._log_policy_event(conn, actor, "policy_revoked", policy,
                                   {"reason": statement.reason,
                                    "officer": statement.officer_id,
                                    "key_id": statement.key_id,
                                    "revoked_at": statement.revoked_at}, now, row.digest)
            revoked = conn.execute(sa.select(policies).where(policies.c.id == row.id)).one()
            return self._policy_view(revoked, now.date())

        view = store.run_transaction(self.engine, work)
        self.log.info("policy_revoked", policy=f"{view.policy_id}@{view.version}")
        return view

    def get_policy(self, caller: Caller, name: str) -> PolicyView:
        policy_id = resource_id(name, "policies")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            row = self._latest_version(conn, policy_id)
            if row is None:
                raise NotFound(f"policies/{policy_id} not found")
            self._log_policy_event(conn, actor, "policy_read",
                                   self.registry.parsed(row.digest, row.document_json), {},
                                   now, row.digest)
            return self._policy_view(row, now.date())

        return store.run_transaction(self.engine, work)

    def list_policies(
        self, caller: Caller, page_size: int, page_token: str, include_inactive: bool
    ) -> tuple[list[PolicyView], str]:
        size = max(1, min(page_size or 50, 500))
        after = parse_page_token(page_token)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[list[PolicyView], str]:
            now = self.clock.now()
            query = sa.select(policies).order_by(policies.c.id)
            if not include_inactive:
                query = query.where(policies.c.state == ACTIVE)
            if after is not None:
                query = query.where(policies.c.id > after)
            rows = conn.execute(query.limit(size + 1)).all()
            views = [self._policy_view(r, now.date()) for r in rows[:size]]
            if not include_inactive:
                views = [v for v in views if v.state == ACTIVE]
            self._log_policy_event(conn, actor, "policies_listed", None,
                                   {"count": str(len(views))}, now)
            return views, (str(rows[size - 1].id) if len(rows) > size else "")

        return store.run_transaction(self.engine, work)

    def simulate_policy(
        self, caller: Caller, document: bytes, evaluate_on: str
    ) -> SimulationReport:
        self._require_controller(caller, "simulate policies")
        doc = _parse_policy_document(document)
        try:
            policy = parse_policy(doc)
        except PolicyInvalid as exc:
            raise InvalidArgument("the policy is not valid: " + "; ".join(
                f.render() for f in exc.findings[:10])) from None
        except (PolicyError, TypeError) as exc:
            raise InvalidArgument(f"the document is not a policy: {exc}") from None
        try:
            on = date.fromisoformat(evaluate_on) if evaluate_on else self.clock.today()
        except ValueError:
            raise InvalidArgument("evaluate_on must be an ISO date") from None
        actor = self._actor(caller)
        # Read-only evaluation on one snapshot that does not hold up ingest; the only write is
        # the audit entry. One statement: households evaluated per area, then the deciding
        # signals of the households that could meet the trigger, which the exact trigger
        # decides on (services/matcher/simulation.py, ADR 0026).
        with read_snapshot(self.engine) as conn:
            result = simulation.simulate(conn, policy, self.catalogue, on)
            report = summarise_counts(policy, result.evaluated_by_area, (
                (c.area_code, c.outcome) for c in result.candidates), on)

        def log(conn: sa.Connection) -> None:
            self._log_policy_event(conn, actor, "policy_simulated", policy,
                                   {"evaluate_on": on.isoformat(),
                                    "households_flagged": str(report.households_flagged.display)},
                                   self.clock.now(), policy_digest(policy))

        store.run_transaction(self.engine, log)
        return report

    def fairness(self, caller: Caller, name: str) -> FairnessReport:
        self._require_controller(caller, "read fairness reports")
        policy_id = resource_id(name, "policies")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> FairnessReport:
            now = self.clock.now()
            row = self._latest_version(conn, policy_id)
            if row is None:
                raise NotFound(f"policies/{policy_id} not found")
            policy = self.registry.parsed(row.digest, row.document_json)
            signal_counts: dict[str, int] = {}
            for own, home, n in conn.execute(
                sa.select(signals.c.area_code, households.c.area_code, sa.func.count())
                .select_from(signals.outerjoin(households,
                                               households.c.id == signals.c.household_id))
                .where(signals.c.state == LIVE, signals.c.purpose.in_(sorted(policy.purposes)))
                .group_by(signals.c.area_code, households.c.area_code)
            ):
                area = str(own or home or "")
                signal_counts[area] = signal_counts.get(area, 0) + int(n)
            alert_counts: dict[str, int] = {}
            for area_code, n in conn.execute(
                sa.select(alerts_t.c.area_code, sa.func.count())
                .where(alerts_t.c.policy_id == policy_id)
                .group_by(alerts_t.c.area_code)
            ):
                area = str(area_code or "")
                alert_counts[area] = alert_counts.get(area, 0) + int(n)
            self._log_policy_event(conn, actor, "fairness_report", policy, {}, now,
                                   row.digest)
            return fairness_report(policy_id, signal_counts, alert_counts)

        return store.run_transaction(self.engine, work)


def _parse_policy_document(document: bytes) -> dict[str, Any]:
    """Parse a policy sent over the wire with the same YAML reader the officers signed with
    (`policies.source`: dates kept as written; duplicate keys, merge keys and tags refused),
    so the matcher verifies exactly the document that was signed."""
    try:
        return parse_yaml(decode_utf8(document)).document
    except TextInputError as exc:
        raise InvalidArgument(f"the document is {exc}") from None
    except PolicyError as exc:
        raise InvalidArgument(f"the document is not policy YAML or JSON: {exc}") from None
