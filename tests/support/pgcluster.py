"""A private PostgreSQL cluster for a test that must stop or restart the database server.

The shared server named by SAMENLOOP_TEST_POSTGRES_URL is used by everyone on the machine and
is never restarted. A test that restarts PostgreSQL starts its own cluster with the server
binaries (`initdb`, `pg_ctl` from /usr/lib/postgresql/<version>/bin, or on PATH) in a fresh
directory on a free loopback port, with trust authentication for `postgres` over TCP only.

`initdb` refuses to run as root: as root the cluster is made and run as the `postgres` OS user
(`runuser -u postgres --`), in a directory under the system temp folder that user may enter
(pytest's tmp_path lives under a root-only folder). Without the binaries, or as root without a
`postgres` user, `private_cluster` skips with the reason; under CI (CI=true with
SAMENLOOP_REQUIRE_POSTGRES=1) that is a failure instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (the newest installed version), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true" and os.environ.get("SAMENLOOP_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (CI with SAMENLOOP_REQUIRE_POSTGRES=1 needs a private cluster)")
    pytest.skip(reason)


@dataclass
class PrivateCluster:
    """A running cluster; `restart()` is a fast shutdown (sessions terminated) and a start."""

    bin: Path
    directory: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
             *args], check=True, capture_output=True, timeout=90)

    def start(self) -> None:
        self._pg_ctl(
            "-l", str(self.directory / "server.log"),
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self) -> None:
        """Stop (active sessions are terminated, open transactions roll back) and start."""
        self.stop("fast")
        self.start()

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """initdb + start on a free port; stopped and removed afterwards."""
    binaries = server_binaries()
    if binaries is None:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin "
                     "or on PATH; install the postgresql package")
    assert binaries is not None
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no `postgres` user to run initdb as "
                         "(initdb refuses root)")
        run_as = ["runuser", "-u", "postgres", "--"]
    directory = Path(tempfile.mkdtemp(prefix="samenloop-pgcluster-"))
    try:
        if owner is not None:
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        directory.chmod(0o700)
        subprocess.run(
            [*run_as, str(binaries / "initdb"), "-D", str(directory / "data"), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120)
        cluster = PrivateCluster(binaries, directory, free_port(), run_as)
        cluster.start()
        try:
            yield cluster
        finally:
            with suppress(subprocess.CalledProcessError):  # already down
                cluster.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
