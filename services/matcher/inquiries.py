"""The rules that keep an on-request inquiry from being an oracle (issue 10, ADR 0012).

- **Involvement** (the Verwijsindex principle): a partner may learn something about a household
  only if it registered a concern there itself, i.e. holds a live signal of its own on it, under
  one of the policy's purposes, directly or through a person linked to the household on the
  signal's date. `is_involved` decides this over the same rows the trigger is evaluated on.
- **One bit**: the answer is `indicated` when the involved partner's household meets the
  policy's trigger (whether the alert was just created, was already open or is in cooldown), and
  `not_indicated` otherwise — also for an uninvolved partner, with the same fields and after the
  same lookups, so the refusal tells nothing about the household or other partners' signals.
- **Rate limit** per partner (`inquiries: {per_minute, per_day}`), counted from the `inquiries`
  table while the partner's `inquiry_partners` row is locked, so it holds across replicas.
- **request_id binding**: a request id stands for one (policy, household, role, reason); the
  same id with other content is refused and never answered with the earlier result.

Everything here runs inside the inquiry's transaction; `inquiry_service.py`
(`Matcher.create_inquiry`) orchestrates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from policies.model import PolicyMode
from policies.trigger import TriggerOutcome
from services.matcher import alerts, audit
from services.matcher.matching import MatchEnv, evaluate_policy
from services.matcher.policy_registry import ActivePolicy
from services.matcher.schema import households, inquiries, inquiry_partners
from services.matcher.settings import InquiryLimits
from services.matcher.store import SignalRow, live_signals_by_household, lock_households

# Answers (the `inquiries.answer` column and the proto InquiryAnswer).
INDICATED = "indicated"
NOT_INDICATED = "not_indicated"

# Refusal codes in audit entries (`inquiry_refused`).
NOT_INVOLVED = "not_involved"
RATE_LIMITED = "rate_limited"
REQUEST_ID_REUSED = "request_id_reused"
POLICY_NOT_IN_FORCE = "policy_not_in_force"
NOT_ON_REQUEST = "policy_not_on_request"
# and audit_catalogue.PURPOSE_NOT_COVERED

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""A gateway's idempotency key (e.g. a UUID): a token, so no text can be smuggled into it."""

NO_HOUSEHOLD = 0
"""An id no household row has (ids start at 1): an unknown household is looked up like a known
one, so the work done does not depend on whether the matcher knows it."""


@dataclass(frozen=True)
class InquiryContent:
    """What a request_id is bound to."""

    policy_id: str
    household: bytes
    requester_role: str
    reason: str

    def same_as(self, row: Any) -> bool:
        return (row.policy_id == self.policy_id
                and bytes(row.household_pseudonym) == self.household
                and row.requester_role == self.requester_role
                and row.reason == self.reason)


@dataclass(frozen=True)
class Evaluation:
    answer: str
    involved: bool
    attempt: alerts.Attempt | None


def lock_partner(conn: sa.Connection, partner: str) -> None:
    """Serialise this partner's inquiries (all replicas): upsert and lock its row."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(inquiry_partners).on_conflict_do_nothing(
            index_elements=["partner"])
    else:
        stmt = sqlite.insert(inquiry_partners).on_conflict_do_nothing(index_elements=["partner"])
    conn.execute(stmt, {"partner": partner})
    query = sa.select(inquiry_partners.c.partner).where(inquiry_partners.c.partner == partner)
    if conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises writers
        query = query.with_for_update()
    conn.execute(query).one()


def earlier(conn: sa.Connection, partner: str, request_id: str) -> Any:
    """The partner's earlier inquiry under this request id, or None."""
    return conn.execute(sa.select(inquiries).where(
        inquiries.c.partner == partner, inquiries.c.request_id == request_id)).first()


def limit_exceeded(
    conn: sa.Connection, partner: str, limits: InquiryLimits, now: datetime
) -> str | None:
    """`per_minute` / `per_day` when one more inquiry would exceed that limit, else None.

    Counts the partner's stored inquiries in the last 60 seconds and the last 24 hours (rolling
    windows); call under `lock_partner` so concurrent replicas cannot both take the last slot.
    """
    minute_ago, day_ago = now - timedelta(seconds=60), now - timedelta(days=1)
    in_day, in_minute = conn.execute(
        sa.select(sa.func.count(),
                  sa.func.coalesce(sa.func.sum(
                      sa.case((inquiries.c.created_at > minute_ago, 1), else_=0)), 0))
        .where(inquiries.c.partner == partner, inquiries.c.created_at > day_ago)
    ).one()
    if int(in_minute) >= limits.per_minute:
        return "per_minute"
    if int(in_day) >= limits.per_day:
        return "per_day"
    return None


def is_involved(rows: Sequence[SignalRow], partner: str, purposes: frozenset[str]) -> bool:
    """True when one of `rows` (a household's live signals, person signals included through
    their link on the signal's date) is the partner's own, under one of the policy's purposes."""
    return any(r.partner == partner and r.purpose in purposes for r in rows)


def evaluate(
    conn: sa.Connection,
    env: MatchEnv,
    active: ActivePolicy,
    household_key: bytes,
    partner: str,
    *,
    now: datetime,
    actor: audit.Actor,
) -> Evaluation:
    """Involvement, trigger and (for an involved partner whose household meets it) the alert.

    The same lookups run whether the household is unknown, uninvolved or involved; only the
    alert itself is created for an involved partner.
    """
    today = now.date()
    locked = lock_households(conn, [household_key], now, create=False)
    hid = locked.get(household_key, NO_HOUSEHOLD)
    rows = live_signals_by_household(conn, [hid], today)[hid]
    area = conn.execute(sa.select(households.c.area_code).where(households.c.id == hid)).first()
    home = alerts.Household(hid, household_key, area[0] if area is not None else None)
    involved = is_involved(rows, partner, active.policy.purposes)
    outcome: TriggerOutcome | None = evaluate_policy(active, home, rows, env.catalogue, today)
    met = outcome is not None and outcome.met
    if not (involved and met and hid != NO_HOUSEHOLD):
        return Evaluation(NOT_INDICATED, involved, None)
    assert outcome is not None
    attempt = alerts.open_alert(
        conn, active=active, household=home, outcome=outcome,
        rows_by_key={str(r.id): r for r in rows}, mode=PolicyMode.ON_REQUEST.value, now=now,
        actor=actor, signing_key=env.signing_key, reveal_ttl=env.reveal_ttl,
        alert_signal_retention_days=env.alert_signal_retention_days)
    return Evaluation(INDICATED, True, attempt)
