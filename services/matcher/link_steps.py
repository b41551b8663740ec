"""The steps of SubmitHouseholdLinks, in the order `IngestUseCases.submit_household_links` runs
them.

validate → pseudonymise → lock the persons and their households, old and new → find links
stored before → plan the new rows and their audit entries → write → audit → evaluate
(`matching.evaluate_standing`, for the households a person joins and leaves). The steps taking a
connection run inside the batch's one transaction, so the locks are held until it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.matcher import audit, batch_steps, store
from services.matcher.schema import household_links, households
from services.matcher.validation import LinkIn, PseudonymIn, Rejection, ValidLink
from services.matcher.views import ACCEPTED, DUPLICATE, RowOutcome


def validate(
    rows: Sequence[LinkIn], check: Callable[[LinkIn], ValidLink | Rejection]
) -> tuple[list[RowOutcome | None], list[tuple[int, ValidLink]]]:
    return batch_steps.validate(rows, check, "link_id")


@dataclass
class Keys:
    """The keyed pseudonyms of the valid rows, by position."""

    person: dict[int, bytes]
    household: dict[int, bytes]


def pseudonymise(valid: Sequence[tuple[int, ValidLink]],
                 keyed: Callable[[PseudonymIn], bytes]) -> Keys:
    return Keys({i: keyed(v.person) for i, v in valid},
                {i: keyed(v.household) for i, v in valid})


@dataclass
class Locked:
    person_ids: dict[bytes, int]
    household_ids: dict[bytes, int]
    before: Mapping[int, Sequence[Any]]
    """person id -> the links it had before this batch."""


def lock_subjects(conn: sa.Connection, keys: Keys, now: datetime) -> Locked:
    """Lock the persons, the households they join and the households they had before."""
    person_ids = store.lock_persons(conn, keys.person.values(), now)
    before = store.links_of_persons(conn, person_ids.values())
    old_hids = {link.household_id for links in before.values() for link in links}
    old_keys = [
        bytes(p)
        for part in store.chunks(sorted(old_hids))
        for (p,) in conn.execute(
            sa.select(households.c.pseudonym).where(households.c.id.in_(part)))
    ]
    household_ids = store.lock_households(conn, [*keys.household.values(), *old_keys], now)
    return Locked(person_ids, household_ids, before)


def stored_link_ids(conn: sa.Connection, partner: str,
                    valid: Sequence[tuple[int, ValidLink]]) -> set[str]:
    """The link ids of this batch the partner sent before."""
    existing: set[str] = set()
    for part in store.chunks([v.link_id for _, v in valid]):
        existing.update(str(x) for (x,) in conn.execute(
            sa.select(household_links.c.link_id).where(
                household_links.c.partner == partner,
                household_links.c.link_id.in_(part))))
    return existing


@dataclass
class Plan:
    out: dict[int, RowOutcome] = field(default_factory=dict)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    events: list[audit.AuditEvent] = field(default_factory=list)
    areas: dict[int, str] = field(default_factory=dict)
    affected: set[int] = field(default_factory=set)
    """Households whose members changed: evaluated after the write."""


def plan(partner: str, purpose: str, valid: Sequence[tuple[int, ValidLink]], keys: Keys,
         locked: Locked, existing: set[str], now: datetime) -> Plan:
    """The rows to insert, each row's outcome, and an audit entry per person and household."""
    p = Plan()
    for i, v in valid:
        if v.link_id in existing:
            p.out[i] = RowOutcome(v.link_id, DUPLICATE, "already_stored",
                                  "stored earlier under this link_id; nothing changed")
            continue
        pid, hid = locked.person_ids[keys.person[i]], locked.household_ids[keys.household[i]]
        p.inserts.append({"partner": partner, "link_id": v.link_id, "person_id": pid,
                          "household_id": hid, "valid_from": v.valid_from,
                          "area_code": v.area_code, "created_at": now})
        if v.area_code:
            p.areas[hid] = v.area_code
        p.affected.add(hid)
        p.affected.update(link.household_id for link in locked.before.get(pid, []))
        p.out[i] = RowOutcome(v.link_id, ACCEPTED)
        attrs = {"partner": partner, "link_id": v.link_id,
                 "valid_from": v.valid_from.isoformat()}
        p.events.append(audit.AuditEvent("household_link_received", purpose,
                                         keys.person[i].hex(), audit.PERSON, attrs,
                                         purpose=purpose))
        p.events.append(audit.AuditEvent("household_link_received", purpose,
                                         keys.household[i].hex(), audit.HOUSEHOLD, attrs,
                                         purpose=purpose))
    return p


def write(conn: sa.Connection, p: Plan) -> None:
    if p.inserts:
        conn.execute(sa.insert(household_links), p.inserts)
    store.set_area_codes(conn, p.areas)
