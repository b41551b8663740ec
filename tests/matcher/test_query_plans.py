"""The hot path's signal lookups use their partial indexes, also once statistics exist.

A store where nearly every `person_id` is NULL (the common case: most signals are about a
household) made SQLite, after ANALYZE, plan "a person's live signals" as a full table scan: the
full `(person_id, state)` index looked useless, almost all of its entries sharing one value,
NULL. The partial indexes of migration 0007 hold only rows with an id (ADR 0025).

The test runs the real lookups of the submission path (`store.live_signals_by_household`,
`signal_steps.live_originals`) on such a store after ANALYZE, records every statement they send,
and asks the database for the plan of each with the same parameters: SQLite's EXPLAIN QUERY
PLAN, PostgreSQL's EXPLAIN, and on PostgreSQL also the generic plan a prepared statement gets
(psycopg prepares a statement after five executions), which cannot peek at the parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from psycopg import sql as psycopg_sql
from sqlalchemy import event

from services.common.db import create_engine, migrate
from services.matcher import signal_steps as steps
from services.matcher import store
from services.matcher.config import MIGRATIONS
from services.matcher.schema import household_links, households, persons, signals
from services.matcher.settings import PartnerEntry
from services.matcher.validation import PseudonymIn, ValidSignal

PARTIAL = {"ix_signals_household_live", "ix_signals_person_live"}
HOUSEHOLDS = 600
SIGNALS_PER_HOUSEHOLD = 10
PERSON_SIGNALS = 2  # of 6,002 signals: 99.97 % of person_ids are NULL
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 12, 0)


def _key(kind: str, n: int) -> bytes:
    return f"{kind}-{n}".encode().ljust(32, b".")


def _fill(engine: sa.Engine) -> None:
    """HOUSEHOLDS households with SIGNALS_PER_HOUSEHOLD household signals each; PERSON_SIGNALS
    persons, each linked to a household, each with one person-only signal."""
    base = {"partner": "woonstad", "partner_kind": "housing", "signal_type": "huurachterstand",
            "purpose": "wgs-vroegsignalering", "observed_on": TODAY - timedelta(days=10),
            "area_code": None, "escalated": False, "state": "live", "merged_into": None,
            "expires_on": TODAY + timedelta(days=100), "retain_until": TODAY + timedelta(days=100),
            "catalogue_version": "2025.1", "batch_id": "b", "created_at": NOW,
            "updated_at": NOW}
    rows = [dict(base, signal_id=f"h{h}-{k}", household_id=h, person_id=None)
            for h in range(1, HOUSEHOLDS + 1) for k in range(SIGNALS_PER_HOUSEHOLD)]
    rows += [dict(base, signal_id=f"p{p}", household_id=None, person_id=p,
                  signal_type="zorgpremie_achterstand", partner="gemeente",
                  partner_kind="municipality") for p in range(1, PERSON_SIGNALS + 1)]
    with engine.begin() as conn:
        conn.execute(sa.insert(households), [
            {"id": h, "pseudonym": _key("h", h), "created_at": NOW}
            for h in range(1, HOUSEHOLDS + 1)])
        conn.execute(sa.insert(persons), [
            {"id": p, "pseudonym": _key("p", p), "created_at": NOW}
            for p in range(1, PERSON_SIGNALS + 1)])
        conn.execute(sa.insert(household_links), [
            {"partner": "gemeente", "link_id": f"l{p}", "person_id": p, "household_id": p,
             "valid_from": date(2020, 1, 1), "created_at": NOW}
            for p in range(1, PERSON_SIGNALS + 1)])
        conn.execute(sa.insert(signals), rows)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def _signal(signal_id: str, household: bool) -> ValidSignal:
    pseudonym = PseudonymIn(b"\x00" * 64, "k")
    return ValidSignal(
        signal_id=signal_id, signal_type="zorgpremie_achterstand", observed_on=TODAY,
        purpose="wgs-vroegsignalering", household=pseudonym if household else None,
        person=None if household else pseudonym, escalated=False, area_code=None,
        domains=frozenset({"financien"}), expires_on=TODAY + timedelta(days=100),
        catalogue_version="2025.1")


def _hot_path_statements(engine: sa.Engine) -> list[tuple[str, Any]]:
    """Run the submission path's signal lookups; every SELECT on signals they sent."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if re.search(r"\bFROM signals\b", statement):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.begin() as conn:
            store.live_signals_by_household(conn, [1, 2, 3, 4, 5], TODAY)
            batch = steps.Batch(PartnerEntry("gemeente", "municipality", frozenset()), "b",
                                [(0, _signal("new-p", False)), (1, _signal("new-h", True))])
            batch.pp, batch.hh = {0: _key("p", 1)}, {1: _key("h", 7)}
            homes = steps.Homes({_key("p", 1): 1}, {_key("h", 7): 7}, {})
            steps.live_originals(conn, batch, batch.valid, homes, TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    by = {col: [s for s in sent if f"signals.{col}" in s[0].split("WHERE")[1]]
          for col in ("household_id", "person_id")}
    assert len(by["household_id"]) == 2 and len(by["person_id"]) == 2, sent
    return sent


def _sqlite_plans(engine: sa.Engine, sent: list[tuple[str, Any]]) -> Iterator[list[str]]:
    with engine.connect() as conn:
        for statement, parameters in sent:
            yield [str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters)]


def _scans_of_signals(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(node type, index name) of every plan node reading `signals`."""
    children = plan.get("Plans", [])
    if plan.get("Relation Name") == "signals":
        index = plan.get("Index Name") or next(
            (c.get("Index Name", "") for c in children if "Index Name" in c), "")
        yield plan["Node Type"], index
    for child in children:
        yield from _scans_of_signals(child)


def _postgres_plan(conn: sa.Connection, sql: str, parameters: Any) -> list[tuple[str, str]]:
    explain = "EXPLAIN (FORMAT JSON) " + sql
    result = (conn.exec_driver_sql(explain, parameters) if parameters is not None
              else conn.exec_driver_sql(explain))
    [(doc,)] = result.all()
    plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
    return list(_scans_of_signals(plan))


def _numbered(statement: str) -> tuple[str, list[str]]:
    """psycopg's `%(name)s` placeholders as PREPARE's `$1, $2, …`; the names in that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement), names


def test_signal_lookups_use_the_partial_indexes_after_analyze(db_url: str) -> None:
    migrate(MIGRATIONS, db_url)
    engine = create_engine(db_url)
    try:
        _fill(engine)
        sent = _hot_path_statements(engine)
        if engine.dialect.name == "sqlite":
            for (statement, _), plan in zip(sent, _sqlite_plans(engine, sent), strict=True):
                assert not any(step.startswith("SCAN signals") for step in plan), (statement, plan)
                assert any(re.search(r"USING (COVERING )?INDEX ix_signals_(household|person)_live",
                                     step) for step in plan), (statement, plan)
            return
        with engine.begin() as conn:
            for n, (statement, parameters) in enumerate(sent):
                custom = _postgres_plan(conn, statement, parameters)
                # The generic plan of the same statement, as a prepared statement gets it.
                prepared, names = _numbered(statement)
                conn.exec_driver_sql(f"PREPARE hot_{n} AS {prepared}")
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
                [types] = conn.exec_driver_sql(
                    "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = "
                    f"'hot_{n}'").one()
                raw = conn.connection.driver_connection
                args = ", ".join(f"{psycopg_sql.Literal(parameters[name]).as_string(raw)}::{t}"
                                 for name, t in zip(names, types, strict=True))
                generic = _postgres_plan(conn, f"EXECUTE hot_{n}({args})", None)
                for plan in (custom, generic):
                    assert plan, statement
                    for node, index in plan:
                        assert node != "Seq Scan" and index in PARTIAL, (statement, plan)
    finally:
        engine.dispose()
