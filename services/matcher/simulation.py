"""Policy simulation over the whole store: which households would a policy flag today?

Live matching evaluates one household at a time; a simulation must evaluate every household
with a signal the policy can see, which at national size is millions. Walking household ids
and loading each one's signals costs ~40 µs per household in round trips and objects
(ADR 0026). Instead:

1. `evaluated_by_area` — one aggregate query: how many households, per area, hold at least one
   signal the policy can see (live, not expired on the evaluation day, of one of its purposes;
   a person-only signal counts at the household its person lived in on the day it was
   observed). These are the households the report calls "evaluated".
2. `candidate_outcomes` — one streaming query, ordered by household, over the signals of the
   *candidate* households only: those whose counted signals (in the window, not after the day,
   not of an excluded type) pass SQL conditions that every met trigger also passes: at least
   `min_signals` signals, at least `min_domains` distinct signal types (each counted domain
   needs a type of its own), and every required type present. The exact trigger function,
   `policies.trigger.evaluate_trigger`, decides on each candidate, with all its visible
   signals (an excluded type vetoes at any age, so the stream carries those too).

The prefilter only ever drops households the trigger would not flag: each SQL condition is
implied by `met` (tests/matcher/test_simulation.py checks the result against a table worked
out by hand on a store with the edge cases). The same visibility rules as
`store.live_signals_by_household` (the live path) are written here as SQL; a change there
must be made here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import groupby

import sqlalchemy as sa

from domain.catalogue import Catalogue
from policies.model import Policy
from policies.trigger import TriggerOutcome, evaluate_trigger, window_start
from services.matcher.matching import fact_of
from services.matcher.schema import LIVE, household_links, households, signals

STREAM_ROWS = 5000
"""Rows fetched per round trip while streaming candidates (a server-side cursor on PostgreSQL)."""


@dataclass(frozen=True)
class CandidateOutcome:
    household_id: int
    area_code: str
    outcome: TriggerOutcome


def _visible(policy: Policy, on: date) -> sa.Subquery:
    """Every signal the policy can see on `on`, with the household it counts at (`home`)."""
    purposes = sorted(policy.purposes)
    columns = (signals.c.id, signals.c.signal_type, signals.c.purpose, signals.c.partner_kind,
               signals.c.observed_on)
    seen = sa.and_(signals.c.state == LIVE, signals.c.expires_on >= on,
                   signals.c.purpose.in_(purposes))
    own = sa.select(*columns, signals.c.household_id.label("home")).where(
        seen, signals.c.household_id.is_not(None))
    # A person-only signal lands where its person lived on the day it was observed: the latest
    # link with valid_from on or before that day (ties: the link stored last), as
    # `store.household_on` does.
    link = household_links.alias("link")
    home_then = (
        sa.select(link.c.household_id)
        .where(link.c.person_id == signals.c.person_id, link.c.valid_from <= signals.c.observed_on)
        .order_by(link.c.valid_from.desc(), link.c.id.desc())
        .limit(1)
        .correlate(signals)
        .scalar_subquery()
    )
    by_person = sa.select(*columns, home_then.label("home")).where(
        seen, signals.c.household_id.is_(None), signals.c.person_id.is_not(None))
    return sa.union_all(own, by_person).subquery("visible")


def evaluated_by_area(conn: sa.Connection, policy: Policy, on: date) -> dict[str, int]:
    """Households holding a signal the policy can see on `on`, counted per area code ("" for a
    household without one). Out-of-scope areas are included; the report leaves them out."""
    visible = _visible(policy, on)
    homes = (sa.select(visible.c.home).where(visible.c.home.is_not(None))
             .distinct().subquery("homes"))
    query = (sa.select(households.c.area_code, sa.func.count())
             .select_from(homes.join(households, households.c.id == homes.c.home))
             .group_by(households.c.area_code))
    out: dict[str, int] = {}
    for area, n in conn.execute(query):
        key = str(area or "")
        out[key] = out.get(key, 0) + int(n)
    return out


def _candidates(policy: Policy, on: date, visible: sa.Subquery) -> sa.Subquery:
    """Households whose counted signals pass the necessary conditions of a met trigger."""
    trigger = policy.trigger
    counted = sa.and_(visible.c.observed_on >= window_start(trigger, on),
                      visible.c.observed_on <= on)
    if trigger.excluded_types:
        counted = sa.and_(counted, visible.c.signal_type.not_in(sorted(trigger.excluded_types)))
    having = [
        sa.func.count() >= trigger.min_signals,
        sa.func.count(sa.distinct(visible.c.signal_type)) >= trigger.min_domains,
    ]
    for required in sorted(trigger.required_types):
        having.append(sa.func.sum(sa.case((visible.c.signal_type == required, 1), else_=0)) > 0)
    return (sa.select(visible.c.home)
            .where(counted, visible.c.home.is_not(None))
            .group_by(visible.c.home)
            .having(sa.and_(*having))
            .subquery("candidates"))


def candidate_outcomes(
    conn: sa.Connection, policy: Policy, catalogue: Catalogue, on: date
) -> Iterator[CandidateOutcome]:
    """The exact trigger outcome of every candidate household in the policy's scope, in
    household id order. Households not yielded are not flagged (see the module docstring)."""
    visible = _visible(policy, on)
    candidates = _candidates(policy, on, visible)
    query = (
        sa.select(visible.c.home, households.c.area_code, visible.c.id, visible.c.signal_type,
                  visible.c.purpose, visible.c.partner_kind, visible.c.observed_on)
        .select_from(visible.join(candidates, candidates.c.home == visible.c.home)
                     .join(households, households.c.id == visible.c.home))
        .order_by(visible.c.home, visible.c.id)
    )
    if policy.scope.areas:
        query = query.where(households.c.area_code.in_(sorted(policy.scope.areas)))
    rows = conn.execute(query.execution_options(yield_per=STREAM_ROWS))
    for home, group in groupby(rows, key=lambda r: r[0]):
        first = next(group)
        area = str(first[1] or "")
        facts = [fact_of(catalogue, r[2], r[3], r[4], r[5], r[6]) for r in (first, *group)]
        if policy.scope.covers(area):
            yield CandidateOutcome(int(home), area, evaluate_trigger(policy, facts, on))
