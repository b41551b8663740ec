"""The steps of signal ingest, in the order `IngestUseCases.submit_signals` runs them.

validate → pseudonymise → resolve households → de-duplicate → classify repeats → write →
outcomes and audit events (`audit_outcomes`) → evaluate (`matching.evaluate_standing`) → one
audit write for the batch's signals and alerts. Each step is one function; the ones taking a
connection run inside the batch's one transaction, in this order, so the locks taken while
resolving households are held until the batch commits. Each step sends a fixed number of
statements whatever the batch size (ADR 0025).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.matcher import audit, batch_steps, bulk, store
from services.matcher.schema import LIVE, MERGED, households, signals
from services.matcher.settings import PartnerEntry
from services.matcher.validation import PseudonymIn, Rejection, SignalIn, ValidSignal
from services.matcher.views import ACCEPTED, DUPLICATE, RowOutcome

# (signal type, "h" | "p", household or person id): what makes a signal a repeat of another.
RepeatKey = tuple[str, str, int]

REFRESHED_REASON = (
    "a repeat of a live signal of this type at this household: it refreshed "
    "the earlier signal's date and does not count again (not escalated)"
)


@dataclass
class Batch:
    """One SubmitSignals call after validation: the valid rows (by position) and their keys."""

    partner: PartnerEntry
    batch_id: str
    valid: list[tuple[int, ValidSignal]]
    hh: dict[int, bytes] = field(default_factory=dict)  # position -> household pseudonym
    pp: dict[int, bytes] = field(default_factory=dict)  # position -> person pseudonym


@dataclass
class Homes:
    """The locked persons and households of a batch (database ids)."""

    person_ids: dict[bytes, int]
    household_ids: dict[bytes, int]
    resolved: dict[int, int]  # position -> household a person-only signal counts for

    def household(self, batch: Batch, i: int) -> int | None:
        return self.household_ids[batch.hh[i]] if i in batch.hh else None

    def person(self, batch: Batch, i: int) -> int | None:
        return self.person_ids[batch.pp[i]] if i in batch.pp else None


@dataclass
class Plan:
    """What to write: rows that count (new), and repeats merged into an earlier live signal.

    A merge target is either an existing signal row or ("batch", n): the n-th new row.
    """

    new_rows: list[tuple[int, ValidSignal, dict[str, Any]]] = field(default_factory=list)
    merges: list[tuple[int, ValidSignal, dict[str, Any], Any]] = field(default_factory=list)


# Hot-path statements, built once per dialect (`bulk`, ADR 0025).
SIGNAL_COLUMNS = (
    "partner", "signal_id", "partner_kind", "signal_type", "purpose", "observed_on",
    "household_id", "person_id", "area_code", "escalated", "state", "merged_into", "expires_on",
    "retain_until", "catalogue_version", "batch_id", "created_at", "updated_at",
)
_INSERT_SIGNALS = bulk.Insert(signals, SIGNAL_COLUMNS,
                              lambda s: s.returning(signals.c.id, signals.c.signal_id))
_INSERT_MERGED = bulk.Insert(signals, SIGNAL_COLUMNS)
_REFRESH = (
    signals.update()
    .where(signals.c.id == sa.bindparam("sid"))
    .values(
        observed_on=sa.bindparam("obs"),
        expires_on=sa.bindparam("exp"),
        retain_until=sa.case(
            (signals.c.retain_until < sa.bindparam("exp2"), sa.bindparam("exp2")),
            else_=signals.c.retain_until,
        ),
        updated_at=sa.bindparam("now"),
    )
)
_EXISTING_IDS = bulk.PerDialect(lambda d: sa.select(signals.c.signal_id).where(
    signals.c.partner == sa.bindparam("partner"), bulk.any_of(signals.c.signal_id, "ids", d)))
_HOUSEHOLD_KEYS = bulk.PerDialect(lambda d: sa.select(households.c.id, households.c.pseudonym)
                                  .where(bulk.any_of(households.c.id, "ids", d)))
_LIVE_COLUMNS = (signals.c.id, signals.c.signal_id, signals.c.signal_type, signals.c.partner,
                 signals.c.household_id, signals.c.person_id, signals.c.observed_on,
                 signals.c.expires_on)
# Index columns only in SQL ((household_id, state), (person_id, state)); the rest in code.
_LIVE_BY = {
    "household": bulk.PerDialect(lambda d: sa.select(*_LIVE_COLUMNS).where(
        bulk.any_of(signals.c.household_id, "ids", d), signals.c.state == sa.bindparam("state"))),
    "person": bulk.PerDialect(lambda d: sa.select(*_LIVE_COLUMNS).where(
        bulk.any_of(signals.c.person_id, "ids", d), signals.c.state == sa.bindparam("state"))),
}


def validate(
    rows: Sequence[SignalIn], check: Callable[[SignalIn], ValidSignal | Rejection]
) -> tuple[list[RowOutcome | None], list[tuple[int, ValidSignal]]]:
    """Per-row outcomes for rejected rows and repeats of a signal_id within the batch; the
    valid rows by position."""
    return batch_steps.validate(rows, check, "signal_id")


def pseudonymise(batch: Batch, keyed: Callable[[PseudonymIn], bytes]) -> None:
    """The matcher's keyed HMAC step over every household and person of the valid rows."""
    batch.hh = {i: keyed(v.household) for i, v in batch.valid if v.household is not None}
    batch.pp = {i: keyed(v.person) for i, v in batch.valid if v.person is not None}


def resolve_households(conn: sa.Connection, batch: Batch, now: datetime) -> Homes:
    """Lock the batch's persons and households (creating them), and find the household each
    person-only signal counts for on its observed date (household links)."""
    person_ids = store.lock_persons(conn, batch.pp.values(), now)
    links = store.links_of_persons(conn, person_ids.values())
    resolved: dict[int, int] = {}
    for i, v in batch.valid:
        if i not in batch.hh and i in batch.pp:
            home = store.household_on(links.get(person_ids[batch.pp[i]]), v.observed_on)
            if home is not None:
                resolved[i] = home
    resolved_keys = {
        int(h): bytes(p)
        for part in store.chunks(sorted(set(resolved.values())))
        for h, p in conn.execute(_HOUSEHOLD_KEYS(conn), {"ids": part}).all()
    }
    household_ids = store.lock_households(
        conn, [*batch.hh.values(), *resolved_keys.values()], now
    )
    return Homes(person_ids, household_ids, resolved)


def deduplicate(
    conn: sa.Connection, batch: Batch, out: dict[int, RowOutcome]
) -> list[tuple[int, ValidSignal]]:
    """The rows whose signal_id this partner did not store before; the others get DUPLICATE."""
    existing: set[str] = set()
    for part in store.chunks([v.signal_id for _, v in batch.valid]):
        existing.update(str(s) for (s,) in conn.execute(
            _EXISTING_IDS(conn), {"partner": batch.partner.organisation, "ids": part}))
    fresh = []
    for i, v in batch.valid:
        if v.signal_id in existing:
            out[i] = RowOutcome(
                v.signal_id, DUPLICATE, "already_stored",
                "stored earlier under this signal_id; nothing changed",
            )
        else:
            fresh.append((i, v))
    return fresh


def live_originals(
    conn: sa.Connection, batch: Batch, fresh: list[tuple[int, ValidSignal]], homes: Homes,
    today: date,
) -> dict[RepeatKey, Any]:
    """The earliest live, unexpired signal of this partner per repeat key among the fresh rows'
    households (or persons, for person-only signals)."""
    hids = {homes.household_ids[batch.hh[i]] for i, _ in fresh if i in batch.hh}
    pids = {homes.person_ids[batch.pp[i]] for i, _ in fresh if i not in batch.hh and i in batch.pp}
    types = {v.signal_type for _, v in fresh}
    originals: dict[RepeatKey, Any] = {}
    if not fresh or not (hids or pids):
        return originals
    found: list[Any] = []
    for by, ids_ in (("household", hids), ("person", pids)):
        for id_part in store.chunks(sorted(ids_)):
            found.extend(conn.execute(_LIVE_BY[by](conn), {"ids": id_part, "state": LIVE}).all())
    found.sort(key=lambda r: (r.observed_on, r.id))
    for r in found:
        if (r.partner != batch.partner.organisation or r.signal_type not in types
                or r.expires_on < today):
            continue
        if r.household_id is not None:
            okey = (r.signal_type, "h", int(r.household_id))
        elif int(r.person_id) in pids:
            okey = (r.signal_type, "p", int(r.person_id))
        else:
            continue
        originals[okey] = r
    return originals


def signal_row(batch: Batch, v: ValidSignal, hid: int | None, pid: int | None,
               now: datetime) -> dict[str, Any]:
    """The `signals` row of one valid signal (live; a merge changes state and merged_into)."""
    partner = batch.partner
    return {
        "partner": partner.organisation,
        "signal_id": v.signal_id,
        "partner_kind": partner.kind,
        "signal_type": v.signal_type,
        "purpose": v.purpose,
        "observed_on": v.observed_on,
        "household_id": hid,
        "person_id": pid,
        "area_code": v.area_code,
        "escalated": v.escalated,
        "state": LIVE,
        "merged_into": None,
        "expires_on": v.expires_on,
        "retain_until": v.expires_on,
        "catalogue_version": v.catalogue_version,
        "batch_id": batch.batch_id[:64],
        "created_at": now,
        "updated_at": now,
    }


def classify_repeats(
    batch: Batch, fresh: list[tuple[int, ValidSignal]], homes: Homes,
    originals: dict[RepeatKey, Any], now: datetime,
) -> Plan:
    """New rows, and repeats of a live signal (stored, or earlier in this batch) to merge.

    An escalated signal always counts on its own."""
    plan = Plan()
    batch_first: dict[RepeatKey, int] = {}
    for i, v in fresh:
        hid, pid = homes.household(batch, i), homes.person(batch, i)
        key: RepeatKey = (
            (v.signal_type, "h", hid) if hid is not None
            else (v.signal_type, "p", pid if pid is not None else 0)
        )
        row = signal_row(batch, v, hid, pid, now)
        target = None if v.escalated else originals.get(key)
        if target is None and not v.escalated and key in batch_first:
            target = ("batch", batch_first[key])
        if target is None:
            plan.new_rows.append((i, v, row))
            batch_first.setdefault(key, len(plan.new_rows) - 1)
        else:
            plan.merges.append((i, v, row, target))
    return plan


def write(conn: sa.Connection, plan: Plan, now: datetime) -> None:
    """Insert the new rows, insert the repeats as merged, and move each original's observed and
    expiry dates (and retention) forward to its latest repeat."""
    new_ids: list[int] = []
    if plan.new_rows:
        # Matched by signal_id (unique per partner), not by position: asking for RETURNING in
        # parameter order makes SQLAlchemy send one INSERT per row on SQLite.
        ids = {str(sid): int(i) for i, sid in _INSERT_SIGNALS.execute(
            conn, [r for _, _, r in plan.new_rows]).all()}
        new_ids = [ids[r["signal_id"]] for _, _, r in plan.new_rows]
    refresh: dict[int, tuple[date, date]] = {}
    merged_rows = []
    for _i, v, row, target in plan.merges:
        if isinstance(target, tuple) and target[0] == "batch":
            orig_id = new_ids[target[1]]
            first = plan.new_rows[target[1]][1]
            orig_obs, orig_exp = first.observed_on, first.expires_on
        else:
            orig_id = int(target.id)
            orig_obs, orig_exp = target.observed_on, target.expires_on
        prev = refresh.get(orig_id, (orig_obs, orig_exp))
        refresh[orig_id] = (max(prev[0], v.observed_on), max(prev[1], v.expires_on))
        row.update(state=MERGED, merged_into=orig_id)
        merged_rows.append(row)
    if merged_rows:
        _INSERT_MERGED.execute(conn, merged_rows)
    if refresh:
        conn.execute(_REFRESH, [{"sid": k, "obs": o, "exp": e, "exp2": e, "now": now}
                                for k, (o, e) in refresh.items()])


def audit_outcomes(
    conn: sa.Connection, batch: Batch, plan: Plan, homes: Homes, out: dict[int, RowOutcome],
) -> tuple[set[int], list[audit.AuditEvent]]:
    """Outcomes of the written rows and the households' latest area codes; returns the
    households whose standing policies must be evaluated again, and one audit event per
    subject of each row (written by the caller, with the alerts' events, in one statement)."""
    areas: dict[int, str] = {}
    affected: set[int] = set()
    events: list[audit.AuditEvent] = []
    refreshed = {i for i, _, _, _ in plan.merges}
    for i, v, row in [*plan.new_rows, *((a, b, c) for a, b, c, _ in plan.merges)]:
        hid: int | None = row["household_id"]
        if hid is not None and v.area_code:
            areas[hid] = v.area_code
        home = hid if hid is not None else homes.resolved.get(i)
        if home is not None:
            affected.add(home)
        is_refresh = i in refreshed
        out[i] = RowOutcome(
            v.signal_id, ACCEPTED,
            "refreshed" if is_refresh else ("escalated" if v.escalated else ""),
            REFRESHED_REASON if is_refresh else "",
        )
        attrs = {"partner": batch.partner.organisation, "signal_id": v.signal_id,
                 "signal_type": v.signal_type, "batch_id": batch.batch_id[:64],
                 "observed_on": v.observed_on.isoformat()}
        name = "signal_refreshed" if is_refresh else "signal_received"
        if i in batch.hh:
            events.append(audit.AuditEvent(name, v.purpose, batch.hh[i].hex(),
                                           audit.HOUSEHOLD, attrs, purpose=v.purpose))
        if i in batch.pp:
            events.append(audit.AuditEvent(name, v.purpose, batch.pp[i].hex(),
                                           audit.PERSON, attrs, purpose=v.purpose))
    store.set_area_codes(conn, areas)
    return affected, events
