"""Policy simulation over the whole store: which households would a policy flag today?

Live matching evaluates one household at a time; a simulation must evaluate every household
with a signal the policy can see, which at national size is millions. Walking household ids
and loading each one's signals costs ~40 µs per household in round trips and objects
(ADR 0026). Instead `simulate` runs one statement on the caller's read snapshot:

1. every signal the policy can see (live, not expired on the evaluation day, of one of its
   purposes; a person-only signal at the household its person lived in on the day it was
   observed) is grouped by household once: each such household is "evaluated", and is counted
   per area;
2. the *candidate* households are those whose counted signals (in the window, not after the
   day, not of an excluded type) pass SQL conditions that every met trigger also passes: at
   least `min_signals` signals, at least `min_domains` distinct signal types (each counted
   domain needs a type of its own), and every required type. Their deciding signals stream
   ordered by household, and the exact trigger function, `policies.trigger.evaluate_trigger`,
   decides on each candidate, with the signals that can change its outcome: the counted ones
   and the vetoing ones (an excluded type vetoes at any age).

The prefilter only ever drops households the trigger would not flag: each SQL condition is
implied by `met` (tests/matcher/test_simulation.py checks the result against a table worked
out by hand on a store with the edge cases, and against a plain-Python reading of the rules).
The same visibility rules as `store.live_signals_by_household` (the live path) are written
here as SQL; a change there must be made here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain, groupby
from operator import itemgetter
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


def _statement(policy: Policy, on: date, dialect: str) -> sa.Select[Any]:
    """One statement, two parts, in this order: (part 0) households evaluated per area;
    (part 1) the deciding signals of the candidate households, ordered by household.

    `per_home` groups every visible signal by household once: its being there makes the
    household evaluated, and its counted signals (in the window, not after the day, not of an
    excluded type) give the prefilter — at least `min_signals`, at least `min_domains` distinct
    types (each counted domain needs a type of its own), every required type. Both parts read
    it, so the database materialises it once (a CTE used twice).

    Part 1 streams only the signals that can change `evaluate_trigger`'s outcome: the counted
    ones and the vetoing ones (an excluded type, observed on or before the day, at any age);
    older or later signals cannot. `IN (candidates)` builds the small candidate set once and
    streams the signals past it; the area is a scalar subquery, not a join, so SQLite streams
    the signals rather than materialising them.
    """
    trigger = policy.trigger
    grouped = _visible(policy, on, dialect)
    counted, _ = _deciding(grouped, policy, on)
    requirements = {
        f"r{i}": sa.func.max(sa.case((sa.and_(counted, grouped.c.signal_type == required), 1),
                                     else_=0))
        for i, required in enumerate(sorted(trigger.required_types))}
    per_home = (
        sa.select(grouped.c.home,
                  sa.func.sum(sa.case((counted, 1), else_=0)).label("n"),
                  sa.func.count(sa.distinct(sa.case((counted, grouped.c.signal_type),
                                                    else_=None))).label("t"),
                  *(agg.label(name) for name, agg in requirements.items()))
        .where(grouped.c.home.is_not(None))
        .group_by(grouped.c.home)
        .cte("per_home")
    )
    evaluated = (
        sa.select(sa.literal(0).label("part"), households.c.area_code.label("area"),
                  sa.func.count().label("n"), *_nulls())
        .select_from(per_home.join(households, households.c.id == per_home.c.home))
        .group_by(households.c.area_code)
    )
    candidates = sa.select(per_home.c.home).where(
        per_home.c.n >= trigger.min_signals, per_home.c.t >= trigger.min_domains,
        *(per_home.c[name] == 1 for name in requirements))
    if policy.scope.areas:
        candidates = candidates.where(per_home.c.home.in_(
            sa.select(households.c.id).where(
                households.c.area_code.in_(sorted(policy.scope.areas)))))
    visible = _visible(policy, on, dialect)
    counted, vetoing = _deciding(visible, policy, on)
    area = (sa.select(households.c.area_code).where(households.c.id == visible.c.home)
            .scalar_subquery())
    deciding = (
        sa.select(sa.literal(1).label("part"), area.label("area"),
                  sa.cast(sa.null(), sa.BigInteger).label("n"), visible.c.home, visible.c.id,
                  visible.c.signal_type, visible.c.purpose, visible.c.partner_kind,
                  visible.c.observed_on)
        .where(visible.c.home.in_(candidates), sa.or_(counted, vetoing))
    )
    both = sa.union_all(evaluated, deciding).subquery("simulation")
    return sa.select(both).order_by(both.c.part, both.c.home, both.c.id)


def _nulls() -> tuple[sa.Label[Any], ...]:
    """The signal columns of part 0, typed NULLs (PostgreSQL needs a type per UNION column)."""
    return (sa.cast(sa.null(), sa.BigInteger).label("home"),
            sa.cast(sa.null(), sa.BigInteger).label("id"),
            sa.cast(sa.null(), sa.String).label("signal_type"),
            sa.cast(sa.null(), sa.String).label("purpose"),
            sa.cast(sa.null(), sa.String).label("partner_kind"),
            sa.cast(sa.null(), sa.Date).label("observed_on"))


@dataclass
class Simulation:
    evaluated_by_area: dict[str, int]
    """Households holding a signal the policy can see, per area code ("" for a household
    without one); out-of-scope areas included (the report leaves them out)."""
    candidates: Iterator[CandidateOutcome]
    """The exact trigger outcome of every candidate household in the policy's scope, in
    household id order; households not yielded are not flagged. Read it before the
    connection's transaction ends."""


def simulate(conn: sa.Connection, policy: Policy, catalogue: Catalogue, on: date) -> Simulation:
    """Run the simulation's one statement; the evaluated counts are read at once, the
    candidates stream as the caller iterates (see `_statement`)."""
    _session_for_large_reads(conn)
    rows = iter(conn.execute(_statement(policy, on, conn.dialect.name)
                             .execution_options(yield_per=STREAM_ROWS)))
    evaluated: dict[str, int] = {}
    first_deciding = None
    for row in rows:
        if row.part != 0:
            first_deciding = row
            break
        key = str(row.area or "")
        evaluated[key] = evaluated.get(key, 0) + int(row.n)
    stream = chain([first_deciding], rows) if first_deciding is not None else iter(())
    return Simulation(evaluated, _outcomes(stream, policy, catalogue, on))


def _outcomes(rows: Iterator[Any], policy: Policy, catalogue: Catalogue, on: date
              ) -> Iterator[CandidateOutcome]:
    domains: dict[str, frozenset[str]] = {}  # per signal type, from the catalogue
    # Columns by position (part, area, n, home, id, signal_type, purpose, partner_kind,
    # observed_on): hundreds of thousands of rows, attribute lookups add up.
    for home, group in groupby(rows, key=itemgetter(3)):
        facts = []
        area = ""
        for _, area_code, _, _, row_id, signal_type, purpose, kind, observed in group:
            area = area_code or ""
            known = domains.get(signal_type)
            if known is None:
                known = domains[signal_type] = fact_of(catalogue, 0, signal_type, "", "",
                                                       on).domains
            facts.append(SignalFact(str(row_id), signal_type, known, purpose, kind, observed))
        if policy.scope.covers(area):
            yield CandidateOutcome(int(home), area, evaluate_trigger(policy, facts, on))
