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
   `policies.trigger.evaluate_trigger`, decides on each candidate, with the signals that can
   change its outcome: the counted ones and the vetoing ones (an excluded type vetoes at any
   age).

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
from policies.trigger import SignalFact, TriggerOutcome, evaluate_trigger, window_start
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
    # GROUP BY rather than DISTINCT: SQLite sorts a GROUP BY in one pass (its sorter) but
    # builds DISTINCT row by row in a b-tree, 2.5x the CPU at 2M signals.
    homes = (sa.select(visible.c.home).where(visible.c.home.is_not(None))
             .group_by(visible.c.home).subquery("homes"))
    query = (sa.select(households.c.area_code, sa.func.count())
             .select_from(homes.join(households, households.c.id == homes.c.home))
             .group_by(households.c.area_code))
    out: dict[str, int] = {}
    for area, n in conn.execute(query):
        key = str(area or "")
        out[key] = out.get(key, 0) + int(n)
    return out


def _deciding(visible: sa.Subquery, policy: Policy, on: date
              ) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """(counted, vetoing) conditions on visible signals: in the window and not of an excluded
    type; of an excluded type, observed on or before the day."""
    trigger = policy.trigger
    in_window = sa.and_(visible.c.observed_on >= window_start(trigger, on),
                        visible.c.observed_on <= on)
    excluded = sorted(trigger.excluded_types)
    if not excluded:
        return in_window, sa.false()
    return (sa.and_(in_window, visible.c.signal_type.not_in(excluded)),
            sa.and_(visible.c.signal_type.in_(excluded), visible.c.observed_on <= on))


def _candidate_rows(policy: Policy, on: date, dialect: str) -> sa.Select[Any]:
    """The signals that decide the trigger, of the households whose counted signals pass the
    necessary conditions of a met trigger, ordered by household.

    Only two kinds of visible signal can change `evaluate_trigger`'s outcome: the *counted*
    ones (in the window, not after the day, not of an excluded type) and the *vetoing* ones
    (an excluded type, observed on or before the day, at any age). The others (older than the
    window, observed after the day) are left out of the stream. The candidates are grouped
    from the counted signals: at least `min_signals`, at least `min_domains` distinct types
    (each counted domain needs a type of its own), every required type. `IN (candidates)`
    lets the database build the small candidate set once and stream the signals past it.
    """
    trigger = policy.trigger
    grouped = _visible(policy, on, dialect)
    counted, _ = _deciding(grouped, policy, on)
    having = [sa.func.count() >= trigger.min_signals,
              sa.func.count(sa.distinct(grouped.c.signal_type)) >= trigger.min_domains]
    having += [sa.func.max(sa.case((grouped.c.signal_type == required, 1), else_=0)) == 1
               for required in sorted(trigger.required_types)]
    candidates = (sa.select(grouped.c.home)
                  .where(counted, grouped.c.home.is_not(None))
                  .group_by(grouped.c.home)
                  .having(sa.and_(*having)))
    visible = _visible(policy, on, dialect)
    counted, vetoing = _deciding(visible, policy, on)
    if policy.scope.areas:
        in_scope = sa.select(households.c.id).where(
            households.c.area_code.in_(sorted(policy.scope.areas)))
        candidates = candidates.where(grouped.c.home.in_(in_scope))
    # The area as a scalar subquery, not a join: SQLite then streams `visible` (a join would
    # materialise all of it first).
    area = (sa.select(households.c.area_code).where(households.c.id == visible.c.home)
            .scalar_subquery())
    return (
        sa.select(visible.c.home, area, visible.c.id, visible.c.signal_type,
                  visible.c.purpose, visible.c.partner_kind, visible.c.observed_on)
        .where(visible.c.home.in_(candidates), sa.or_(counted, vetoing))
        .order_by(visible.c.home, visible.c.id)
    )


def candidate_outcomes(
    conn: sa.Connection, policy: Policy, catalogue: Catalogue, on: date
) -> Iterator[CandidateOutcome]:
    """The exact trigger outcome of every candidate household in the policy's scope, in
    household id order. Households not yielded are not flagged (see the module docstring)."""
    _session_for_large_reads(conn)
    query = _candidate_rows(policy, on, conn.dialect.name)
    rows = conn.execute(query.execution_options(yield_per=STREAM_ROWS))
    domains: dict[str, frozenset[str]] = {}  # per signal type, from the catalogue
    for home, group in groupby(rows, key=lambda r: r[0]):
        first = next(group)
        area = str(first[1] or "")
        if not policy.scope.covers(area):
            continue
        facts = []
        for r in (first, *group):
            if r[3] not in domains:
                domains[r[3]] = fact_of(catalogue, 0, r[3], "", "", on).domains
            facts.append(SignalFact(str(r[2]), r[3], domains[r[3]], r[4], r[5], r[6]))
        yield CandidateOutcome(int(home), area, evaluate_trigger(policy, facts, on))
