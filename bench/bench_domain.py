"""Read, validate and normalise a large canonical signal export (issue #4).

Generates a canonical CSV of 1,000,000 rows (quick: 50,000) into a temporary directory - a mix of
person, household and either types, messy-but-valid spellings (postcode with space, "12a-2",
"5 2 hoog", BSN with dots or a dropped leading zero, Dutch dates in identity fields) and about 2%
rows that must be rejected - then streams it through `read_signals` and `SignalRow.canonical()`.

Prints rows per second and the peak resident memory while reading, for a small file (20,000 rows)
and for the large one: streaming means the two peaks are about the same.
"""

from __future__ import annotations

import gc
import random
import resource
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import psutil

from domain.catalogue import load_catalogue
from domain.formats import COLUMNS, ExportKind, Rejection, read_signals

TODAY = date(2026, 11, 20)
SMALL_ROWS = 20_000
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
_FIRST, _SECOND = "ABCDEFGHJKLMNPRTVWXZ", "ABCEGHJKLMNPRTVWXZ"  # never SA, SD, SS


def _bsn(rng: random.Random) -> str:
    while True:
        head = [rng.randrange(10) for _ in range(8)]
        check = sum(w * d for w, d in zip(_WEIGHTS, head, strict=True)) % 11
        if check < 10:
            return "".join(map(str, head)) + str(check)


def generate(path: Path, rows: int, seed: int = 4) -> None:
    """Write `rows` canonical signal rows (streaming; constant memory)."""
    rng = random.Random(seed)
    cat = load_catalogue()
    types = list(cat)
    bsns = [_bsn(rng) for _ in range(5000)]
    house = ["{n}", "{n}", "{n}a-2", "{n} bis", "{n}-2", "{n} 2 hoog", "{n} II", "{n}A"]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(COLUMNS[ExportKind.SIGNALS]) + "\n")
        for i in range(rows):
            t = types[i % len(types)]
            purpose = sorted(t.purposes)[i % len(t.purposes)]
            observed = TODAY - timedelta(days=rng.randrange(0, 150))
            bsn = address = ""
            if t.subject.value in ("person", "either"):
                b = bsns[rng.randrange(len(bsns))]
                dropped = b[1:] if b[0] == "0" and b[1] != "0" else b  # spreadsheet
                bsn = rng.choice([b, f"{b[:3]}.{b[3:6]}.{b[6:]}", dropped])
            if t.subject.value in ("household", "either") or rng.random() < 0.2:
                pc = f"{rng.randrange(1000, 9999)}{rng.choice(_FIRST)}{rng.choice(_SECOND)}"
                if rng.random() < 0.3:
                    pc = pc[:4] + " " + pc[4:].lower()
                n = rng.randrange(1, 400)
                address = f"{pc},{rng.choice(house).format(n=n)},,"
            else:
                address = ",,,"
            identity = ",,,,,,"
            if rng.random() < 0.3:
                identity = (
                    f"Jansen,van der,J.P.,{1950 + rng.randrange(60)}-0{rng.randrange(1, 10)}-1"
                    f"{rng.randrange(10)},06-{rng.randrange(10**7, 10**8)},"
                    f"j{i}@example.nl,"
                )
            row = (
                f"S-{i},{t.code},{observed.isoformat()},{purpose},{bsn},{address},"
                f"{identity},{'true' if rng.random() < 0.1 else ''}"
            )
            if rng.random() < 0.02:  # a row that must be rejected
                row = row.replace(f"S-{i},", f"S {i},", 1)
            f.write(row + "\n")


def measure(path: Path) -> tuple[int, int, Counter[str], float, int]:
    """Stream the file; returns (read, accepted, reasons, seconds, peak RSS bytes while reading)."""
    gc.collect()
    proc = psutil.Process()
    peak = proc.memory_info().rss
    read = accepted = 0
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    for result in read_signals(path, default_purpose="wams-gecoordineerde-aanpak", today=TODAY):
        read += 1
        if isinstance(result, Rejection):
            reasons.update(result.codes)
        else:
            result.canonical()
            accepted += 1
        if read % 10_000 == 0:
            peak = max(peak, proc.memory_info().rss)
    seconds = time.perf_counter() - started
    peak = max(peak, proc.memory_info().rss)
    return read, accepted, reasons, seconds, peak


def run(quick: bool) -> None:
    rows = 50_000 if quick else 1_000_000
    load_catalogue()
    with tempfile.TemporaryDirectory(prefix="bench-domain-") as tmp:
        small, large = Path(tmp) / "small.csv", Path(tmp) / "large.csv"
        started = time.perf_counter()
        generate(small, SMALL_ROWS)
        generate(large, rows)
        print(
            f"generated {SMALL_ROWS:,} + {rows:,} rows "
            f"({large.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s"
        )
        results = {}
        for label, path in (("small", small), ("large", large)):
            read, accepted, reasons, seconds, peak = measure(path)
            results[label] = peak
            print(
                f"{label:5} {read:>9,} rows read, {accepted:,} accepted, {read - accepted:,} "
                f"rejected in {seconds:.1f} s = {read / seconds:,.0f} rows/s; "
                f"peak RSS while reading {peak / 2**20:.1f} MiB"
            )
            if label == "large":
                top = ", ".join(f"{c} {n}" for c, n in reasons.most_common(3))
                print(f"      rejected by reason: {top}")
        ratio = results["large"] / results["small"]
        print(
            f"peak RSS large/small = {ratio:.2f} for {rows // SMALL_ROWS}x the rows "
            f"(constant memory: close to 1); process max RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    run(quick=True)
