"""Transactions and the per-household serialisation that makes matching exactly-once.

Every write goes through `run_transaction`: one database transaction, retried from the start
on a PostgreSQL deadlock or serialisation failure, or a SQLite "database is locked".

`lock_subjects` is the heart of exactly-once across replicas. Before a transaction inserts a
signal, link, withdrawal or inquiry that touches a household, it upserts the household and
person rows it needs and locks them (`SELECT ... FOR UPDATE`) in one global order: all persons
by pseudonym, then all households by pseudonym. Two transactions that touch the same household
therefore run one after the other, and the second one's evaluation sees the first one's
committed signals (PostgreSQL READ COMMITTED takes a new snapshot per statement). SQLite takes
its write lock at BEGIN IMMEDIATE, which serialises every writer anyway. The partial unique
index on open alerts stays as the last line of defence.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.logging import get_logger
from services.matcher import audit, bulk
from services.matcher.schema import LIVE, household_links, households, persons, signals

T = TypeVar("T")

_RETRYABLE_SQLSTATES = {"40001", "40P01"}
CHUNK = 2000  # bound on IN-list sizes


def is_retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(orig or exc)


def run_transaction(engine: Engine, work: Callable[[sa.Connection], T], attempts: int = 6) -> T:
    """Run `work(conn)` in one transaction; retry it from the start on a transient conflict.

    The audit entries it wrote go to the external Logboek, when one is configured, before the
    commit; without its acknowledgement the transaction rolls back (`audit.deliver_pending`).
    """
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                pending = audit.open_delivery()
                try:
                    result = work(conn)
                    audit.deliver_pending()
                finally:
                    audit.close_delivery(pending)
                return result
        except sa.exc.DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            get_logger(component="store").info("transaction_retried", attempt=attempt,
                                               sqlstate=getattr(exc.orig, "sqlstate", None))
            time.sleep(random.uniform(0.005, 0.05) * attempt)  # noqa: S311 (jitter, not crypto)
    raise AssertionError("unreachable")


def chunks(items: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# Hot-path statements, built once per dialect (`bulk`, ADR 0025).
_SUBJECT_COLUMNS = ("pseudonym", "created_at")


def _upsert(table: sa.Table) -> bulk.Insert:
    return bulk.Insert(table, _SUBJECT_COLUMNS,
                       lambda s: s.on_conflict_do_nothing(index_elements=["pseudonym"]))


def _select_for_update(table: sa.Table) -> bulk.PerDialect[Any]:
    def build(d: str) -> Any:
        query = (sa.select(table.c.pseudonym, table.c.id)
                 .where(bulk.any_of(table.c.pseudonym, "keys", d))
                 .order_by(table.c.pseudonym))
        # SQLite: BEGIN IMMEDIATE already serialises writers.
        return query.with_for_update() if d == bulk.POSTGRESQL else query
    return bulk.PerDialect(build)


_UPSERT = {households.name: _upsert(households), persons.name: _upsert(persons)}
_LOCK = {households.name: _select_for_update(households),
         persons.name: _select_for_update(persons)}
_LOCK_HOUSEHOLD_IDS = bulk.PerDialect(lambda d: (
    sa.select(households.c.id).where(bulk.any_of(households.c.id, "ids", d))
    .order_by(households.c.pseudonym).with_for_update()))
_AREAS = bulk.PerDialect(lambda d: sa.select(households.c.id, households.c.area_code)
                         .where(bulk.any_of(households.c.id, "ids", d)))
_SET_AREA = households.update().where(households.c.id == sa.bindparam("hid"))
_LINKS_OF_PERSONS = bulk.PerDialect(lambda d: sa.select(
    household_links.c.person_id, household_links.c.household_id, household_links.c.valid_from,
    household_links.c.id,
).where(bulk.any_of(household_links.c.person_id, "ids", d)))
_PERSONS_LINKED_TO = bulk.PerDialect(lambda d: (
    sa.select(household_links.c.person_id)
    .where(bulk.any_of(household_links.c.household_id, "ids", d)).distinct()))


def _insert_ignore(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    if conn.dialect.name not in ("postgresql", "sqlite"):  # pragma: no cover
        raise RuntimeError(f"unsupported database {conn.dialect.name}")
    for part in chunks(rows):
        _UPSERT[table.name].execute(conn, part)


def _lock(conn: sa.Connection, table: sa.Table, keys: list[bytes]) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    query = _LOCK[table.name](conn)
    for part in chunks(keys):
        for pseudonym, row_id in conn.execute(query, {"keys": part}).all():
            out[bytes(pseudonym)] = int(row_id)
    return out


def lock_persons(
    conn: sa.Connection, pseudonyms: Iterable[bytes], now: datetime
) -> dict[bytes, int]:
    """Upsert and lock person rows; returns pseudonym -> id. Call before `lock_households`."""
    return _upsert_and_lock(conn, persons, sorted(set(pseudonyms)), now)


def lock_households(
    conn: sa.Connection, pseudonyms: Iterable[bytes], now: datetime, *, create: bool = True
) -> dict[bytes, int]:
    """Upsert (unless `create` is false) and lock household rows; pseudonym -> id."""
    keys = sorted(set(pseudonyms))
    if not create:
        return _lock(conn, households, keys)
    return _upsert_and_lock(conn, households, keys, now)


def _upsert_and_lock(
    conn: sa.Connection, table: sa.Table, keys: list[bytes], now: datetime
) -> dict[bytes, int]:
    """Insert missing rows, lock all. A row the purge deleted between our insert and our lock
    (an orphan at that instant) is inserted again."""
    found: dict[bytes, int] = {}
    missing = keys
    for _ in range(3):
        _insert_ignore(conn, table, [{"pseudonym": k, "created_at": now} for k in missing])
        found.update(_lock(conn, table, missing))
        missing = [k for k in keys if k not in found]
        if not missing:
            return found
    raise sa.exc.OperationalError("lock subjects", {}, RuntimeError("database is locked"))


def lock_household_ids(conn: sa.Connection, ids: Iterable[int]) -> None:
    """Lock known household rows by id, in pseudonym order (the global lock order)."""
    wanted = sorted(set(ids))
    if not wanted or conn.dialect.name != "postgresql":
        return
    for part in chunks(wanted):
        conn.execute(_LOCK_HOUSEHOLD_IDS(conn), {"ids": part}).all()


def set_area_codes(conn: sa.Connection, area_by_household: Mapping[int, str]) -> None:
    """Remember the latest PC4 area code reported for each household."""
    if not area_by_household:
        return
    ids = list(area_by_household)
    current = {
        int(i): a
        for part in chunks(ids)
        for i, a in conn.execute(_AREAS(conn), {"ids": part}).all()
    }
    changed = [(hid, area) for hid, area in area_by_household.items() if current.get(hid) != area]
    if changed:
        conn.execute(_SET_AREA, [{"hid": hid, "area_code": area} for hid, area in changed])


@dataclass(frozen=True)
class LinkRow:
    person_id: int
    household_id: int
    valid_from: date
    link_row_id: int


def links_of_persons(conn: sa.Connection, person_ids: Iterable[int]) -> dict[int, list[LinkRow]]:
    """Every link of the given persons, ordered by (valid_from, id) per person."""
    out: dict[int, list[LinkRow]] = {}
    ids = sorted(set(person_ids))
    for part in chunks(ids):
        for pid, hid, vf, lid in conn.execute(_LINKS_OF_PERSONS(conn), {"ids": part}).all():
            out.setdefault(int(pid), []).append(LinkRow(int(pid), int(hid), vf, int(lid)))
    for links in out.values():
        links.sort(key=lambda link: (link.valid_from, link.link_row_id))
    return out


def household_on(links: list[LinkRow] | None, on: date) -> int | None:
    """The household a person lives in on `on`: the latest link with valid_from <= on."""
    found: int | None = None
    for link in links or ():
        if link.valid_from <= on:
            found = link.household_id
        else:
            break
    return found


def persons_linked_to(conn: sa.Connection, household_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(household_ids))
    out: set[int] = set()
    for part in chunks(ids):
        out.update(int(p) for (p,) in conn.execute(_PERSONS_LINKED_TO(conn), {"ids": part}).all())
    return out


@dataclass(frozen=True)
class SignalRow:
    """One live signal as matching sees it."""

    id: int
    partner: str
    signal_id: str
    partner_kind: str
    signal_type: str
    purpose: str
    observed_on: date
    household_id: int | None
    person_id: int | None


_SIGNAL_COLUMNS = (
    signals.c.id,
    signals.c.partner,
    signals.c.signal_id,
    signals.c.partner_kind,
    signals.c.signal_type,
    signals.c.purpose,
    signals.c.observed_on,
    signals.c.household_id,
    signals.c.person_id,
)


def _live_of(column: sa.Column[Any]) -> bulk.PerDialect[Any]:
    """Live signals by household or person: only the columns of the partial index
    (`column`, state) in SQL, the rest filtered in code, so no planner prefers another index."""
    return bulk.PerDialect(lambda d: sa.select(*_SIGNAL_COLUMNS, signals.c.expires_on).where(
        bulk.any_of(column, "ids", d), signals.c.state == sa.bindparam("state")))


_LIVE_OF_HOUSEHOLDS = _live_of(signals.c.household_id)
_LIVE_OF_PERSONS = _live_of(signals.c.person_id)


def _signal_row(r: Any) -> SignalRow:
    return SignalRow(
        id=int(r[0]),
        partner=str(r[1]),
        signal_id=str(r[2]),
        partner_kind=str(r[3]),
        signal_type=str(r[4]),
        purpose=str(r[5]),
        observed_on=r[6],
        household_id=None if r[7] is None else int(r[7]),
        person_id=None if r[8] is None else int(r[8]),
    )


def live_signals_by_household(
    conn: sa.Connection, household_ids: Iterable[int], today: date
) -> dict[int, list[SignalRow]]:
    """Live, unexpired signals of the given households: their own signals, plus the person-only
    signals of every person whose link on the signal's date points at one of them.

    Cost: indexed lookups proportional to those households' signals and links only. The SQL
    conditions are exactly the index columns ((household_id, state), (person_id, state)); the
    rest is filtered here, so no query planner can prefer a wider index (docs/matcher.md).
    """
    wanted = set(household_ids)
    out: dict[int, list[SignalRow]] = {h: [] for h in wanted}
    if not wanted:
        return out
    ordered = sorted(wanted)
    for part in chunks(ordered):
        for r in conn.execute(_LIVE_OF_HOUSEHOLDS(conn), {"ids": part, "state": LIVE}).all():
            if r.expires_on < today:
                continue
            s = _signal_row(r)
            assert s.household_id is not None
            out[s.household_id].append(s)
    person_ids = persons_linked_to(conn, ordered)
    if not person_ids:
        return out
    links = links_of_persons(conn, person_ids)
    for part in chunks(sorted(person_ids)):
        for r in conn.execute(_LIVE_OF_PERSONS(conn), {"ids": part, "state": LIVE}).all():
            if r.household_id is not None or r.expires_on < today:
                continue
            s = _signal_row(r)
            assert s.person_id is not None
            home = household_on(links.get(s.person_id), s.observed_on)
            if home in wanted:
                out[home].append(s)
    return out
