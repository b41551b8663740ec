"""Incremental matching: evaluate the policies for the households a change touched, and only those.

For each affected household the matcher loads that household's live signals (index on
household id) plus the person signals that land on it through household links, turns them into
`SignalFact`s and calls `policies.trigger.evaluate_trigger` — the one implementation of the
trigger rules, shared with `policy simulate` (`simulation.py`). Standing policies are evaluated
on every change; on-request policies only by an inquiry (`services/matcher/inquiries.py`), for
the one household an involved professional asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from crypto.signing import SigningKey
from domain.catalogue import Catalogue
from policies.model import PolicyMode
from policies.trigger import SignalFact, TriggerOutcome, evaluate_trigger
from services.matcher import alerts, audit, bulk
from services.matcher.policy_registry import ActivePolicy, PolicyRegistry
from services.matcher.schema import households
from services.matcher.store import SignalRow, chunks, live_signals_by_household


@dataclass(frozen=True)
class MatchEnv:
    """What evaluation needs besides the connection."""

    registry: PolicyRegistry
    catalogue: Catalogue
    signing_key: SigningKey
    reveal_ttl: timedelta
    alert_signal_retention_days: int


def fact_of(
    catalogue: Catalogue, row_id: int, signal_type: str, purpose: str, partner_kind: str,
    observed_on: date,
) -> SignalFact:
    """What the trigger sees of one stored signal: its life domains come from the catalogue
    (a type the catalogue no longer lists has none)."""
    domains: frozenset[str] = frozenset()
    if signal_type in catalogue:
        domains = frozenset(str(d) for d in catalogue.get(signal_type).domains)
    return SignalFact(
        key=str(row_id),
        signal_type=signal_type,
        domains=domains,
        purpose=purpose,
        partner_kind=partner_kind,
        observed_on=observed_on,
    )


def to_fact(row: SignalRow, catalogue: Catalogue) -> SignalFact:
    return fact_of(catalogue, row.id, row.signal_type, row.purpose, row.partner_kind,
                   row.observed_on)


_HOUSEHOLDS = bulk.PerDialect(lambda d: sa.select(
    households.c.id, households.c.pseudonym, households.c.area_code,
).where(bulk.any_of(households.c.id, "ids", d)))


def load_households(conn: sa.Connection, ids: Iterable[int]) -> dict[int, alerts.Household]:
    out: dict[int, alerts.Household] = {}
    for part in chunks(sorted(set(ids))):
        for hid, pseudonym, area in conn.execute(_HOUSEHOLDS(conn), {"ids": part}).all():
            out[int(hid)] = alerts.Household(int(hid), bytes(pseudonym), area)
    return out


def evaluate_policy(
    active: ActivePolicy, household: alerts.Household, rows: Sequence[SignalRow],
    catalogue: Catalogue, on: date,
) -> TriggerOutcome | None:
    """The trigger outcome, or None when the household is out of the policy's scope."""
    if not active.policy.scope.covers(household.area_code or ""):
        return None
    return evaluate_trigger(active.policy, [to_fact(r, catalogue) for r in rows], on)


def evaluate_standing(
    conn: sa.Connection,
    env: MatchEnv,
    household_ids: Iterable[int],
    *,
    now: datetime,
    actor: audit.Actor,
    events: list[audit.AuditEvent] | None = None,
) -> list[alerts.Attempt]:
    """Evaluate every standing policy in force for the given households (under their locks),
    and open the alerts they call for in one go (`alerts.open_alerts`).

    `events`: when given, the alerts' audit events are appended for the caller to write."""
    ids = set(household_ids)
    if not ids:
        return []
    today = now.date()
    standing = [
        ap for ap in env.registry.active(conn, today) if ap.policy.mode is PolicyMode.STANDING
    ]
    if not standing:
        return []
    purposes = frozenset().union(*(ap.policy.purposes for ap in standing))
    by_household = live_signals_by_household(conn, ids, today)
    candidates = {h for h, rows in by_household.items() if any(r.purpose in purposes for r in rows)}
    if not candidates:
        return []
    homes = load_households(conn, candidates)
    wanted: list[alerts.Candidate] = []
    for hid in sorted(candidates):
        rows = by_household[hid]
        rows_by_key = {str(r.id): r for r in rows}
        for ap in standing:
            if not any(r.purpose in ap.policy.purposes for r in rows):
                continue
            outcome = evaluate_policy(ap, homes[hid], rows, env.catalogue, today)
            if outcome is not None and outcome.met:
                wanted.append(alerts.Candidate(ap, homes[hid], outcome, rows_by_key))
    return alerts.open_alerts(
        conn, wanted, mode=PolicyMode.STANDING.value, now=now, actor=actor,
        signing_key=env.signing_key, reveal_ttl=env.reveal_ttl,
        alert_signal_retention_days=env.alert_signal_retention_days, events=events)
