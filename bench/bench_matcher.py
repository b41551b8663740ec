"""Matcher ingest + match throughput and per-batch latency at 10k, 100k and 1M households.

For each database (SQLite file, and PostgreSQL when reachable) the store is grown in steps
(bulk-loaded directly: households with one live signal each, a tenth with a person link), and
at each size 2,000 new signals go through the matcher's submission and matching path
(`Matcher.submit_signals`: validation, keyed pseudonyms, per-household locks, duplicate and
repeat checks, incremental evaluation of a standing policy, alerts with signed reveal
requests, audit entries) in batches of 100. Not over gRPC: this measures the store and the
matching, whose cost per signal must not grow with the number of households stored.

The new signals (rent arrears) go to random existing households; half of those already hold
an energy arrear, so about half of the new signals complete the trigger and create an alert
(with two signed reveal requests and its audit entries). Prints throughput and p50/p99 batch
latency, and the ratio of the cost per signal at the largest size to the smallest (flat: ~1).
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crypto.signing import SigningKey
from domain.catalogue import load_catalogue
from policies.approvals import sign_policy, with_approval
from policies.model import ApprovalRole, parse_policy
from policies.trust import Officer, Trust
from services.common.db import create_engine, migrate
from services.matcher.clock import SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.policy_registry import PolicyRegistry
from services.matcher.service import Caller, Matcher
from services.matcher.settings import MatcherSettings, PartnerEntry
from services.matcher.validation import PseudonymIn, SignalIn

KEY_ID = "voprf:bench000000000000"
WGS = "wgs-vroegsignalering"
BATCH = 100
SIGNALS = 2000


def _output(kind: str, n: int) -> bytes:
    """A stand-in 64-byte VOPRF output (the matcher only HMACs it)."""
    return hashlib.sha512(f"{kind}:{n}".encode()).digest()


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


def _signed_policy(keys: dict[str, tuple[SigningKey, ApprovalRole]]) -> dict[str, Any]:
    from crypto.sealing import X25519PrivateKey

    doc = _policy_document(X25519PrivateKey.generate().public_key.to_base64())
    for officer, (key, role) in keys.items():
        approval = sign_policy(parse_policy(doc), key, officer_id=officer, role=role,
                               now=datetime.now(UTC))
        doc = with_approval(doc, approval)
    return doc


def _matcher(url: str) -> Matcher:
    keys = {"po-a": (SigningKey.generate(), ApprovalRole.PRIVACY_OFFICER),
            "po-b": (SigningKey.generate(), ApprovalRole.PRIVACY_OFFICER),
            "reviewer": (SigningKey.generate(), ApprovalRole.INDEPENDENT_REVIEW)}
    trust = Trust(tuple(Officer(o, role, k.verify_key, "gemeente")
                        for o, (k, role) in keys.items()))
    partners = {
        "woningcorp": PartnerEntry("woningcorp", "housing", frozenset({WGS})),
        "gemeente": PartnerEntry("gemeente", "municipality", frozenset({WGS})),
    }
    matcher = Matcher(
        engine=create_engine(url), settings=MatcherSettings(partners, frozenset({KEY_ID}),
                                                         controller="gemeente"),
        signing_key=SigningKey.generate(), hmac_key=os.urandom(32),
        registry=PolicyRegistry(trust, controller="gemeente"), catalogue=load_catalogue(),
        clock=SystemClock())
    doc = _signed_policy(keys)
    import json

    matcher.publish_policy(Caller("gemeente", "privacy_officer"), json.dumps(doc).encode())
    return matcher


def _populate(matcher: Matcher, start: int, stop: int) -> None:
    """Bulk-load households start..stop-1, every other one with a live arrears signal
    (energy), every tenth with a person link; straight into the tables."""
    from crypto.pseudonyms import matcher_pseudonym

    hmac_key = matcher._hmac_key
    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.date()
    chunk = 20_000
    for lo in range(start, stop, chunk):
        hi = min(stop, lo + chunk)
        hh = [{"id": i + 1, "pseudonym": matcher_pseudonym(hmac_key, _output("h", i)),
               "area_code": f"{3000 + i % 100}", "created_at": now} for i in range(lo, hi)]
        pp = [{"id": i // 10 + 1, "pseudonym": matcher_pseudonym(hmac_key, _output("p", i)),
               "created_at": now} for i in range(lo, hi) if i % 10 == 0]
        observed = today - timedelta(days=30)
        ss = [{"partner": "gemeente", "signal_id": f"pre-{i}", "partner_kind": "municipality",
               "signal_type": "energie_achterstand", "purpose": WGS, "observed_on": observed,
               "household_id": i + 1, "person_id": None, "area_code": None,
               "escalated": False, "state": "live", "merged_into": None,
               "expires_on": observed + timedelta(days=183),
               "retain_until": observed + timedelta(days=183), "catalogue_version": "2025.1",
               "batch_id": "bench", "created_at": now, "updated_at": now}
              for i in range(lo, hi) if i % 2 == 0]
        ll = [{"partner": "gemeente", "link_id": f"link-{i}", "person_id": i // 10 + 1,
               "household_id": i + 1, "valid_from": date(2020, 1, 1), "area_code": None,
               "created_at": now} for i in range(lo, hi) if i % 10 == 0]
        from services.matcher.schema import household_links, households, persons, signals

        with matcher.engine.begin() as conn:
            conn.execute(sa.insert(households), hh)
            if pp:
                conn.execute(sa.insert(persons), pp)
            conn.execute(sa.insert(signals), ss)
            if ll:
                conn.execute(sa.insert(household_links), ll)
    if matcher.engine.dialect.name == "postgresql":
        with matcher.engine.begin() as conn:
            for table in ("households", "persons", "signals", "household_links"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"))
            conn.execute(sa.text("ANALYZE"))


def _measure(matcher: Matcher, size: int, round_no: int) -> dict[str, float]:
    rng = random.Random(size)
    caller = Caller("woningcorp", "gateway")
    today = date.today()
    latencies = []
    created = 0
    started = time.perf_counter()
    for b in range(SIGNALS // BATCH):
        rows = []
        for j in range(BATCH):
            target = rng.randrange(size)
            rows.append(SignalIn(
                signal_id=f"r{round_no}-{b}-{j}", signal_type="huurachterstand",
                observed_on=(today - timedelta(days=rng.randrange(1, 60))).isoformat(),
                purpose=WGS, household=PseudonymIn(_output("h", target), KEY_ID), person=None,
                escalated=False, area_code="", catalogue_version="2025.1"))
        t0 = time.perf_counter()
        result = matcher.submit_signals(caller, f"bench-{round_no}-{b}", rows)
        latencies.append(time.perf_counter() - t0)
        created += result.alerts_created
    total = time.perf_counter() - started
    latencies.sort()
    return {
        "signals_per_s": SIGNALS / total,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "us_per_signal": total / SIGNALS * 1e6,
        "alerts": created,
    }


@contextmanager
def _databases(tmp: Path) -> Iterator[list[tuple[str, str]]]:
    dbs = [("sqlite", f"sqlite:///{tmp / 'bench-matcher.sqlite'}")]
    schema_cm = None
    try:
        from tests.support.databases import _postgres_unavailable_reason, postgres_schema_url

        if _postgres_unavailable_reason() is None:
            schema_cm = postgres_schema_url()
            dbs.append(("postgresql", schema_cm.__enter__()))
        else:
            print("  (PostgreSQL not reachable: its rows are skipped)")
    except ImportError:
        pass
    try:
        yield dbs
    finally:
        if schema_cm is not None:
            schema_cm.__exit__(None, None, None)


def run(quick: bool) -> None:
    from services.common.logging import configure_logging

    configure_logging("bench", level="WARNING")
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    print(f"ingest + match of {SIGNALS} signals in batches of {BATCH} (store path, no gRPC)")
    print(f"{'db':<11}{'households':>11}{'signals/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'us/signal':>11}{'alerts':>8}")
    with tempfile.TemporaryDirectory() as tmp, _databases(Path(tmp)) as dbs:
        for name, url in dbs:
            migrate(MIGRATIONS, url)
            matcher = _matcher(url)
            loaded = 0
            per_signal = []
            for round_no, size in enumerate(sizes):
                t0 = time.perf_counter()
                _populate(matcher, loaded, size)
                load_s = time.perf_counter() - t0
                loaded = size
                m = _measure(matcher, size, round_no)
                per_signal.append(m["us_per_signal"])
                print(f"{name:<11}{size:>11,}{m['signals_per_s']:>11,.0f}{m['p50_ms']:>9.1f}"
                      f"{m['p99_ms']:>9.1f}{m['us_per_signal']:>11,.0f}{m['alerts']:>8.0f}"
                      f"   (bulk load {load_s:.0f} s)", flush=True)
            ratio = per_signal[-1] / per_signal[0]
            print(f"{name:<11} cost per signal at {sizes[-1]:,} vs {sizes[0]:,} households: "
                  f"x{ratio:.2f} (flat is ~1; bound x2)", flush=True)
            matcher.engine.dispose()
