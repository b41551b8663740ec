"""Soak run: a steady stream of signals, inquiries and reveals for N minutes, then the count.

`make soak` (SOAK_MINUTES, default 3) or `python -m bench.soak --minutes N`. Bounded in time
and in traffic, on loopback only. It starts, as the demo does (samenloop/demo), a development
deployment with the pseudonymiser, the matcher and a gateway per partner kind as their own
processes over mTLS, and publishes the policy library (signed by two officers; standing ones
also by the reviewer). Then, every second:

- the housing corporation sends rent arrears and the municipality energy arrears, each a small
  CSV export through the gateway library (`ingest_paths`, the code `samenloop gateway ingest`
  runs), on addresses drawn from a fixed pool, so households complete the standing Wgs policy
  and alerts with reveal requests follow;
- the housing corporation sends an inquiry about an address it signalled;
- the gateways' `serve` processes answer the reveal requests as they come.

Printed per minute: files, signals and inquiries sent; p50/p95/p99 latency of an export's
ingest (read, pseudonymise, submit, answered) and of an inquiry; resident memory of every
process (sampled every 5 s: the minute's maximum). At the end: the signals stored at the
matcher per partner against the rows accepted by the gateways, and the reveal requests still
unanswered after a grace period. Exit status 0 only when nothing was lost.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROWS_PER_FILE = 20
ADDRESSES = 4000
GRACE_SECONDS = 120.0
SAMPLE_SECONDS = 5.0


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Minute:
    files: int = 0
    signals: int = 0
    inquiries: int = 0
    ingest_s: list[float] = field(default_factory=list)
    inquiry_s: list[float] = field(default_factory=list)
    rss: dict[str, int] = field(default_factory=dict)


class MemorySampler(threading.Thread):
    """RSS of every process every few seconds, kept as the maximum per minute."""

    def __init__(self, pids: dict[str, int], minutes: dict[int, Minute], start: float) -> None:
        super().__init__(daemon=True, name="soak-memory")
        self.pids, self.minutes, self.start_at = pids, minutes, start
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            minute = self.minutes[int((time.monotonic() - self.start_at) // 60)]
            for name, pid in self.pids.items():
                minute.rss[name] = max(minute.rss.get(name, 0), rss_kib(pid))


def address(n: int) -> tuple[str, int]:
    letters = "ABCEGHJKLMNPRTVWXZ"
    return f"{3000 + n // 400}{letters[(n // 20) % 18]}{letters[n % 18]}", 1 + n % 20


def write_export(path: Path, prefix: str, signal_type: str, purpose: str, rows: list[int],
                 today: date, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("signal_id,signal_type,observed_on,purpose,postcode,huisnummer\n")
        for i, n in enumerate(rows):
            postcode, number = address(n)
            observed = today - timedelta(days=rng.randrange(0, 60))
            out.write(f"{prefix}-{i},{signal_type},{observed.isoformat()},{purpose},"
                      f"{postcode},{number}\n")


def stored_signals(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {str(p): int(n) for p, n in conn.execute(
            "SELECT partner, count(*) FROM signals GROUP BY partner")}


def reveal_counts(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {str(s): int(n) for s, n in conn.execute(
            "SELECT state, count(*) FROM reveal_requests GROUP BY state")}


def soak(seconds: float, work: Path, seed: int = 1) -> bool:
    from domain.identifiers.address import parse_address
    from samenloop.demo import checks, deployment, policies
    from samenloop.demo.flow import ROLES
    from samenloop.demo.inputs import LIBRARY
    from samenloop.demo.processes import Services
    from services.common.logging import configure_logging
    from services.partner_gateway.ingest import RowReport
    from services.partner_gateway.inquiry import inquire
    from services.partner_gateway.runner import ingest_paths, parse_kind
    from services.partner_gateway.runtime import Gateway
    from services.partner_gateway.settings import load_settings

    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    configure_logging("soak", level="WARNING",
                      stream=(logs / "soak.log").open("a", encoding="utf-8"))
    rng = random.Random(seed)
    today = date.today()
    services = Services(logs)
    print(f"soak: {seconds / 60:.1f} min; work directory {work}", flush=True)
    try:
        dep = deployment.create(work)
        prepared = policies.prepare(dep, sorted(LIBRARY.glob("*.yaml")), work / "policies")
        municipality = next(p.municipality for p in prepared if p.municipality)
        matcher_cfg = deployment.write_matcher_config(dep, municipality)
        services.start("pseudonymiser", ["pseudonymiser", "serve", "--config",
                                         str(deployment.write_pseudonymiser_config(dep))])
        if services.start("matcher-migrate", ["matcher", "migrate", "--config",
                                              str(matcher_cfg)]).wait() != 0:
            raise SystemExit(f"matcher migrate failed; see {services.log('matcher-migrate')}")
        services.processes.pop("matcher-migrate", None)
        services.start("matcher", ["matcher", "serve", "--config", str(matcher_cfg)])
        matcher = f"127.0.0.1:{services.wait_port('matcher')}"
        pseudonymiser = f"127.0.0.1:{services.wait_port('pseudonymiser')}"
        configs = {kind: deployment.write_gateway_config(dep, kind, matcher=matcher,
                                                         pseudonymiser=pseudonymiser)
                   for kind in ("housing", "municipality")}
        for kind, cfg in configs.items():
            services.start(f"gateway-{kind}", ["gateway", "serve", "--config", str(cfg)])
        for kind in configs:
            services.wait_event(f"gateway-{kind}", "gateway_serving")
        policies.sign_all(dep, prepared, logs / "policy.log")
        policies.publish_all(dep, prepared, matcher, logs / "policy.log")
        database = checks.matcher_sqlite(dep)
        gateways = {kind: Gateway(load_settings(cfg)) for kind, cfg in configs.items()}
        stream = {"housing": ("huurachterstand", "wgs-vroegsignalering"),
                  "municipality": ("energie_achterstand", "wgs-vroegsignalering")}
        pids = {name: p.pid for name, p in services.processes.items()}
        pids["soak driver (gateway library)"] = os.getpid()
        minutes: dict[int, Minute] = defaultdict(Minute)
        accepted: dict[str, int] = defaultdict(int)
        signalled: list[int] = []
        start = time.monotonic()
        sampler = MemorySampler(pids, minutes, start)
        sampler.start()
        tick = 0
        print(f"{'min':>3} {'files':>6} {'signals':>8} {'inq':>5} {'ingest p50/p95/p99 ms':>23} "
              f"{'inquiry p50/p95/p99 ms':>24}  RSS MiB per process", flush=True)
        printed = 0
        while time.monotonic() - start < seconds:
            minute = minutes[int((time.monotonic() - start) // 60)]
            for kind, (signal_type, purpose) in stream.items():
                rows = [rng.randrange(ADDRESSES) for _ in range(ROWS_PER_FILE)]
                path = work / "exports" / f"{kind}-{tick:06d}.csv"
                path.parent.mkdir(exist_ok=True)
                write_export(path, f"{kind[0]}{tick}", signal_type, purpose, rows, today, rng)
                t0 = time.perf_counter()
                with (work / "exports" / "report.jsonl").open("w") as report:
                    [summary] = ingest_paths(gateways[kind], [path], parse_kind("signals"),
                                             None, RowReport(report), today)
                minute.ingest_s.append(time.perf_counter() - t0)
                minute.files += 1
                minute.signals += summary.read
                accepted[kind] += summary.read - summary.rejected
                if kind == "housing":
                    signalled.extend(rows)
                path.unlink()
            n = rng.choice(signalled)
            t0 = time.perf_counter()
            inquire(gateways["housing"], parse_address(*map(str, address(n))),
                    policy="wams-meervoudige-problematiek", reason="multiple_problems_suspected",
                    role=ROLES["housing"])
            minute.inquiry_s.append(time.perf_counter() - t0)
            minute.inquiries += 1
            tick += 1
            done = int((time.monotonic() - start) // 60)
            while printed < done:
                _print_minute(printed, minutes[printed])
                printed += 1
            crashed = services.check_running()
            if crashed:
                raise SystemExit(f"soak: a service exited: {', '.join(crashed)}")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - start) % 1.0))
        sampler.stop.set()
        sampler.join()
        while printed in minutes:
            _print_minute(printed, minutes[printed])
            printed += 1
        for gw in gateways.values():
            gw.close()
        return _verdict(database, accepted, configs)
    finally:
        services.stop_all()


def _print_minute(n: int, m: Minute) -> None:
    def p(values: list[float]) -> str:
        return "/".join(f"{percentile(values, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99))

    memory = ", ".join(f"{name} {kib / 1024:.0f}" for name, kib in sorted(m.rss.items()))
    print(f"{n + 1:>3} {m.files:>6} {m.signals:>8} {m.inquiries:>5} {p(m.ingest_s):>23} "
          f"{p(m.inquiry_s):>24}  {memory}", flush=True)


def _verdict(database: Path, accepted: dict[str, int], configs: dict[str, Path]) -> bool:
    from services.partner_gateway.settings import load_settings

    deadline = time.monotonic() + GRACE_SECONDS
    while reveal_counts(database).get("pending", 0) and time.monotonic() < deadline:
        time.sleep(1.0)
    stored = stored_signals(database)
    ok = True
    for kind, n in sorted(accepted.items()):
        org = load_settings(configs[kind]).organisation
        at_matcher = stored.get(org, 0)
        lost = n - at_matcher
        ok &= lost == 0
        print(f"{kind}: {n:,} signals accepted by the gateway, {at_matcher:,} stored at the "
              f"matcher ({'none lost' if lost == 0 else f'{lost:,} LOST'})")
    reveals = reveal_counts(database)
    pending = reveals.get("pending", 0)
    ok &= pending == 0
    print(f"reveal requests: {sum(reveals.values()):,} "
          f"({', '.join(f'{s} {n:,}' for s, n in sorted(reveals.items()))}); "
          f"{'every one answered' if pending == 0 else f'{pending:,} still pending'}")
    print(f"soak: {'PASSED' if ok else 'FAILED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a "
                        "temporary directory, removed at the end)")
    args = parser.parse_args(argv)
    seconds = max(1.0, args.minutes * 60)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return 0 if soak(seconds, args.workdir) else 1
    with tempfile.TemporaryDirectory(prefix="samenloop-soak-") as tmp:
        return 0 if soak(seconds, Path(tmp)) else 1


if __name__ == "__main__":
    sys.exit(main())
