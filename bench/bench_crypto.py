"""VOPRF batch throughput against the raw libsodium ristretto255 bound, measured in the same run.

The bound: how many `crypto_scalarmult_ristretto255` calls per second libsodium does here, called
through ctypes with a preallocated buffer (as close to the C function as Python gets). Each
protocol step needs a known number of scalar multiplications per element; the step's ideal rate
is bound / that number, and the ratio printed is measured rate / ideal rate.

Scalar multiplications per element, counted from crypto/oprf.py (B = batch size; the batch DLEQ
proof's fixed costs are amortised over the batch; fixed-base mults are counted as full ones):

    blind           1              r * H(x)      (hash-to-group map not counted)
    blind_evaluate  2 + 3/B        k * C_i, d_i * C_i;   per batch: Z = k*M, t2 = r*G, t3 = r*M
    finalize        3 + 4/B        d_i * C_i, d_i * D_i, r_i^-1 * D_i;
                                   per batch: s*G, c*pk, s*M, c*Z
    end to end      6 + 7/B

What is not counted is what makes the ratio < 1: the one-way map in blind, one point addition
per element per composite (libsodium decodes and re-encodes on every add), SHA-512 for the
composite weights, element validation, and Python.

Bench hygiene (bench/measure.py): CPU time (`process_time`), the bound and every protocol step
measured in alternating rounds, and the median and spread of the rounds printed; the verdict
is the median of the per-round ratios, each computed from a bound measured seconds apart from
its protocol run. (Until ADR 0025 this took the best of a few wall-clock repeats, and the printed
end-to-end ratio swung between 56 % and 166 % over four runs on the shared machine.)
"""

from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Callable
from typing import Any

import rbcl
from rbcl import _sodium

from bench.measure import Series, fmt_rate, host_note, interleaved
from crypto import oprf
from crypto.pseudonyms import voprf_input


def _best(fn: Callable[[], object], repeats: int) -> float:
    """Best wall-clock time of `repeats` calls (bench_gateway's in-process reference)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _raw_scalarmult(n: int) -> tuple[Any, Any, Any, bytes, bytes]:
    """libsodium's scalar multiplications through ctypes with a preallocated buffer."""
    point = rbcl.crypto_core_ristretto255_random()
    scalar = rbcl.crypto_core_ristretto255_scalar_random()
    out = ctypes.create_string_buffer(32)
    return (_sodium.crypto_scalarmult_ristretto255, _sodium.crypto_scalarmult_ristretto255_base,
            out, point, scalar)


def run(quick: bool) -> None:
    batch_size = 100 if quick else 1000
    rounds = 3 if quick else 7
    raw_n = 500 if quick else 2000

    sk, pk = oprf.derive_key_pair(b"\x42" * 32, b"bench")
    server = oprf.VoprfServer(sk)
    client = oprf.VoprfClient(pk)
    inputs = [voprf_input("person", f"{100000000 + i:09d}") for i in range(batch_size)]

    batch = client.blind_batch(inputs)
    evaluated, proof = server.evaluate_batch(batch.wire())
    outputs = client.finalize(batch, evaluated, proof)
    assert outputs[:3] == [oprf.evaluate(sk, x) for x in inputs[:3]], "bench run is not correct"

    b = batch_size
    mult, mult_base, out, point, scalar = _raw_scalarmult(raw_n)

    def variable() -> float:
        for _ in range(raw_n):
            mult(out, scalar, point)
        return float(raw_n)

    def fixed() -> float:
        for _ in range(raw_n):
            mult_base(out, scalar)
        return float(raw_n)

    def end_to_end() -> float:
        blinded = client.blind_batch(inputs)
        d, p = server.evaluate_batch(blinded.wire())
        client.finalize(blinded, d, p)
        return float(b)

    def once(fn: Callable[[], object]) -> Callable[[], float]:
        def go() -> float:
            fn()
            return float(b)
        return go

    steps: dict[str, tuple[Callable[[], float], float]] = {
        "blind": (once(lambda: client.blind_batch(inputs)), 1.0),
        "blind_evaluate": (once(lambda: server.evaluate_batch(batch.wire())), 2 + 3 / b),
        "finalize": (once(lambda: client.finalize(batch, evaluated, proof)), 3 + 4 / b),
        "end to end": (end_to_end, 6 + 7 / b),
    }
    # Bound and protocol interleaved: within a round the bound is measured right before and
    # right after every step, and the step's ratio uses the mean of those two, so a slow
    # stretch of the shared machine slows the bound and the step alike.
    names = list(steps)
    tasks: dict[str, Callable[[], float]] = {"bound 0": variable, "bound (fixed base)": fixed}
    for i, name in enumerate(names, start=1):
        tasks[name] = steps[name][0]
        tasks[f"bound {i}"] = variable
    series = interleaved(tasks, rounds)
    bound = Series([s for k, v in series.items() if k.startswith("bound ") and k[6:].isdigit()
                    for s in v.samples])
    print(f"CPU time (process_time), {rounds} interleaved rounds; median (lowest–highest); "
          f"{host_note()}")
    print(f"libsodium ristretto255 scalarmult (variable base): {fmt_rate(bound)} /s")
    fixed_rate = fmt_rate(series["bound (fixed base)"])
    print(f"libsodium ristretto255 scalarmult (fixed base):    {fixed_rate} /s  (info)")

    print(f"\nVOPRF ristretto255-SHA512, batch of {b}, one DLEQ proof per batch")
    print(f"{'operation':<16}{'elements/s':>28}{'mults/elem':>12}{'ideal/s':>10}"
          f"{'ratio (per round)':>26}")
    ratios: dict[str, list[float]] = {}
    for i, name in enumerate(names, start=1):
        mults = steps[name][1]
        before, after = series[f"bound {i - 1}"].rates(), series[f"bound {i}"].rates()
        ratios[name] = [rate / ((x + y) / 2 / mults) for rate, x, y in
                        zip(series[name].rates(), before, after, strict=True)]
        r = ratios[name]
        print(f"{name:<16}{fmt_rate(series[name], width=28)}{mults:>12.3f}"
              f"{bound.rate() / mults:>10,.0f}"
              f"{statistics.median(r):>11.0%} ({min(r):.0%}–{max(r):.0%})")
    e2e = ratios["end to end"]
    ratio = statistics.median(e2e)
    verdict = "meets" if ratio >= 0.70 else "MISSES"
    print(
        f"\nend to end: {series['end to end'].rate():,.0f} elements/s per CPU second = "
        f"{ratio:.0%} of the libsodium bound, median of {rounds} rounds (spread "
        f"{min(e2e):.0%}–{max(e2e):.0%}; {verdict} the 70% goal)"
    )
