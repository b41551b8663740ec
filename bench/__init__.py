"""Benchmarks, run by `make bench`; each prints absolute figures and ratios to a bound.

Every benchmark is a module `bench/bench_<name>.py` exposing `run(quick: bool) -> None`.
Speed is measured here, never asserted in a test.
"""
