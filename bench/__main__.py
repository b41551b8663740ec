"""Run the benchmarks:
`python -m bench [NAME ...] [--quick | --full] [--db sqlite|postgresql] [--size N]`.

Without names every `bench/bench_*.py` module runs, in alphabetical order. `--size` is passed
to the benchmarks whose `run` takes a `size` (e.g. `auditlog`: entries in the log). Options the
runner does not know (e.g. `--signals 10000000`) go to the benchmarks whose `run` takes `argv`.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import time

import bench


def _available() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {_available()})"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    size.add_argument("--full", action="store_true",
                      help="the full sizes where a benchmark has them (matcher: 5M households "
                           "with 10M signals; takes tens of minutes)")
    parser.add_argument("--db", choices=["sqlite", "postgresql"],
                        help="only this database, where a benchmark runs on both (matcher)")
    parser.add_argument("--size", type=int, default=None,
                        help="the size for benchmarks that take one (auditlog: entries)")
    args, rest = parser.parse_known_args(argv)
    names = args.names or _available()
    unknown = sorted(set(names) - set(_available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {_available()}")
    modules = {name: importlib.import_module(f"bench.bench_{name}") for name in names}
    if rest and not any("argv" in inspect.signature(m.run).parameters
                        for m in modules.values()):
        parser.error(f"unrecognized arguments: {' '.join(rest)} (no chosen benchmark takes "
                     "options of its own)")
    for name in names:
        print(f"\n=== bench {name} ===", flush=True)
        started = time.perf_counter()
        run = modules[name].run
        accepts = inspect.signature(run).parameters
        extra: dict[str, object] = {
            k: v for k, v in (("full", args.full), ("db", args.db), ("size", args.size))
            if k in accepts and v not in (None, False)}
        if "argv" in accepts:
            extra["argv"] = rest
        run(quick=args.quick, **extra)
        print(f"=== {name} done in {time.perf_counter() - started:.1f} s ===", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
