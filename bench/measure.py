"""Bench hygiene shared by the benchmarks: CPU clocks, interleaved rounds, median and spread.

The development and CI machines have two cores shared with other work, so wall-clock rates
swing from run to run. Three habits keep a verdict from flipping with that noise:

- **CPU time.** Rates are computed from `time.process_time()` (this process), plus, for a
  PostgreSQL server on this machine, the CPU time of the server backends serving our
  connections (`BackendCpu`), so "per core" means what it says. Wall time is printed beside.
- **Interleaving.** The bound and the measured protocol (or the modes being compared) run in
  alternating rounds, so a slow minute slows both alike and their ratio stays put.
- **Median and spread.** Every figure is the median of several rounds, printed with the spread
  (lowest–highest) so a reader sees how much to trust it.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """One round of one measured thing: how many units of work, wall and CPU seconds."""

    units: float
    wall: float
    cpu: float


@dataclass
class Series:
    """The rounds of one measured thing."""

    samples: list[Sample] = field(default_factory=list)

    def rates(self, clock: str = "cpu") -> list[float]:
        return [s.units / getattr(s, clock) for s in self.samples if getattr(s, clock) > 0]

    def rate(self, clock: str = "cpu") -> float:
        """Median rate (units per second) over the rounds."""
        return statistics.median(self.rates(clock))

    def spread(self, clock: str = "cpu") -> tuple[float, float]:
        rates = self.rates(clock)
        return min(rates), max(rates)

    def per_unit(self, clock: str = "cpu") -> float:
        """Median seconds per unit."""
        return statistics.median(getattr(s, clock) / s.units for s in self.samples)


def fmt_rate(series: Series, clock: str = "cpu", width: int = 0) -> str:
    """`12,345 (11,900–12,800)`: the median rate and the spread of the rounds."""
    lo, hi = series.spread(clock)
    text = f"{series.rate(clock):,.0f} ({lo:,.0f}–{hi:,.0f})"
    return f"{text:>{width}}" if width else text


def interleaved(
    tasks: dict[str, Callable[[], float]], rounds: int, cpu: Callable[[], float] = time.process_time
) -> dict[str, Series]:
    """Run each task once per round, in turn, `rounds` times; a task returns its units of work.

    `cpu` is the CPU clock to read (default this process; see `BackendCpu.clock`).
    """
    out = {name: Series() for name in tasks}
    for _ in range(rounds):
        for name, task in tasks.items():
            w0, c0 = time.perf_counter(), cpu()
            units = task()
            out[name].samples.append(Sample(units, time.perf_counter() - w0, cpu() - c0))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method: the value q of all are at or below."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))  # ceil(q * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


def _process_cpu_clock(pid: int) -> int:
    """Linux's CPU-time clock id of another process (clock_getcpuclockid, CPUCLOCK_SCHED)."""
    return ((~pid) << 3) | 2


class BackendCpu:
    """CPU time of this process plus the PostgreSQL backends serving its connections.

    Works when the server runs on this machine (the backend pids are local processes); otherwise
    `available` is False and only this process is counted. Register with `watch(engine)` before
    the engine opens connections.
    """

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.available = True

    def watch(self, engine: Any) -> None:
        from sqlalchemy import event

        if engine.dialect.name != "postgresql":
            return

        @event.listens_for(engine, "connect")
        def _remember(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                self.pids.add(int(cur.fetchone()[0]))

    def _backend_seconds(self) -> float:
        total = 0.0
        for pid in list(self.pids):
            try:
                total += time.clock_gettime(_process_cpu_clock(pid))
            except OSError:
                self.available = False  # not on this machine, or gone
        return total

    def clock(self) -> float:
        return time.process_time() + self._backend_seconds()


def lines(rows: Iterable[str]) -> None:
    for row in rows:
        print(row, flush=True)


def host_note() -> str:
    """The machine the figures come from (cores and load), printed with them."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load average {load:.1f} at start"
