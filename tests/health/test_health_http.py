"""The plaintext health port: what it answers, and that it answers nothing else."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.health_http import Health, HealthServer, certificate_check
from tests.health.probe import checks, probe
from tests.support.services import DevPki


@pytest.fixture
def served() -> Iterator[tuple[Health, int]]:
    health = Health(cache_seconds=0)
    server = HealthServer("127.0.0.1:0", health)
    yield health, server.port
    server.stop()


def test_liveness_answers_while_readiness_waits_for_start_up(served: tuple[Health, int]) -> None:
    health, port = served
    assert checks(port, "/healthz") == (200, {})
    assert checks(port, "/readyz") == (503, {"service": "starting"})
    health.add_readiness("keys", lambda: None)
    health.mark_started()
    assert checks(port, "/readyz") == (200, {"keys": "ok"})


def test_one_failing_check_makes_the_service_not_ready(served: tuple[Health, int]) -> None:
    health, port = served
    health.add_readiness("keys", lambda: None)
    health.add_readiness("database", lambda: "not migrated")
    health.mark_started()
    assert checks(port, "/readyz") == (503, {"keys": "ok", "database": "not migrated"})
    assert checks(port, "/healthz") == (200, {})  # liveness does not follow the database


def test_a_check_that_raises_shows_its_kind_not_its_text(served: tuple[Health, int]) -> None:
    health, port = served

    def broken() -> str | None:
        raise RuntimeError("connection to db.internal:5432 for user samenloop failed")

    health.add_readiness("database", broken)
    health.mark_started()
    status, _headers, body = probe(port, "/readyz")
    assert status == 503
    assert b"db.internal" not in body and b"samenloop failed" not in body
    assert checks(port, "/readyz")[1] == {"database": "failed (RuntimeError)"}


def test_a_hanging_check_times_out_instead_of_holding_the_probe() -> None:
    release = threading.Event()
    health = Health(check_timeout=0.2, cache_seconds=0)
    health.add_readiness("database", lambda: None if release.wait(30) else "unreachable")
    health.mark_started()
    server = HealthServer("127.0.0.1:0", health)
    try:
        assert checks(server.port, "/readyz") == (503, {"database": "timed out"})
    finally:
        release.set()
        server.stop()


def test_draining_fails_readiness_at_once(served: tuple[Health, int]) -> None:
    health, port = served
    health.mark_started()
    assert probe(port, "/readyz")[0] == 200
    health.mark_draining()
    assert checks(port, "/readyz") == (503, {"service": "draining"})


@pytest.mark.parametrize("path", ["/", "/metrics", "/healthz/../config", "/readyz/x", "/debug",
                                  "/v1/alerts", "/favicon.ico"])
def test_nothing_but_health_is_served(served: tuple[Health, int], path: str) -> None:
    _health, port = served
    status, headers, body = probe(port, path)
    assert (status, body) == (404, b"not found\n")
    assert headers["server"] == "samenloop-health"  # no Python or library version


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"])
def test_only_get_and_head(served: tuple[Health, int], method: str) -> None:
    _health, port = served
    assert probe(port, "/healthz", method)[0] == 501
    assert probe(port, "/healthz", "HEAD")[0] == 200


def test_metrics_only_when_configured() -> None:
    health = Health()
    server = HealthServer("127.0.0.1:0", health,
                          metrics=lambda: (b"samenloop_up 1\n", "text/plain; version=0.0.4"))
    try:
        status, headers, body = probe(server.port, "/metrics")
        assert (status, body) == (200, b"samenloop_up 1\n")
        assert headers["content-type"].startswith("text/plain")
    finally:
        server.stop()


def test_port_in_use_is_one_line(served: tuple[Health, int]) -> None:
    _health, port = served
    with pytest.raises(OSError, match=rf"^cannot listen on 127.0.0.1:{port} for health probes "
                                      r"\(.+\); stop what listens there or choose another "
                                      r"`health.bind`$"):
        HealthServer(f"127.0.0.1:{port}", Health())


def test_certificate_check_follows_the_validity_window(pki: DevPki) -> None:
    from cryptography import x509

    cert_path = Path(pki.tls("pseudonymiser").cert)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    for moment, expected in [
        (start - timedelta(seconds=1), "certificate not yet valid"),
        (start, None),
        (end - timedelta(seconds=1), None),
        (end, "certificate expired"),
        (datetime(2100, 1, 1, tzinfo=UTC), "certificate expired"),
    ]:
        assert certificate_check(cert_path, now=lambda m=moment: m)() == expected, moment


def test_the_container_healthcheck_command(served: tuple[Health, int]) -> None:
    """`python -m services.common.health_probe` is the Dockerfile's HEALTHCHECK."""
    import os
    import socket
    import subprocess
    import sys

    _health, port = served

    def run(port: int) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SAMENLOOP_HEALTH_PORT": str(port)}
        return subprocess.run([sys.executable, "-m", "services.common.health_probe"], env=env,
                              capture_output=True, text=True, timeout=60)

    assert run(port).returncode == 0
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed = spare.getsockname()[1]
    failed = run(closed)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "health.bind" in failed.stderr


def test_sigterm_fails_readiness_before_the_server_stops(served: tuple[Health, int]) -> None:
    """What a rolling update relies on: the pod leaves the endpoints as soon as it is told."""
    import os
    import signal

    from services.common.server import stop_on_signal

    health, port = served
    health.mark_started()
    assert probe(port, "/readyz")[0] == 200
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        stop = stop_on_signal(health)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(10)
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
    assert checks(port, "/readyz") == (503, {"service": "draining"})
