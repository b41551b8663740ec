"""The gateway end to end: a CSV on disk to signals accepted at the matcher.

100k signals (10k with --quick, `--rows N` for another size), each with two identifiers (a BSN
and an address), are ingested by `samenloop gateway ingest` as its own process, against a
pseudonymiser and a matcher that run as their own processes over loopback mTLS, as in
production. Reported: signals/s and VOPRF elements/s of the gateway; the in-process VOPRF
throughput (blind, evaluate, prove, verify, unblind in one process, batches of 1000) measured
just before and just after the ingest, and the ratio to their mean (target >= 0.5); the CPU
seconds of each process, and the CPU per element of gateway + pseudonymiser against the
protocol in one thread (a figure the machine's load hardly moves); the peak resident memory of
each process (ru_maxrss / VmHWM). The services start from the configurations
`pki dev-setup` writes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
import yaml

from bench.bench_crypto import _best
from crypto import keys, oprf
from crypto.devsetup import dev_setup
from crypto.pseudonyms import voprf_input
from services.common.db import migrate
from services.matcher.config import MIGRATIONS
from tests.support.processes import start_server_process

ORG = "woonstad-rotterdam"
LETTERS = "ABCEGHJKLMNPRTVWXYZD"  # no S: SA, SD and SS are not used in Dutch postcodes


def _in_process_rate(sk: oprf.Scalar, batch: int, repeats: int) -> float:
    server = oprf.VoprfServer(sk)
    client = oprf.VoprfClient(server.public_key)
    inputs = [voprf_input("person", f"{i:09d}") for i in range(batch)]

    def once() -> None:
        blinded = client.blind_batch(inputs)
        evaluated, proof = server.evaluate_batch(blinded.wire())
        client.finalize(blinded, evaluated, proof)

    return batch / _best(once, repeats)


def _bsn(n: int) -> str:
    weights = (9, 8, 7, 6, 5, 4, 3, 2)
    candidate = 10_000_000 + n * 3
    while True:
        digits = f"{candidate:08d}"
        check = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        if check < 10:
            return digits + str(check)
        candidate += 1


def _export(path: Path, rows: int) -> None:
    """Distinct households and persons, so every row is accepted (no refresh merges)."""
    with path.open("w") as out:
        out.write("signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer\n")
        seen: set[str] = set()
        n = 0
        for i in range(rows):
            bsn = _bsn(n)
            while bsn in seen:
                n += 1
                bsn = _bsn(n)
            seen.add(bsn)
            n += 1
            postcode = f"{1000 + i // 2000}{LETTERS[(i // 80) % 20]}{LETTERS[(i // 3) % 20]}"
            out.write(f"b-{i:07d},huurachterstand,2026-11-20,wgs-vroegsignalering,{bsn},"
                      f"{postcode},{1 + i % 80}\n")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _in_process_cpu(sk: oprf.Scalar, batch: int, repeats: int) -> float:
    """CPU seconds per element of the whole protocol in one thread (best of `repeats`)."""
    server = oprf.VoprfServer(sk)
    client = oprf.VoprfClient(server.public_key)
    inputs = [voprf_input("person", f"{i:09d}") for i in range(batch)]
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        blinded = client.blind_batch(inputs)
        evaluated, proof = server.evaluate_batch(blinded.wire())
        client.finalize(blinded, evaluated, proof)
        best = min(best, time.process_time() - started)
    return best / batch


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _configs(pki: Path, work: Path) -> tuple[Path, Path, Path]:
    """dev-setup's configurations, on free ports, with throughput-sized quotas."""
    from crypto.devsetup import read_manifest
    from samenloop.deploy_configs import write_deployment

    write_deployment(pki, read_manifest(pki))
    pseudonymiser = yaml.safe_load((pki / "pseudonymiser.yaml").read_text())
    pseudonymiser.update(bind="127.0.0.1:0", organisations={ORG: {
        "daily_elements": 10**9, "rate_per_second": 10**9, "burst": 10**9}})
    matcher = yaml.safe_load((pki / "matcher.yaml").read_text())
    matcher.update(bind="127.0.0.1:0", data_dir=str(work / "matcher-data"),
                   purge_interval_seconds=0)
    gateway = yaml.safe_load((pki / f"gateway-{ORG}.yaml").read_text())
    gateway.update(data_dir=str(work / "gateway-data"), mapping=None, batch_size=1000,
                   log_level="WARNING")
    paths = []
    for name, doc in (("bench-pseudonymiser", pseudonymiser), ("bench-matcher", matcher),
                      ("bench-gateway", gateway)):
        path = pki / f"{name}.yaml"  # next to the generated files: relative paths hold
        path.write_text(yaml.safe_dump(doc))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def run(quick: bool, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench gateway")
    parser.add_argument("--rows", type=int, default=10_000 if quick else 100_000,
                        help="signals in the export (two identifiers each)")
    rows = parser.parse_args(argv or []).rows
    repeats = 2 if quick else 4
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        dev_setup(pki)
        sk = keys.load_voprf_key(pki / "pseudonymiser/voprf.key")
        export = work / "export.csv"
        _export(export, rows)
        print(f"export: {rows:,} signals, two identifiers each, "
              f"{export.stat().st_size / 2**20:.1f} MiB CSV")
        pseudonymiser_yaml, matcher_yaml, gateway_yaml = _configs(pki, work)
        (work / "matcher-data").mkdir()
        migrate(MIGRATIONS, f"sqlite:///{work / 'matcher-data' / 'matcher.sqlite'}")
        p_proc, p_port = start_server_process(
            ["pseudonymiser", "serve", "--config", str(pseudonymiser_yaml)],
            work / "pseudonymiser.log")
        m_proc, m_port = start_server_process(
            ["matcher", "serve", "--config", str(matcher_yaml)], work / "matcher.log")
        try:
            gateway_doc = yaml.safe_load(gateway_yaml.read_text())
            gateway_doc.update(matcher=f"127.0.0.1:{m_port}",
                               pseudonymiser=f"127.0.0.1:{p_port}")
            gateway_yaml.write_text(yaml.safe_dump(gateway_doc))
            config = gateway_yaml
            # The bound of the same run, measured just before and just after: on a shared
            # machine the load changes, and the ratio uses their mean.
            before = _in_process_rate(sk, 1000, repeats)
            cpu_before = {"pseudonymiser": _cpu_seconds(p_proc.pid),
                          "matcher": _cpu_seconds(m_proc.pid)}
            started = time.perf_counter()
            gateway = subprocess.Popen(
                [sys.executable, "-m", "samenloop.cli.main", "gateway", "ingest", str(export),
                 "--config", str(config), "--as-of", "2026-11-30"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(gateway.pid, 0)
            elapsed = time.perf_counter() - started
            gateway.returncode = os.waitstatus_to_exitcode(status)
            out = (gateway.stdout.read() if gateway.stdout else b"").decode()
            err = (gateway.stderr.read() if gateway.stderr else b"").decode()
            if gateway.returncode != 0:
                print(out + err)
                raise SystemExit("bench_gateway: the ingest failed")
            engine = sa.create_engine(f"sqlite:///{work / 'matcher-data' / 'matcher.sqlite'}")
            with engine.connect() as conn:
                accepted = conn.execute(sa.text("SELECT count(*) FROM signals")).scalar_one()
            engine.dispose()
            peaks = {"gateway": usage.ru_maxrss, "pseudonymiser": _peak_kib(p_proc.pid),
                     "matcher": _peak_kib(m_proc.pid)}
            cpu = {"gateway": usage.ru_utime + usage.ru_stime,
                   "pseudonymiser": _cpu_seconds(p_proc.pid) - cpu_before["pseudonymiser"],
                   "matcher": _cpu_seconds(m_proc.pid) - cpu_before["matcher"]}
            after = _in_process_rate(sk, 1000, repeats)
        finally:
            for proc in (p_proc, m_proc):
                proc.terminate()
                proc.wait(30)
        cpu_per_element = _in_process_cpu(sk, 1000, repeats)
    in_process = (before + after) / 2
    signals_per_s = rows / elapsed
    elements_per_s = 2 * signals_per_s
    print(f"accepted at the matcher: {accepted:,} of {rows:,}")
    print(f"gateway ingest: {elapsed:.1f} s, {signals_per_s:,.0f} signals/s, "
          f"{elements_per_s:,.0f} VOPRF elements/s")
    print(f"in-process VOPRF (batch 1000): {before:,.0f} elements/s before, {after:,.0f} after")
    print(f"ratio gateway / in-process: {elements_per_s / in_process:.2f} (target >= 0.5)")
    elements = 2 * rows
    for name, seconds in cpu.items():
        print(f"CPU {name}: {seconds:.1f} s, {seconds / elements * 1e6:.0f} us per element")
    voprf_cpu = (cpu["gateway"] + cpu["pseudonymiser"]) / elements
    print(f"CPU per element, gateway + pseudonymiser against the protocol in one thread "
          f"({cpu_per_element * 1e6:.0f} us): x{voprf_cpu / cpu_per_element:.2f} "
          "(what the pipeline costs beyond the VOPRF; machine load does not change it much)")
    cores = os.cpu_count() or 1
    bound = cores / (sum(cpu.values()) / elements)
    print(f"CPU-bound estimate with this machine's {cores} cores to ourselves: {bound:,.0f} "
          f"elements/s, ratio {bound * cpu_per_element:.2f} (the three processes' CPU per "
          "element, perfectly overlapped: an upper bound)")
    for name, kib in peaks.items():
        print(f"peak memory {name}: {kib / 1024:.0f} MiB")
