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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from domain.catalogue import Catalogue
from policies.model import Policy
from policies.trigger import TriggerOutcome, evaluate_trigger, window_start
from services.matcher.matching import fact_of
from services.matcher.schema import LIVE, household_links, households, signals

STREAM_ROWS = 5000
"""Rows fetched per round trip while streaming candidates (a server-side cursor on PostgreSQL)."""
WORK_MEM = "256MB"
"""PostgreSQL sort and hash memory for a simulation's transaction (one officer's request)."""


@dataclass(frozen=True)
class CandidateOutcome:
    household_id: int
    area_code: str
    outcome: TriggerOutcome


def _no_index(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """On SQLite, `+column`: the same value, but the planner may not use an index for it.

    A simulation reads most of the table. Once statistics exist, SQLite picks the index on
    `expires_on` (or walks `household_id` to avoid a sort) and then fetches every row by rowid,
    several times slower than one pass over the table. PostgreSQL plans this well itself."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _visible(policy: Policy, on: date, dialect: str) -> sa.Subquery:
    """Every signal the policy can see on `on`, with the household it counts at (`home`)."""
    purposes = sorted(policy.purposes)
    columns = (signals.c.id, signals.c.signal_type, signals.c.purpose, signals.c.partner_kind,
               signals.c.observed_on)
    seen = sa.and_(signals.c.state == LIVE, _no_index(signals.c.expires_on, dialect) >= on,
                   signals.c.purpose.in_(purposes))
    own_home = _no_index(signals.c.household_id, dialect)
    own = sa.select(*columns, own_home.label("home")).where(seen, own_home.is_not(None))
    # A person-only signal lands where its person lived on the day it was observed: the latest
    # link with valid_from on or before that day (ties: the link stored last), as
    # `store.household_on` does. A join with "no later such link" rather than a correlated
    # subquery, so the household is a plain column the planner computes once per signal.
    link, later = household_links.alias("link"), household_links.alias("later")
    superseded = sa.exists().where(
        later.c.person_id == link.c.person_id, later.c.valid_from <= signals.c.observed_on,
        sa.or_(later.c.valid_from > link.c.valid_from,
               sa.and_(later.c.valid_from == link.c.valid_from, later.c.id > link.c.id)))
    by_person = (
        sa.select(*columns, link.c.household_id.label("home"))
        .select_from(signals.join(link, sa.and_(link.c.person_id == signals.c.person_id,
                                                link.c.valid_from <= signals.c.observed_on)))
        .where(seen, signals.c.household_id.is_(None), ~superseded)
    )
    return sa.union_all(own, by_person).subquery("visible")


def _session_for_large_reads(conn: sa.Connection) -> None:
    """PostgreSQL, for this transaction only: room to sort and hash millions of rows in memory
    (the server's default `work_mem` is a few MB), and plans for the whole result rather than
    its first rows (a server-side cursor otherwise favours nested loops)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")


def evaluated_by_area(conn: sa.Connection, policy: Policy, on: date) -> dict[str, int]:
    """Households holding a signal the policy can see on `on`, counted per area code ("" for a
    household without one). Out-of-scope areas are included; the report leaves them out."""
    _session_for_large_reads(conn)
    visible = _visible(policy, on, conn.dialect.name)
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


def _candidate_rows(policy: Policy, on: date, dialect: str) -> sa.Select[Any]:
    """The signals that decide the trigger, of the households whose counted signals pass the
    necessary conditions of a met trigger, ordered by household.

    Only two kinds of visible signal can change `evaluate_trigger`'s outcome: the *counted*
    ones (in the window, not after the day, not of an excluded type) and the *vetoing* ones
    (an excluded type, observed on or before the day, at any age). The others (older than the
    window, observed after the day) are left out of the stream. Per household, window
    aggregates over the counted signals give the prefilter: at least `min_signals`, every
    required type, and two different types when two domains are needed.
    """
    trigger = policy.trigger
    visible = _visible(policy, on, dialect)
    in_window = sa.and_(visible.c.observed_on >= window_start(trigger, on),
                        visible.c.observed_on <= on)
    excluded = sorted(trigger.excluded_types)
    counted = sa.and_(in_window, visible.c.signal_type.not_in(excluded)) if excluded \
        else in_window
    vetoing = sa.and_(visible.c.signal_type.in_(excluded), visible.c.observed_on <= on) \
        if excluded else sa.false()
    is_counted = sa.case((counted, 1), else_=0)
    home = (visible.c.home,)
    tests = {"n": sa.func.sum(is_counted).over(partition_by=home)}
    for i, required in enumerate(sorted(trigger.required_types)):
        tests[f"r{i}"] = sa.func.sum(
            sa.case((sa.and_(counted, visible.c.signal_type == required), 1), else_=0)
        ).over(partition_by=home)
    if trigger.min_domains >= 2:  # each domain needs a type of its own: two types at least
        counted_type = sa.case((counted, visible.c.signal_type), else_=None)
        tests["lo"] = sa.func.min(counted_type).over(partition_by=home)
        tests["hi"] = sa.func.max(counted_type).over(partition_by=home)
    decisive = (
        sa.select(visible.c.home, visible.c.id, visible.c.signal_type, visible.c.purpose,
                  visible.c.partner_kind, visible.c.observed_on,
                  *(t.label(name) for name, t in tests.items()))
        .where(visible.c.home.is_not(None), sa.or_(counted, vetoing))
        .subquery("decisive")
    )
    passes = [decisive.c.n >= trigger.min_signals]
    passes += [decisive.c[name] > 0 for name in tests if name.startswith("r")]
    if "lo" in tests:
        passes.append(decisive.c.lo < decisive.c.hi)
    query = (
        sa.select(decisive.c.home, households.c.area_code, decisive.c.id,
                  decisive.c.signal_type, decisive.c.purpose, decisive.c.partner_kind,
                  decisive.c.observed_on)
        .select_from(decisive.join(households, households.c.id == decisive.c.home))
        .where(*passes)
        .order_by(decisive.c.home, decisive.c.id)
    )
    if policy.scope.areas:
        query = query.where(households.c.area_code.in_(sorted(policy.scope.areas)))
    return query


def candidate_outcomes(
    conn: sa.Connection, policy: Policy, catalogue: Catalogue, on: date
) -> Iterator[CandidateOutcome]:
    """The exact trigger outcome of every candidate household in the policy's scope, in
    household id order. Households not yielded are not flagged (see the module docstring)."""
    _session_for_large_reads(conn)
    query = _candidate_rows(policy, on, conn.dialect.name)
    rows = conn.execute(query.execution_options(yield_per=STREAM_ROWS))
    for home, group in groupby(rows, key=lambda r: r[0]):
        first = next(group)
        area = str(first[1] or "")
        facts = [fact_of(catalogue, r[2], r[3], r[4], r[5], r[6]) for r in (first, *group)]
        if policy.scope.covers(area):
            yield CandidateOutcome(int(home), area, evaluate_trigger(policy, facts, on))
