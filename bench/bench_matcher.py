"""Matcher ingest + match: signals/s per core at a realistic and a worst-case alert rate, cost
per signal as the store grows, statements per batch, and single-signal latency.

For each database (a SQLite file, and PostgreSQL when reachable; `--db` picks one) the store is
bulk-loaded in steps to 10k, 100k and 1M households (`--quick`: 10k and 100k; `--full`: also 5M
households with 10M signals, the national size; see `bench/matcher_store.py` for what is
stored), `ANALYZE` runs
(so a plan that statistics flip shows), and new rent-arrears signals go through
`Matcher.submit_signals` in batches of 100: validation, keyed pseudonyms, per-household locks,
duplicate and repeat checks, evaluation of the standing policy for the households touched,
alerts with signed reveal requests, audit entries. Not over gRPC.

Two modes, in interleaved rounds at each size: *realistic* (3 % of the signals land on a
household that then meets the trigger, so ~3 % create an alert) and *worst* (50 %). Each new
signal goes to a household not used before, so every alert is a new one. Rates are per CPU
second: this process plus the PostgreSQL backends serving it (`bench/measure.py`), median and
spread (lowest–highest) of the rounds; wall-clock rates are printed beside. Targets (issue 17):
>= 3,000 signals/s at the realistic rate and >= 1,500/s at the worst case, on one core, and a
cost per signal within x1.5 from the smallest to the largest store. At the largest size a
single-signal batch is timed on its own (p99 target < 5 ms on PostgreSQL at 10M signals).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import matcher_store as store
from bench.measure import BackendCpu, Series, fmt_rate, host_note, interleaved, percentile
from services.common.db import migrate
from services.matcher.config import MIGRATIONS
from services.matcher.service import Caller, Matcher
from services.matcher.validation import PseudonymIn, SignalIn

BATCH = 100
MODES = {"realistic": 0.03, "worst": 0.50}
TARGETS = {"realistic": 3000.0, "worst": 1500.0}
SCALE_BOUND = 1.5
P99_TARGET_MS = 5.0


@dataclass
class Counters:
    """Statements sent to the database, and what the measured batches did."""

    statements: int = 0
    batches: int = 0
    signals: int = 0
    alerts: int = 0
    batch_ms: list[float] = field(default_factory=list)

    def take(self) -> Counters:
        out = Counters(self.statements, self.batches, self.signals, self.alerts, self.batch_ms)
        self.statements = self.batches = self.signals = self.alerts = 0
        self.batch_ms = []
        return out


class Targets:
    """Households for new signals, each used once: primed ones (alert) and unprimed ones, drawn
    from the households loaded in this step (`lo`..`hi`-1), so none has had a new signal yet."""

    def __init__(self, lo: int, hi: int, primed: int, unprimed: int, seed: int) -> None:
        rng = random.Random(seed)
        pool = range(lo // 2, hi // 2)  # j-th primed / unprimed household, store.primed_index
        if primed > len(pool) or unprimed > len(pool):
            raise SystemExit(f"the bench needs {primed}/{unprimed} new households, "
                             f"{hi - lo} too few")
        self.primed = [store.primed_index(j) for j in rng.sample(pool, primed)]
        self.unprimed = [store.unprimed_index(j) for j in rng.sample(pool, unprimed)]
        self.rng = rng

    def draw(self, n: int, rate: float) -> list[int]:
        k = round(n * rate)
        chosen = [self.primed.pop() for _ in range(k)] + [self.unprimed.pop() for _ in range(n - k)]
        self.rng.shuffle(chosen)
        return chosen


class Run:
    """One database: the matcher, its counters and its CPU clock."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        migrate(MIGRATIONS, url)
        self.matcher: Matcher = store.matcher(url)
        self.cpu = BackendCpu()
        self.cpu.watch(self.matcher.engine)
        self.matcher.engine.dispose()  # new connections are watched
        self.counters = Counters()
        event.listen(self.matcher.engine, "before_cursor_execute", self._count)
        self.caller = Caller("woningcorp", "gateway")
        self.sent = 0

    def _count(self, *_: Any) -> None:
        self.counters.statements += 1

    def submit(self, households: list[int]) -> float:
        """Send new rent arrears to these households in batches of BATCH; returns the count."""
        today = date.today()
        for lo in range(0, len(households), BATCH):
            part = households[lo:lo + BATCH]
            rows = []
            for target in part:
                self.sent += 1
                rows.append(SignalIn(
                    signal_id=f"new-{self.sent}", signal_type="huurachterstand",
                    observed_on=(today - timedelta(days=1 + self.sent % 30)).isoformat(),
                    purpose=store.WGS,
                    household=PseudonymIn(store.voprf_output("h", target), store.KEY_ID),
                    person=None, escalated=False, area_code="", catalogue_version="2025.1"))
            t0 = time.perf_counter()
            result = self.matcher.submit_signals(self.caller, f"bench-{self.sent}", rows)
            self.counters.batch_ms.append((time.perf_counter() - t0) * 1000)
            self.counters.batches += 1
            self.counters.signals += len(part)
            self.counters.alerts += result.alerts_created
        return float(len(households))


@dataclass
class ModeResult:
    series: Series
    statements_per_batch: float
    alert_rate: float
    p50_ms: float
    p99_ms: float
    server_share: float  # of the CPU time, the PostgreSQL backends' part


def _measure_modes(run: Run, targets: Targets, rounds: int, per_round: int
                   ) -> dict[str, ModeResult]:
    per_mode: dict[str, Counters] = {m: Counters() for m in MODES}
    server = {m: 0.0 for m in MODES}

    def task(mode: str) -> Callable[[], float]:
        def go() -> float:
            run.counters.take()
            s0 = run.cpu.clock() - time.process_time()
            units = run.submit(targets.draw(per_round, MODES[mode]))
            server[mode] += run.cpu.clock() - time.process_time() - s0
            got = run.counters.take()
            acc = per_mode[mode]
            acc.statements += got.statements
            acc.batches += got.batches
            acc.signals += got.signals
            acc.alerts += got.alerts
            acc.batch_ms.extend(got.batch_ms)
            return units
        return go

    run.submit(targets.draw(BATCH, MODES["realistic"]))  # warm caches and the pool
    series = interleaved({m: task(m) for m in MODES}, rounds, cpu=run.cpu.clock)
    return {
        m: ModeResult(series[m], c.statements / c.batches, c.alerts / c.signals,
                      statistics.median(c.batch_ms), percentile(c.batch_ms, 0.99),
                      server[m] / sum(s.cpu for s in series[m].samples))
        for m, c in per_mode.items()
    }


def _single_signal(run: Run, targets: Targets, n: int) -> tuple[float, float, float]:
    """p50 and p99 wall ms, and p99 CPU ms, of one-signal batches (realistic mix)."""
    wall, cpu = [], []
    for target in targets.draw(n, MODES["realistic"]):
        w0, c0 = time.perf_counter(), run.cpu.clock()
        run.submit([target])
        cpu.append((run.cpu.clock() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return statistics.median(wall), percentile(wall, 0.99), percentile(cpu, 0.99)


@contextmanager
def _databases(tmp: Path, only: str | None) -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of the databases to measure: a SQLite file, and a private schema on the
    suite's PostgreSQL when it is reachable; `only` keeps one of them."""
    dbs = []
    if only in (None, "sqlite"):
        dbs.append(("sqlite", f"sqlite:///{tmp / 'bench-matcher.sqlite'}"))
    schema_cm = None
    if only in (None, "postgresql"):
        from tests.support.databases import _postgres_unavailable_reason, postgres_schema_url

        if _postgres_unavailable_reason() is None:
            schema_cm = postgres_schema_url()
            dbs.append(("postgresql", schema_cm.__enter__()))
        else:
            print("  (PostgreSQL not reachable: its rows are skipped)")
    try:
        yield dbs
    finally:
        if schema_cm is not None:
            schema_cm.__exit__(None, None, None)


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def run(quick: bool, full: bool = False, db: str | None = None) -> None:
    from services.common.logging import configure_logging

    configure_logging("bench", level="WARNING")
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    if full:
        sizes = [10_000, 100_000, 1_000_000, 5_000_000]
    rounds = 3 if quick else 5
    per_round = 300 if quick else 600
    singles = 100 if quick else 400
    print(f"ingest + match through Matcher.submit_signals (store path, no gRPC), batches of "
          f"{BATCH}; {rounds} interleaved rounds of {per_round} signals per mode and size; "
          f"{host_note()}")
    print("signals/s per CPU second (this process + PostgreSQL backends): median (lowest–highest)"
          " of the rounds; wall-clock median beside; db CPU: the backends' share of the CPU")
    head = (f"{'db':<11}{'households':>11}{'signals':>11} {'mode':<10}{'signals/s CPU':>26}"
            f"{'wall/s':>8}{'alerts':>8}{'stmts/batch':>12}{'p50/p99 ms':>13}{'db CPU':>8}")
    with tempfile.TemporaryDirectory() as tmp, _databases(Path(tmp), db) as dbs:
        for name, url in dbs:
            run_ = Run(name, url)
            engine = run_.matcher.engine
            loaded = 0
            cost: dict[str, list[float]] = {m: [] for m in MODES}
            last: dict[str, ModeResult] = {}
            print(head, flush=True)
            for i, size in enumerate(sizes):
                t0 = time.perf_counter()
                store.populate(engine, run_.matcher._hmac_key, loaded, size)
                previous, loaded = loaded, size
                t1 = time.perf_counter()
                store.analyze(engine)
                t2 = time.perf_counter()
                plan = store.person_query_plan(engine)
                last_size = i == len(sizes) - 1
                need = {m: round(per_round * rate) for m, rate in MODES.items()}
                extra = BATCH + (singles if last_size else 0)  # warm-up batch, single signals
                targets = Targets(
                    previous, size, primed=rounds * sum(need.values()) + extra,
                    unprimed=rounds * sum(per_round - n for n in need.values()) + extra, seed=i)
                results = _measure_modes(run_, targets, rounds, per_round)
                for mode, r in results.items():
                    cost[mode].append(r.series.per_unit())
                    last[mode] = r
                    print(f"{name:<11}{size:>11,}{2 * size:>11,} {mode:<10}"
                          f"{fmt_rate(r.series, width=26)}{r.series.rate('wall'):>8,.0f}"
                          f"{r.alert_rate:>8.1%}{r.statements_per_batch:>12.1f}"
                          f"{r.p50_ms:>6.1f}/{r.p99_ms:<6.1f}{r.server_share:>8.0%}", flush=True)
                print(f"{'':<11}(bulk load {t1 - t0:.0f} s, ANALYZE {t2 - t1:.1f} s; "
                      f"person-signal lookup after ANALYZE: {plan})", flush=True)
                if last_size:
                    p50, p99, cpu99 = _single_signal(run_, targets, singles)
                    ok = p99 < P99_TARGET_MS
                    print(f"{name:<11} single-signal batch at {size:,} households "
                          f"({2 * size:,} signals), {singles} calls: wall p50 {p50:.2f} ms, "
                          f"p99 {p99:.2f} ms, CPU p99 {cpu99:.2f} ms "
                          f"({_verdict(ok)} p99 < {P99_TARGET_MS:.0f} ms)", flush=True)
            for mode in MODES:
                r = last[mode]
                rate = r.series.rate()
                ratio = cost[mode][-1] / cost[mode][0]
                print(f"{name:<11} {mode}: {rate:,.0f} signals/s per CPU second at "
                      f"{sizes[-1]:,} households = {rate / TARGETS[mode]:.2f}x the target "
                      f"{TARGETS[mode]:,.0f} ({_verdict(rate >= TARGETS[mode])}); cost per "
                      f"signal {sizes[-1]:,} vs {sizes[0]:,} households: x{ratio:.2f} "
                      f"({_verdict(ratio <= SCALE_BOUND)} x{SCALE_BOUND})", flush=True)
            if not run_.cpu.available:
                print(f"{name:<11} (PostgreSQL backends not on this machine: CPU is the "
                      "client's only)")
            engine.dispose()
