"""Benchmarks, run by `make bench`; each prints absolute figures and ratios to a bound.

Every benchmark is a module `bench/bench_<name>.py` exposing `run(quick: bool) -> None`; one
that also takes `full` or `db` gets `--full` / `--db` from the command line. `bench/measure.py`
holds the shared hygiene: CPU time, interleaved rounds, median and spread.
Speed is measured here, never asserted in a test.
"""
