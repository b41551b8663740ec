"""Inquiries: one involved professional's question about one household, answered with one bit.

The rules (involvement, rate limit, request_id binding) are in `inquiries.py`; this module
runs them in one transaction and writes the inquiry and its audit entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.codes import load_codes
from policies.model import PolicyMode
from services.matcher import alerts, audit, store
from services.matcher import audit_catalogue as catalogue
from services.matcher import inquiries as inquiry_rules
from services.matcher.core import MatcherCore, check_code, resource_id
from services.matcher.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    MatcherError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from services.matcher.logboek import UNSET
from services.matcher.schema import (
    inquiries,
)
from services.matcher.validation import (
    PseudonymIn,
    check_pseudonym,
)
from services.matcher.views import (
    Caller,
    InquiryView,
)


class InquiryUseCases(MatcherCore):
    """CreateInquiry."""

    def create_inquiry(
        self,
        caller: Caller,
        *,
        policy_name: str,
        household: PseudonymIn | None,
        requester_role: str,
        reason: str,
        request_id: str,
    ) -> InquiryView:
        """Answer one involved professional's question with one bit (`services/matcher/
        inquiries.py` holds the rules: involvement, rate limit, request_id binding)."""
        partner = self.partner(caller)
        policy_id = resource_id(policy_name, "policies")
        if household is None:
            raise InvalidArgument("inquiry.household is required")
        bad = check_pseudonym(household, "household", self.settings.accepted_key_ids)
        if bad:
            raise InvalidArgument(bad.reason)
        codes = load_codes()
        check_code(codes.requester_role, requester_role, "inquiry.requester_role")
        check_code(codes.inquiry_reason, reason, "inquiry.reason")
        if not inquiry_rules.REQUEST_ID.fullmatch(request_id):
            raise InvalidArgument(
                "inquiry.request_id is required: 1-128 letters, digits, '.', '_', ':' or '-' "
                "(e.g. a UUID), starting with a letter or digit")
        key = self.pseudonym(household)
        content = inquiry_rules.InquiryContent(policy_id, key, requester_role, reason)
        actor = self._actor(caller)
        org = partner.organisation

        def refuse(conn: sa.Connection, now: datetime, code: str) -> None:
            audit.write(conn, actor, [audit.AuditEvent(
                "inquiry_refused", data_subject_id=key.hex(), data_subject_id_type=audit.HOUSEHOLD,
                attributes={"requester_organisation": org, "requester_role": requester_role,
                            "reason": reason, "refusal": code},
                status=UNSET, **self._under_policy(conn, policy_id))], now)

        def work(conn: sa.Connection) -> tuple[InquiryView | MatcherError, list[alerts.Attempt]]:
            now = self.clock.now()
            inquiry_rules.lock_partner(conn, org)
            prior = inquiry_rules.earlier(conn, org, request_id)
            if prior is not None:
                if content.same_as(prior):
                    return self._inquiry_view(prior, household), []
                refuse(conn, now, inquiry_rules.REQUEST_ID_REUSED)
                return AlreadyExists(
                    "inquiry.request_id was used before for another inquiry (household, policy, "
                    "role or reason); use a new request_id for a new question"), []
            active = self.registry.active_by_id(conn, policy_id, now.date())
            if active is None:
                refuse(conn, now, inquiry_rules.POLICY_NOT_IN_FORCE)
                return NotFound(f"policies/{policy_id} is not a published policy in force"), []
            if active.policy.mode is not PolicyMode.ON_REQUEST:
                refuse(conn, now, inquiry_rules.NOT_ON_REQUEST)
                return FailedPrecondition(
                    f"policies/{policy_id} is a standing policy; inquiries are for on_request "
                    "policies"), []
            if not (partner.purposes & active.policy.purposes):
                refuse(conn, now, catalogue.PURPOSE_NOT_COVERED)
                return PermissionDenied(
                    f"partner {org} has no purpose that policies/{policy_id} covers",
                    refusal=catalogue.PURPOSE_NOT_COVERED, audited=True), []
            window = inquiry_rules.limit_exceeded(conn, org, self.settings.inquiries, now)
            if window is not None:
                refuse(conn, now, inquiry_rules.RATE_LIMITED)
                limit = getattr(self.settings.inquiries, window)
                return ResourceExhausted(
                    f"partner {org} reached its inquiry limit ({limit} {window.replace('_', ' ')}"
                    "); try again later or ask the matcher operator about the limit"), []
            result = inquiry_rules.evaluate(conn, self.env, active, key, org, now=now,
                                            actor=actor)
            name_id = alerts.new_name_id()
            refusal = None if result.involved else inquiry_rules.NOT_INVOLVED
            conn.execute(sa.insert(inquiries), {
                "name_id": name_id, "partner": org, "request_id": request_id,
                "policy_id": policy_id, "household_pseudonym": key,
                "requester_role": requester_role, "reason": reason, "answer": result.answer,
                "refusal": refusal, "created_at": now,
            })
            attempt = result.attempt
            attrs = {"inquiry": f"inquiries/{name_id}",
                     "requester_organisation": org, "requester_role": requester_role,
                     "reason": reason, "result": result.answer}
            if refusal is not None:
                attrs["refusal"] = refusal
            if attempt is not None and attempt.alert_name_id:
                attrs["alert"] = f"alerts/{attempt.alert_name_id}"
            audit.write(conn, actor, [audit.AuditEvent(
                "inquiry_refused" if refusal else "inquiry_received",
                data_subject_id=key.hex(), data_subject_id_type=audit.HOUSEHOLD,
                attributes=attrs, **audit.under_policy(active.policy, active.digest))], now)
            view = InquiryView(name_id, policy_id, household, requester_role, reason, request_id,
                               result.answer, now)
            return view, [attempt] if attempt is not None else []

        outcome, attempts = store.run_transaction(self.engine, work)
        if isinstance(outcome, MatcherError):
            self.log.info("inquiry_refused", partner=org, policy=policy_id,
                          refusal=type(outcome).__name__)
            raise outcome
        self.announce_created(attempts)
        self.log.info("inquiry_answered", partner=org, policy=policy_id)
        return outcome

    @staticmethod
    def _inquiry_view(row: Any, household: PseudonymIn | None) -> InquiryView:
        return InquiryView(row.name_id, row.policy_id, household, row.requester_role, row.reason,
                           row.request_id, row.answer, row.created_at)
