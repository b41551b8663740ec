"""Start a `samenloop … serve` command as its own process and learn its port.

Servers print `<service> listening on port N` on stderr once they accept calls; with
`bind: 127.0.0.1:0` that line is how a test or benchmark finds the port. Used by tests and by
`bench/` (both run from the repository root).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

LISTENING = " listening on port "


def start_server_process(
    args: list[str], log_path: Path, *, timeout: float = 30.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Run `samenloop <args>`; return the process and its port once it listens."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "samenloop.cli.main", *args],
            stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if LISTENING in line:
                return process, int(line.rsplit(" ", 1)[1])
        if process.poll() is not None:
            raise RuntimeError(f"`samenloop {' '.join(args)}` exited:\n{log_path.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"`samenloop {' '.join(args)}` did not listen within {timeout} s")
