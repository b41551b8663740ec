"""The Merkle audit log at a million entries: appending (sequencing), inclusion and
consistency proofs, on SQLite and PostgreSQL (ADR 0022).

`python -m bench auditlog [--size N] [--quick] [--db sqlite|postgresql]` (default N =
1,000,000; --quick 100,000).

1. Bulk-load N entries into `audit_events` (as rows the matcher wrote; the insert trigger
   queues them), then time the sequencer appending all of them: leaf hashes, complete-subtree
   nodes, a signed checkpoint every 1,000 entries. Bound: the same hashing in memory.
2. Steady state at N: entries written through `audit.write` in transactions of 10 and
   sequenced right after, per entry.
3. Inclusion proofs for random leaves of the tree of N (p50 / p99), each verified against the
   signed root; next to it, one proof recomputed from the N leaf hashes in memory (what
   storing the complete subtrees avoids).
4. Consistency proofs from random earlier sizes to N (p50 / p99), each verified.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crypto.checkpoint import NoteSigner
from crypto.jcs import canonical_bytes
from crypto.merkle import (
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from crypto.signing import SigningKey
from domain.catalogue import load_catalogue
from policies.trust import Trust
from services.common.db import create_engine, migrate
from services.matcher import audit, logboek, tree_store
from services.matcher.clock import SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.core import MatcherCore
from services.matcher.policy_registry import PolicyRegistry
from services.matcher.settings import AuditLogSettings, MatcherSettings

DEFAULT_SIZE = 1_000_000
QUICK_SIZE = 100_000
PROOFS = 500
LOAD_CHUNK = 10_000


_Log = MatcherCore  # the log needs only the core: engine, clock, settings, checkpoint key


def _log(url: str) -> _Log:
    settings = MatcherSettings(partners={}, accepted_key_ids=frozenset(),
                               audit_log=AuditLogSettings(checkpoint_every_entries=1000))
    return MatcherCore(
        engine=create_engine(url), settings=settings, signing_key=SigningKey.generate(),
        hmac_key=secrets.token_bytes(32), registry=PolicyRegistry(Trust(()), controller=""),
        catalogue=load_catalogue(), clock=SystemClock(),
        checkpoint_signer=NoteSigner("bench.example/audit", SigningKey.generate()))


COLUMNS = ("trace_id", "span_id", "parent_span_id", "name", "start_time", "end_time",
           "status_code", "actor_organisation", "actor_role", "processing_activity_id",
           "data_subject_id", "data_subject_id_type", "foreign_operation", "attributes", "leaf",
           "foreign_span_id", "foreign_processor", "purpose", "policy_id", "policy_version",
           "policy_digest", "entry_format")


def _row(i: int, now: datetime) -> dict[str, Any]:
    """An entry as `audit.write` stores it (the leaf is its RFC 8785 document)."""
    row: dict[str, Any] = {
        "trace_id": f"{i:032x}", "span_id": f"{i:016x}", "parent_span_id": f"{i:016x}",
        "name": "signal_received", "start_time": now, "end_time": now, "status_code": "OK",
        "actor_organisation": "woonstad-rotterdam", "actor_role": "gateway",
        "processing_activity_id": "GM0599/wgs-vroegsignalering",
        "data_subject_id": hashlib.sha256(i.to_bytes(8, "big")).hexdigest(),
        "data_subject_id_type": audit.HOUSEHOLD, "foreign_operation": "",
        "attributes": {"partner": "woonstad-rotterdam", "signal_id": f"s-{i}"},
        "foreign_span_id": "", "foreign_processor": "", "purpose": "wgs-vroegsignalering",
        "policy_id": "", "policy_version": None, "policy_digest": "",
        "entry_format": logboek.FORMAT}
    row["leaf"] = canonical_bytes(audit.entry_document(row))
    return row


def _load(log: _Log, n: int) -> float:
    """Bulk insert n entries through the driver (the benchmark is the sequencer, not this);
    the first row is made as `audit.write` makes it, the rest copy its shape."""
    now = datetime.now(UTC).replace(tzinfo=None)
    template = _row(0, now)
    first = template["leaf"].decode()
    fixed = [template[c] for c in COLUMNS]
    stamp = now.isoformat(sep=" ", timespec="microseconds")
    fixed[4] = fixed[5] = stamp
    fixed[13] = json.dumps(template["attributes"])
    with log.engine.connect() as probe:
        marker = "?" if probe.dialect.name == "sqlite" else "%s"
    sql = (f"INSERT INTO audit_events ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join([marker] * len(COLUMNS))})")
    started = time.perf_counter()
    for lo in range(0, n, LOAD_CHUNK):
        batch = []
        for i in range(lo, min(n, lo + LOAD_CHUNK)):
            subject = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
            values = list(fixed)
            values[0], values[10] = f"{i:032x}", subject
            values[14] = first.replace(fixed[0], values[0]).replace(template["data_subject_id"],
                                                                     subject).encode()
            batch.append(tuple(values))
        with log.engine.begin() as conn:
            conn.exec_driver_sql(sql, batch)
    return time.perf_counter() - started


def _hashing_bound(n: int) -> float:
    """Seconds to hash n leaves of ~450 bytes and their n - 1 inner nodes in memory."""
    sample = min(n, 200_000)
    data = [secrets.token_bytes(450) for _ in range(1000)]
    started = time.perf_counter()
    h = b""
    for i in range(sample):
        h = leaf_hash(data[i % 1000])
        h = node_hash(h, h)
    return (time.perf_counter() - started) * n / sample


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(len(ordered) * 0.99)] * 1e3


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _bench(name: str, url: str, n: int) -> None:
    migrate(MIGRATIONS, url)
    log = _log(url)
    try:
        load_s = _load(log, n)
        seq_s, run = _timed(log.sequence_audit_log)
        bound_s = _hashing_bound(n)
        print(f"{name:<11} append (sequence) {n:,} entries: {n / seq_s:,.0f} entries/s "
              f"({seq_s / n * 1e6:,.0f} us/entry, {seq_s:.0f} s; bulk insert took {load_s:.0f} "
              f"s); bound, the hashing alone: {n / bound_s:,.0f} entries/s "
              f"({bound_s / seq_s:.0%} of the time)", flush=True)
        size = run.head.size
        assert size == n, (size, n)

        steady: list[float] = []
        for _ in range(50):
            events = [audit.AuditEvent("signal_received", "GM0599/wgs-vroegsignalering",
                                       secrets.token_hex(32), audit.HOUSEHOLD,
                                       {"partner": "woonstad-rotterdam"}) for _ in range(10)]
            t, _ = _timed(lambda events=events: (_write(log, events), log.sequence_audit_log()))
            steady.append(t / 10)
        p50, p99 = _percentiles(steady)
        print(f"{name:<11} steady state at {n:,}: write + sequence {p50 * 1e3:,.0f} us/entry "
              f"p50, {p99 * 1e3:,.0f} us p99 (transactions of 10 entries)", flush=True)

        with log.engine.connect() as conn:
            head = tree_store.tree_head(conn)
            indexes = [random.randrange(head.size) for _ in range(PROOFS)]
            samples = []
            for index in indexes:
                t, proof = _timed(lambda i=index: tree_store.inclusion_proof(conn, i, head.size))
                samples.append(t)
                digest = conn.execute(sa.text("SELECT leaf_hash FROM audit_leaves "
                                              "WHERE leaf_index = :i"), {"i": index}).scalar_one()
                verify_inclusion(bytes(digest), index, head.size, proof, head.root)
            p50, p99 = _percentiles(samples)
            hashes = [bytes(h) for h in conn.execute(sa.text(
                "SELECT leaf_hash FROM audit_leaves ORDER BY leaf_index")).scalars()]
            memory_s, _ = _timed(lambda: inclusion_proof(hashes, indexes[0]))
            print(f"{name:<11} inclusion proof at {head.size:,}: {p50:.2f} ms p50, {p99:.2f} ms "
                  f"p99 ({len(proof)} hashes, all {PROOFS} verified); recomputed from the leaf "
                  f"hashes in memory instead: {memory_s * 1e3:,.0f} ms", flush=True)
            samples = []
            for _ in range(PROOFS):
                old = random.randrange(1, head.size)
                t, proof = _timed(lambda m=old: tree_store.consistency_proof(conn, m, head.size))
                samples.append(t)
                verify_consistency(old, head.size, proof, tree_store.root_at(conn, old),
                                   head.root)
            p50, p99 = _percentiles(samples)
            print(f"{name:<11} consistency proof to {head.size:,}: {p50:.2f} ms p50, "
                  f"{p99:.2f} ms p99 (all {PROOFS} verified)", flush=True)
    finally:
        log.engine.dispose()


def _write(log: _Log, events: list[audit.AuditEvent]) -> None:
    with log.engine.begin() as conn:
        audit.write(conn, audit.Actor.system("bench"), events, log.clock.now())


def run(quick: bool, size: int | None = None, db: str | None = None) -> None:
    from bench.bench_matcher import _databases
    from services.common.logging import configure_logging

    configure_logging("bench", level="WARNING")
    n = size or (QUICK_SIZE if quick else DEFAULT_SIZE)
    print(f"audit log: append, inclusion and consistency proofs at {n:,} entries")
    with tempfile.TemporaryDirectory() as tmp, _databases(Path(tmp), db) as dbs:
        for name, url in dbs:
            _bench(name, url, n)
