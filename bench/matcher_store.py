"""The matcher bench's store: a signed standing policy and a bulk-loaded city of any size.

Each household holds two live signals, so N households store 2N signals (5 M households:
10 M signals). Households come in two kinds, by id:

- *primed* (`id % 4 < 2`): an energy arrear (financien) observed 30 days ago, inside the policy's
  120-day window. A new rent arrear (huisvesting) there completes the trigger: an alert.
- *unprimed*: the same energy arrear observed 150 days ago (live, outside the window). A new
  rent arrear there is evaluated and meets nothing.

The second signal is a housing nuisance report under another purpose (invisible to the policy),
except for one household in 50, whose linked person holds a person-only truancy signal instead.
One household in ten has a person linked to it (household links), so its evaluation also walks
the person signals; 98 % of all `person_id`s are NULL, the shape that made SQLite's planner
choose a full scan once statistics existed. Rows go in through the driver (COPY on PostgreSQL,
executemany on SQLite), not through the matcher: loading is not what is measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from crypto.pseudonyms import matcher_pseudonym
from crypto.signing import SigningKey
from domain.catalogue import load_catalogue
from policies.approvals import sign_policy, with_approval
from policies.model import ApprovalRole, parse_policy
from policies.trust import Officer, Trust
from services.common.db import create_engine
from services.matcher.clock import SystemClock
from services.matcher.policy_registry import PolicyRegistry
from services.matcher.service import Caller, Matcher
from services.matcher.settings import MatcherSettings, PartnerEntry

KEY_ID = "voprf:bench000000000000"
WGS = "wgs-vroegsignalering"
WAMS = "wams-gecoordineerde-aanpak"
CHUNK = 50_000


def voprf_output(kind: str, n: int) -> bytes:
    """A stand-in 64-byte VOPRF output (the matcher only HMACs it)."""
    return hashlib.sha512(f"{kind}:{n}".encode()).digest()


def is_primed(index: int) -> bool:
    return index % 4 < 2


def primed_index(j: int) -> int:
    """The j-th primed household index (0, 1, 4, 5, 8, 9, ...)."""
    return 4 * (j // 2) + j % 2


def unprimed_index(j: int) -> int:
    """The j-th unprimed household index (2, 3, 6, 7, ...)."""
    return 4 * (j // 2) + 2 + j % 2


def _policy_document(team_key: str) -> dict[str, Any]:
    return {
        "id": "bench-wgs", "version": 1, "title": "Bench vroegsignalering",
        "legal_basis": [{"citation": "Wet gemeentelijke schuldhulpverlening, art. 3 lid 3",
                         "standing": True}],
        "purpose": "Benchmark: rent arrears together with another payment arrear.",
        "processing_activity_id": "GM0599/wgs-vroegsignalering",
        "controller": "College van B&W", "mode": "standing",
        "independent_review": {"reviewer": "reviewer", "report": "bench",
                               "reviewed_on": "2026-01-01"},
        "purposes": [WGS],
        "recipient": {"team_id": "bench-team", "name": "Bench team", "public_key": team_key},
        "scope": {"municipality": "GM0599"},
        "trigger": {"window_days": 120, "min_domains": 2, "min_signals": 2,
                    "required_types": ["huurachterstand"]},
        "disclosure": {"housing": ["postcode", "huisnummer"],
                       "municipality": ["postcode", "huisnummer"]},
        "cooldown_days": 180, "retention": {"alert_days": 365},
        "valid_from": "2026-01-01", "valid_until": "2030-12-31",
    }


def matcher(url: str) -> Matcher:
    """A matcher on `url` (migrated) with the bench policy published."""
    from crypto.sealing import X25519PrivateKey

    keys = {"po-a": (SigningKey.generate(), ApprovalRole.PRIVACY_OFFICER),
            "po-b": (SigningKey.generate(), ApprovalRole.PRIVACY_OFFICER),
            "reviewer": (SigningKey.generate(), ApprovalRole.INDEPENDENT_REVIEW)}
    trust = Trust(tuple(Officer(o, role, k.verify_key, "gemeente")
                        for o, (k, role) in keys.items()))
    partners = {
        "woningcorp": PartnerEntry("woningcorp", "housing", frozenset({WGS})),
        "gemeente": PartnerEntry("gemeente", "municipality", frozenset({WGS})),
    }
    m = Matcher(
        engine=create_engine(url),
        settings=MatcherSettings(partners, frozenset({KEY_ID}), controller="gemeente"),
        signing_key=SigningKey.generate(), hmac_key=os.urandom(32),
        registry=PolicyRegistry(trust, controller="gemeente"), catalogue=load_catalogue(),
        clock=SystemClock())
    doc = _policy_document(X25519PrivateKey.generate().public_key.to_base64())
    for officer, (key, role) in keys.items():
        approval = sign_policy(parse_policy(doc), key, officer_id=officer, role=role,
                               now=datetime.now(UTC))
        doc = with_approval(doc, approval)
    m.publish_policy(Caller("gemeente", "privacy_officer"), json.dumps(doc).encode())
    return m


_SIGNAL_COLS = ("partner", "signal_id", "partner_kind", "signal_type", "purpose",
                "observed_on", "household_id", "person_id", "area_code", "escalated", "state",
                "merged_into", "expires_on", "retain_until", "catalogue_version", "batch_id",
                "created_at", "updated_at")


def _rows(hmac_key: bytes, lo: int, hi: int) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) for households lo..hi-1 (ids are index + 1)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.date()
    recent, old = today - timedelta(days=30), today - timedelta(days=150)
    yield "households", [(i + 1, matcher_pseudonym(hmac_key, voprf_output("h", i)),
                          f"{3000 + i % 100}", now) for i in range(lo, hi)]
    linked = [i for i in range(lo, hi) if i % 10 == 0]
    yield "persons", [(i // 10 + 1, matcher_pseudonym(hmac_key, voprf_output("p", i)), now)
                      for i in linked]
    yield "household_links", [("gemeente", f"link-{i}", i // 10 + 1, i + 1, date(2020, 1, 1),
                               None, now) for i in linked]
    rows = []
    for i in range(lo, hi):
        seen = recent if is_primed(i) else old
        rows.append(("gemeente", f"pre-{i}-e", "municipality", "energie_achterstand", WGS, seen,
                     i + 1, None, None, False, "live", None, seen + timedelta(days=183),
                     seen + timedelta(days=183), "2025.1", "bench", now, now))
        if i % 50 == 0:
            rows.append(("gemeente", f"pre-{i}-p", "municipality", "leerplicht_verzuim", WAMS,
                         recent, None, i // 10 + 1, None, False, "live", None,
                         recent + timedelta(days=365), recent + timedelta(days=365), "2025.1",
                         "bench", now, now))
        else:
            rows.append(("woningcorp", f"pre-{i}-n", "housing", "woonoverlast_melding", WAMS,
                         recent, i + 1, None, None, False, "live", None,
                         recent + timedelta(days=183), recent + timedelta(days=183), "2025.1",
                         "bench", now, now))
    yield "signals", rows


_COLUMNS = {
    "households": ("id", "pseudonym", "area_code", "created_at"),
    "persons": ("id", "pseudonym", "created_at"),
    "household_links": ("partner", "link_id", "person_id", "household_id", "valid_from",
                        "area_code", "created_at"),
    "signals": _SIGNAL_COLS,
}


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, date):
        return v.isoformat()
    return v


def populate(engine: sa.Engine, hmac_key: bytes, start: int, stop: int) -> None:
    """Bulk-load households start..stop-1 with their signals, persons and links."""
    postgres = engine.dialect.name == "postgresql"
    for lo in range(start, stop, CHUNK):
        hi = min(stop, lo + CHUNK)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            if not postgres:  # the engine's SQLite connections autocommit: one transaction
                cur.execute("BEGIN")
            for table, rows in _rows(hmac_key, lo, hi):
                if not rows:
                    continue
                cols = _COLUMNS[table]
                if postgres:
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" * len(cols))
                    cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                                    [tuple(_sqlite_value(v) for v in row) for row in rows])
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as conn:
        if postgres:
            for table in ("households", "persons", "signals", "household_links"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"))


def analyze(engine: sa.Engine) -> None:
    """Gather planner statistics, as a production database has them (autovacuum on
    PostgreSQL, `PRAGMA optimize` or ANALYZE on SQLite)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()


def person_query_plan(engine: sa.Engine) -> str:
    """The plan of the hot path's person-signal lookup (`store.live_signals_by_household`), one
    line: a SCAN of signals here is the plan statistics can flip (ADR 0025)."""
    columns = ("id, partner, signal_id, partner_kind, signal_type, purpose, observed_on, "
               "household_id, person_id, expires_on")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                f"EXPLAIN SELECT {columns} FROM signals "
                f"WHERE person_id = ANY('{{1,2,3}}'::bigint[])"
                " AND state = 'live'").all()
            return " / ".join(str(r[0]).split("  (")[0].strip(" ->") for r in rows
                              if "Scan" in r[0])
        rows = conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN SELECT {columns} FROM signals WHERE person_id IN (1, 2, 3) "
            "AND state = 'live'").all()
        return " / ".join(str(r[-1]) for r in rows)
