"""Start a `samenloop … serve` command as its own process and learn its port.

Servers log a JSON `server_started` event with their `port` on stderr once they accept calls;
with `bind: 127.0.0.1:0` that line is how a test or benchmark finds the port. Used by tests and by
`bench/` (both run from the repository root).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def started_port(line: str) -> int | None:
    """The port of a `server_started` log line, or None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if event.get("event") == "server_started":
        return int(event["port"])
    return None


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
            port = started_port(line)
            if port is not None:
                return process, port
        if process.poll() is not None:
            raise RuntimeError(f"`samenloop {' '.join(args)}` exited:\n{log_path.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"`samenloop {' '.join(args)}` did not listen within {timeout} s")
