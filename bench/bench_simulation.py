"""Policy simulation over a large store: seconds per 1M households, against the household walk.

A store of N signals (default 1M; --quick 100k; --full or `--signals 10000000` for the issue's
target of 10M in < 30 s) on about N/2 households is bulk-loaded straight into the matcher's tables
(SQLite file, and PostgreSQL when reachable): debt-signal types of the Wgs purpose spread over
the past year, a few of another purpose, 5 % withdrawn, a tenth person-only signals that land
through household links (a fifth of those persons moved once). `ANALYZE` runs after the load,
as `PRAGMA optimize` / autovacuum would, so a plan that statistics flip shows here.

Measured: `services/matcher/simulation.py` (households evaluated per area, then the streaming
query over the candidates the SQL prefilter passes, the exact trigger on each) for the bench's
standing policy (rent arrears with another arrear within 120 days), as seconds in all and per
1M households and per 1M signals; and, as the baseline of the same run, the household walk it
replaces (every household id, its signals loaded per batch of 2,000, the trigger on each) on
the first `--baseline-households` households, scaled to 1M.

`make bench BENCH_ARGS="simulation --full"` (= `--signals 10000000`; loading 10M takes 20–30
minutes per database on the 2-core machine and ~4 GB of disk; `--db sqlite` for one database,
`--store FILE` to keep the SQLite store and reuse it).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.bench_matcher import _databases
from bench.matcher_store import WGS, _policy_document
from domain.catalogue import load_catalogue
from policies.model import Policy, parse_policy
from policies.simulate import summarise_counts
from policies.trigger import evaluate_trigger
from services.common.db import create_engine, migrate, read_snapshot
from services.matcher import simulation
from services.matcher.config import MIGRATIONS
from services.matcher.matching import load_households, to_fact
from services.matcher.schema import households
from services.matcher.store import live_signals_by_household

ON = date(2026, 6, 1)
WGS_TYPES = ("huurachterstand", "energie_achterstand", "drinkwater_achterstand",
             "zorgpremie_achterstand", "schuldhulp_aanvraag", "beslaglegging_inkomen",
             "uitkering_beeindigd")
RETENTION = {t.code: t.retention_days for t in load_catalogue()}
AREAS = 400


def _policy() -> Policy:
    from crypto.sealing import X25519PrivateKey

    return parse_policy(_policy_document(X25519PrivateKey.generate().public_key.to_base64()))


# --- the store ---------------------------------------------------------------------------


def _rows(signals: int, seed: int = 7) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) chunks: households, persons, links, signals, in id order."""
    rng = random.Random(seed)
    n_households = max(1, signals // 2)
    n_persons = max(1, signals // 10)
    now = "2026-06-01 00:00:00.000000"
    chunk = 50_000
    # Ids in pseudonym order and zero-padded ids: every index is filled in key order (a load of
    # random keys into SQLite's b-trees takes many times longer).
    pseudonyms = sorted(hashlib.sha256(b"h%d" % i).digest() for i in range(n_households))
    for lo in range(0, n_households, chunk):
        yield "households", [(i + 1, pseudonyms[i], f"{3000 + i % AREAS}", now)
                             for i in range(lo, min(n_households, lo + chunk))]
    pseudonyms = sorted(hashlib.sha256(b"p%d" % i).digest() for i in range(n_persons))
    for lo in range(0, n_persons, chunk):
        yield "persons", [(i + 1, pseudonyms[i], now)
                          for i in range(lo, min(n_persons, lo + chunk))]
    del pseudonyms
    links: list[tuple[Any, ...]] = []
    link_id = 0
    for p in range(n_persons):
        link_id += 1
        links.append((link_id, "gemeente", f"l{p:09d}", p + 1,
                      rng.randrange(n_households) + 1, "2020-01-01", None, now))
        if p % 5 == 0:  # moved this year
            link_id += 1
            links.append((link_id, "gemeente", f"m{p:09d}", p + 1,
                          rng.randrange(n_households) + 1,
                          (ON - timedelta(days=rng.randrange(1, 300))).isoformat(), None, now))
        if len(links) >= chunk:
            yield "household_links", links
            links = []
    if links:
        yield "household_links", links
    batch: list[tuple[Any, ...]] = []
    for i in range(signals):
        signal_type = rng.choice(WGS_TYPES)
        observed = ON - timedelta(days=rng.randrange(0, 365))
        expires = observed + timedelta(days=RETENTION[signal_type])
        on_person = i % 10 == 9
        batch.append((
            i + 1, "gemeente", f"s{i:09d}", "municipality", signal_type,
            WGS if i % 50 else "wams-gecoordineerde-aanpak", observed.isoformat(),
            None if on_person else rng.randrange(n_households) + 1,
            rng.randrange(n_persons) + 1 if on_person else None, None, False,
            "withdrawn" if i % 20 == 7 else "live", None, expires.isoformat(),
            (expires + timedelta(days=180)).isoformat(), "2025.1", "bench", now, now))
        if len(batch) >= chunk:
            yield "signals", batch
            batch = []
    if batch:
        yield "signals", batch


_COLUMNS = {
    "households": ("id", "pseudonym", "area_code", "created_at"),
    "persons": ("id", "pseudonym", "created_at"),
    "household_links": ("id", "partner", "link_id", "person_id", "household_id", "valid_from",
                        "area_code", "created_at"),
    "signals": ("id", "partner", "signal_id", "partner_kind", "signal_type", "purpose",
                "observed_on", "household_id", "person_id", "area_code", "escalated", "state",
                "merged_into", "expires_on", "retain_until", "catalogue_version", "batch_id",
                "created_at", "updated_at"),
}


def _load(engine: sa.Engine, signals: int) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":  # random-order unique keys: keep the b-trees cached
            cur.execute("PRAGMA cache_size = -1048576")
        for table, rows in _rows(signals):
            cols = _COLUMNS[table]
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
            else:  # the engine's SQLite connections autocommit: one transaction per chunk
                cur.execute("BEGIN")
                cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                f"({', '.join('?' * len(cols))})", rows)
            raw.commit()
        if engine.dialect.name == "postgresql":
            for table in _COLUMNS:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


# --- the two ways to simulate --------------------------------------------------------------


def _simulate(engine: sa.Engine, policy: Policy) -> tuple[float, float, float, int, int, int]:
    """New path: (seconds until the evaluated counts arrived, seconds streaming the
    candidates, CPU seconds of this process, households evaluated, candidates, flagged)."""
    catalogue = load_catalogue()
    with read_snapshot(engine) as conn:
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulation.simulate(conn, policy, catalogue, ON)
        evaluated = result.evaluated_by_area
        t1 = time.perf_counter()
        outcomes = [(c.area_code, c.outcome) for c in result.candidates]
        t2, c2 = time.perf_counter(), time.process_time()
    report = summarise_counts(policy, evaluated, outcomes, ON)
    return (t1 - t0, t2 - t1, c2 - c0, report.households_evaluated.value, len(outcomes),
            report.households_flagged.value)


def _walk(engine: sa.Engine, policy: Policy, limit: int) -> tuple[float, int]:
    """The household walk simulation used before ADR 0026, on the first `limit` households:
    (seconds, households walked). CPU seconds on SQLite (all work is in this process), wall
    seconds on PostgreSQL, as the new path is compared."""
    catalogue = load_catalogue()
    walked = 0
    t0 = time.process_time() if engine.dialect.name == "sqlite" else time.perf_counter()
    with engine.connect() as conn:
        last = 0
        while walked < limit:
            ids = [int(r) for (r,) in conn.execute(
                sa.select(households.c.id).where(households.c.id > last)
                .order_by(households.c.id).limit(min(2000, limit - walked)))]
            if not ids:
                break
            last = ids[-1]
            walked += len(ids)
            homes = load_households(conn, ids)
            by_household = live_signals_by_household(conn, ids, ON)
            for hid in ids:
                rows = [r for r in by_household[hid] if r.purpose in policy.purposes]
                if rows and policy.scope.covers(homes[hid].area_code or ""):
                    evaluate_trigger(policy, [to_fact(r, catalogue) for r in rows], ON)
        conn.rollback()
    t1 = time.process_time() if engine.dialect.name == "sqlite" else time.perf_counter()
    return t1 - t0, walked


def _options(quick: bool, full: bool, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench simulation")
    default = 100_000 if quick else 10_000_000 if full else 1_000_000
    parser.add_argument("--signals", type=int, default=default,
                        help="signals in the store (households: half as many)")
    parser.add_argument("--baseline-households", type=int, default=20_000 if quick else 100_000,
                        help="households the old walk visits (its time is scaled to 1M)")
    parser.add_argument("--store", type=Path,
                        help="SQLite file to keep the loaded store in and reuse when it exists "
                             "(a 10M store takes half an hour to load on the 2-core machine)")
    return parser.parse_args(argv)


def run(quick: bool, full: bool = False, db: str | None = None,
        argv: list[str] | None = None) -> None:
    """`db`: only this database (the runner's `--db`); `full`: 10M signals."""
    from services.common.logging import configure_logging

    configure_logging("bench", level="WARNING")
    opts = _options(quick, full, argv or [])
    n_households = max(1, opts.signals // 2)
    policy = _policy()
    print(f"policy simulation: {opts.signals:,} signals on {n_households:,} households "
          f"(policy {policy.id}: window {policy.trigger.window_days} days, "
          f"{policy.trigger.min_signals} signals, {policy.trigger.min_domains} domains, "
          f"required {', '.join(sorted(policy.trigger.required_types))})")
    with tempfile.TemporaryDirectory() as tmp, _databases(Path(tmp), db) as dbs:
        for name, url in dbs:
            reuse = False
            if name == "sqlite" and opts.store is not None:
                url = f"sqlite:///{opts.store.resolve()}"
                reuse = opts.store.exists()
            migrate(MIGRATIONS, url)
            engine = create_engine(url)
            t0 = time.perf_counter()
            if reuse:
                print(f"{name}: reusing the store in {opts.store}", flush=True)
            else:
                _load(engine, opts.signals)
                print(f"{name}: bulk load {time.perf_counter() - t0:.0f} s", flush=True)
            area_s, cand_s, cpu_s, evaluated, candidates, flagged = _simulate(engine, policy)
            wall = area_s + cand_s
            # SQLite runs in this process: its CPU time is the cost, whatever else the shared
            # machine does. PostgreSQL works in its own processes: wall time.
            cost = cpu_s if name == "sqlite" else wall
            walk_s, walked = _walk(engine, policy, opts.baseline_households)
            walk_per_m = walk_s / walked * 1e6
            new_per_m = cost / n_households * 1e6
            print(f"{name}: simulation {wall:.1f} s wall (evaluated counts after {area_s:.1f} s, "
                  f"candidates {cand_s:.1f} s), {cpu_s:.1f} s CPU in this process; "
                  f"{evaluated:,} households evaluated, {candidates:,} candidates, "
                  f"{flagged:,} flagged")
            unit = "CPU" if name == "sqlite" else "wall"
            print(f"{name}: {new_per_m:.1f} s {unit} per 1M households, "
                  f"{cost / opts.signals * 1e6:.1f} s per 1M signals; household walk "
                  f"{walk_per_m:.1f} s per 1M households ({walked:,} walked): "
                  f"x{walk_per_m / new_per_m:.1f}", flush=True)
            at_10m = cost / opts.signals * 10_000_000
            print(f"{name}: target < 30 s for 10M signals: "
                  f"{'met' if at_10m < 30 else 'NOT met'} "
                  f"({'measured' if opts.signals >= 10_000_000 else 'scaled'}: {at_10m:.1f} s)",
                  flush=True)
            engine.dispose()
