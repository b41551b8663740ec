"""`python -m fuzz [TARGET ...] [--seconds N]`: coverage-guided fuzzing with atheris (libFuzzer)
of the targets in fuzz/targets.py and fuzz/grpc.py, each in its own process for N seconds.

atheris is not a locked dependency: `make fuzz` installs it into .venv when it is absent and
this module says so, and exits 0, where it cannot be imported. A target that breaks its
contract stops with the input that did it (saved as `crash-<sha1>` in the fuzz directory);
reproduce it with `python -m fuzz TARGET --reproduce FILE`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRPC_TARGETS = ("grpc_matcher", "grpc_pseudonymiser")
INSTRUMENTED = ["domain", "policies", "services", "crypto", "fuzz"]
"""Packages whose code gives coverage feedback (instrumented as they are imported)."""


def _file_targets() -> list[str]:
    from fuzz.targets import TARGETS

    return list(TARGETS)


def _run_one(name: str, seconds: int, corpus: Path, reproduce: Path | None) -> int:
    """Run one target in this process (atheris takes over the process; it never returns)."""
    import atheris

    # samenloop's own code gives coverage feedback, instrumented as it is first imported here
    with atheris.instrument_imports(include=INSTRUMENTED):
        if name in GRPC_TARGETS:
            from fuzz import grpc as grpc_targets

            target = grpc_targets.target(name)
        else:
            from fuzz.targets import TARGETS

            target = TARGETS[name]
        target(b"")  # imports everything the target uses (and starts the gRPC services)

    def one_input(data: bytes) -> None:
        target(data)

    args = [sys.argv[0], f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=3072",
            f"-artifact_prefix={corpus.parent}/crash-{name}-", str(corpus)]
    if reproduce is not None:
        args = [sys.argv[0], str(reproduce)]
    atheris.Setup(args, one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="default: all of them (file targets in "
                        "fuzz/targets.py, then grpc_matcher and grpc_pseudonymiser)")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--work", type=Path, default=None,
                        help="corpus and crash directory (default: a new temporary one)")
    parser.add_argument("--reproduce", type=Path, default=None, help="run one saved input")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed in this environment (it has no wheel for this "
              "platform, or pip could not reach the index); skipped. `make fuzz` installs it "
              "when it can; the bounded fuzz in `make test` (tests/hostile) still runs.")
        return 0
    work = options.work or Path(tempfile.mkdtemp(prefix="samenloop-fuzz-"))
    if options.one:  # the child process of one target: nothing imported yet
        corpus = work / f"corpus-{options.targets[0]}"
        corpus.mkdir(parents=True, exist_ok=True)
        return _run_one(options.targets[0], options.seconds, corpus, options.reproduce)
    known = [*_file_targets(), *GRPC_TARGETS]
    names = options.targets or known
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    failed = []
    for name in names:
        started = time.monotonic()
        command = [sys.executable, "-m", "fuzz", name, "--one", "--seconds",
                   str(options.seconds), "--work", str(work)]
        if options.reproduce is not None:
            command += ["--reproduce", str(options.reproduce)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        runs = [ln for ln in result.stderr.splitlines() if "Done " in ln or "#" in ln[:2]]
        summary = runs[-1].strip() if runs else ""
        verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"{name:<20} {time.monotonic() - started:6.0f} s  {verdict}  {summary}", flush=True)
        if result.returncode != 0:
            failed.append(name)
            tail = [ln for ln in result.stderr.splitlines() if ln.strip()][-25:]
            print("\n".join(f"    {ln}" for ln in tail))
    print(f"corpus and crashes: {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
