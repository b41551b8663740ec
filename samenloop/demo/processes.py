"""The demo's services as separate processes, each logging to its own file in the work directory.

gRPC servers are started on `127.0.0.1:0` and report their port in the JSON `server_started`
log line (services/common/server.py); the demo reads it from the log file. Processes are
stopped by their own id, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

STARTUP_SECONDS = 60.0


class ServiceError(Exception):
    """A service did not start; the message names it and its log file."""


def _command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "samenloop.cli.main", *args]


def started_port(line: str) -> int | None:
    """The port of a `server_started` log line, or None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("event") == "server_started":
        return int(event["port"])
    return None


class Services:
    """Every process the demo started, so that all of them are stopped at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        """Start `samenloop <args>` as its own process (it starts up while others do)."""
        with self.log(name).open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 (our own command line)
                _command(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env={**os.environ, **(env or {})})
        self.processes[name] = process
        return process

    def wait_port(self, name: str) -> int:
        """The port of a started gRPC server, once it accepts calls."""
        found = self._wait_for(name, started_port)
        assert found is not None
        return found

    def wait_event(self, name: str, event: str) -> None:
        """Until the service logs the JSON event `event` (e.g. `gateway_serving`)."""
        self._wait_for(name, lambda line: 1 if f'"event": "{event}"' in line else None)

    def _wait_for(self, name: str, match: Callable[[str], int | None]) -> int:
        process = self.processes[name]
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            for line in self.log(name).read_text(errors="replace").splitlines():
                found = match(line)
                if found is not None:
                    return found
            self._check_alive(name, process)
            time.sleep(0.05)
        raise ServiceError(f"{name} did not start within {STARTUP_SECONDS:.0f} s; "
                           f"see {self.log(name)}")

    def wait_url(self, name: str, url: str) -> None:
        """Until `url` (a web server's page) answers 200."""
        process = self.processes[name]
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            self._check_alive(name, process)
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http on loopback)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise ServiceError(f"{name} did not answer at {url} within {STARTUP_SECONDS:.0f} s; "
                           f"see {self.log(name)}")

    def _check_alive(self, name: str, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is not None:
            raise ServiceError(f"{name} exited with status {process.returncode} at start-up; "
                               f"see {self.log(name)}")

    def check_running(self) -> list[str]:
        """Names of services that exited on their own (a crash during the run)."""
        return [n for n, p in self.processes.items() if p.poll() is not None]

    def stop_all(self, keep: tuple[str, ...] = ()) -> None:
        """SIGTERM to every service (all at once, each by its own process id), then wait."""
        stopping = [(n, p) for n, p in self.processes.items() if n not in keep]
        for _, process in stopping:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in stopping:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.processes.pop(name, None)


def run_cli(args: list[str], log: Path, *, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one `samenloop` command to completion, its output appended to `log`."""
    done = subprocess.run(  # noqa: S603 (our own command line)
        _command(args), input=stdin, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, check=False)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ samenloop {' '.join(args)}\n{done.stdout}{done.stderr}"
                  f"(exit {done.returncode})\n")
    return done
