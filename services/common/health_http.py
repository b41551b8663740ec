"""Liveness and readiness over plain HTTP, for Kubernetes probes (issue 16).

Every samenloop gRPC port requires a client certificate, and Kubernetes' built-in gRPC probes
cannot present one. So a service may also listen on a separate plaintext port, inside the pod
only, that answers exactly:

    GET /healthz   200 while the process is alive (liveness)
    GET /readyz    200 when every readiness check passes, else 503 (readiness)
    GET /metrics   Prometheus text, only when `health.metrics: true`

and nothing else: any other path is 404, any other method 501, and the answers hold check names
and fixed words, never data or error text (the full reason goes to the log). The port is off by
default: it exists only when a service's configuration has `health: {bind: "0.0.0.0:8081"}`.

Readiness is the conjunction of named checks the service registers as it comes up (database
reachable and migrated, keys loaded, certificate valid, peers reachable for a gateway), gated on
start-up having finished and on not draining after SIGTERM.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from services.common.logging import get_logger

Check = Callable[[], str | None]
"""A readiness or liveness check: returns None when fine, else a short fixed phrase
("not migrated", "unreachable") that may be shown on the plaintext port. Raising is a failure
too; the exception's class is shown, its text only logged."""

CHECK_TIMEOUT_SECONDS = 3.0
"""A check that has not answered by then counts as failed ("timed out")."""
READINESS_CACHE_SECONDS = 1.0
"""Probes arriving within this interval share one evaluation (a probe flood cannot load the
database)."""

OK = "ok"


@dataclass(frozen=True)
class Report:
    """The outcome of one evaluation: overall verdict and one word or phrase per check."""

    ok: bool
    checks: dict[str, str]

    def body(self) -> bytes:
        status = "ok" if self.ok else "failing"
        return json.dumps({"status": status, "checks": self.checks}, sort_keys=True).encode()


class Health:
    """What the service knows about itself: named checks, the start-up gate, draining."""

    def __init__(self, *, check_timeout: float = CHECK_TIMEOUT_SECONDS,
                 cache_seconds: float = READINESS_CACHE_SECONDS) -> None:
        self._lock = threading.Lock()
        self._readiness: dict[str, Check] = {}
        self._liveness: dict[str, Check] = {}
        self._waiting: str | None = "starting"
        self._draining = False
        self._timeout = check_timeout
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, Report] | None = None
        self._generation = 0  # bumped by every change, so a stale evaluation is not cached
        self._last_failing: frozenset[str] = frozenset()
        # Checks run here, so one that hangs (a database behind a dropped route) cannot hold
        # the HTTP thread past the probe's own timeout.
        self._pool = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")

    def add_readiness(self, name: str, check: Check) -> None:
        with self._lock:
            self._readiness[name] = check
            self._cached = None
            self._generation += 1

    def add_liveness(self, name: str, check: Check) -> None:
        with self._lock:
            self._liveness[name] = check

    def waiting_for(self, reason: str) -> None:
        """Start-up is not finished; `reason` (a fixed phrase) is what readiness shows."""
        with self._lock:
            self._waiting = reason
            self._cached = None
            self._generation += 1

    def mark_started(self) -> None:
        with self._lock:
            self._waiting = None
            self._cached = None
            self._generation += 1

    def mark_draining(self) -> None:
        """Shutting down: readiness fails at once so traffic moves elsewhere."""
        with self._lock:
            self._draining = True
            self._cached = None
            self._generation += 1

    def liveness(self) -> Report:
        with self._lock:
            checks = dict(self._liveness)
        return self._evaluate(checks, gate=None, log_as="liveness")

    def readiness(self) -> Report:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_seconds:
                return self._cached[1]
            checks = dict(self._readiness)
            gate = "draining" if self._draining else self._waiting
            generation = self._generation
        report = self._evaluate(checks, gate=gate, log_as="readiness")
        with self._lock:
            if generation == self._generation:
                self._cached = (time.monotonic(), report)
        return report

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _evaluate(self, checks: dict[str, Check], *, gate: str | None, log_as: str) -> Report:
        results: dict[str, str] = {}
        if gate is not None:
            results["service"] = gate
        pending = {name: self._pool.submit(_run, check) for name, check in checks.items()}
        for name, future in pending.items():
            try:
                results[name] = future.result(timeout=self._timeout)
            except futures.TimeoutError:
                results[name] = "timed out"
        failing = frozenset(name for name, word in results.items() if word != OK)
        if log_as == "readiness" and failing != self._last_failing:
            self._last_failing = failing
            get_logger(component="health").info(
                "readiness_changed", ready=not failing,
                failing={name: results[name] for name in sorted(failing)})
        return Report(ok=not failing, checks=results)


def _run(check: Check) -> str:
    try:
        problem = check()
    except Exception as exc:
        get_logger(component="health").warning("health_check_error", error=str(exc),
                                               kind=type(exc).__name__)
        return f"failed ({type(exc).__name__})"
    return OK if problem is None else problem


# ---------------------------------------------------------------------------------------------
# Checks every service can use


def certificate_check(cert_path: Path, *, now: Callable[[], datetime] | None = None) -> Check:
    """The served certificate is within its validity: an expired one fails every handshake."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    clock = now or (lambda: datetime.now(UTC))

    def check() -> str | None:
        moment = clock()
        if moment < not_before:
            return "certificate not yet valid"
        if moment >= not_after:
            return "certificate expired"
        return None

    return check


def database_check(engine: Any, script_location: Path, hint: str) -> Check:
    """The database answers and its schema is the revision this code needs."""
    from services.common.db import DatabaseNotMigrated, ensure_migrated

    def check() -> str | None:
        try:
            ensure_migrated(engine, script_location, hint)
        except DatabaseNotMigrated as exc:
            get_logger(component="health").warning("database_not_migrated", detail=str(exc))
            return "not migrated"
        except Exception as exc:  # unreachable, refused, authentication: all mean "not ready"
            get_logger(component="health").warning("database_unreachable",
                                                   kind=type(exc).__name__)
            return "unreachable"
        return None

    return check


def grpc_peer_check(channel: Any, *, service: str = "", timeout: float = 2.0) -> Check:
    """A peer (the matcher or the pseudonymiser, for a gateway) answers gRPC health SERVING.

    `channel` is the service's own mTLS channel to that peer, so this also proves the
    handshake works with the certificates in use.
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(channel)

    def check() -> str | None:
        try:
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except Exception:
            return "unreachable"
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            return "not serving"
        return None

    return check


# ---------------------------------------------------------------------------------------------
# The plaintext HTTP server


MetricsRenderer = Callable[[], tuple[bytes, str]]
"""Returns (body, content type) for GET /metrics."""


class _Handler(BaseHTTPRequestHandler):
    server: _HealthHttpServer
    protocol_version = "HTTP/1.0"
    timeout = 5  # a client that sends nothing does not keep a thread
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def version_string(self) -> str:
        return "samenloop-health"  # no library or Python version on an unauthenticated port

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not news; the service logs readiness changes itself."""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        health = self.server.health
        if path == "/healthz":
            report = health.liveness()
            self._send(200 if report.ok else 503, report.body(), "application/json", send_body)
        elif path == "/readyz":
            report = health.readiness()
            self._send(200 if report.ok else 503, report.body(), "application/json", send_body)
        elif path == "/metrics" and self.server.metrics is not None:
            body, content_type = self.server.metrics()
            self._send(200, body, content_type, send_body)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", send_body)

    def _send(self, code: int, body: bytes, content_type: str, send_body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class _HealthHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], health: Health,
                 metrics: MetricsRenderer | None) -> None:
        self.health = health
        self.metrics = metrics
        super().__init__(address, _Handler)


def start_health(settings: Any, service: str) -> tuple[Health, HealthServer] | None:
    """Metrics for `service`, and with `settings` (`health: {bind, metrics}`) the probe port.

    Returns None when the service's configuration has no `health` section.
    """
    from services.common.metrics import configure_metrics

    metrics = configure_metrics(service, prometheus=bool(settings and settings.metrics))
    if settings is None:
        return None
    health = Health()
    return health, HealthServer(settings.bind, health, metrics)


class HealthServer:
    """The plaintext health port, served from a daemon thread."""

    def __init__(self, bind: str, health: Health, metrics: MetricsRenderer | None = None) -> None:
        host, _, port = bind.rpartition(":")
        try:
            self._httpd = _HealthHttpServer((host.strip("[]"), int(port)), health, metrics)
        except OSError as exc:
            raise OSError(f"cannot listen on {bind} for health probes ({exc.strerror}); stop "
                          "what listens there or choose another `health.bind`") from None
        self.health = health
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="health-http",
                                        daemon=True)
        self._thread.start()
        get_logger(component="health").info("health_listening", bind=bind, port=self.port,
                                             metrics=metrics is not None)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self.health.close()
