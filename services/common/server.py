"""The gRPC server bootstrap every service uses.

One place decides: mTLS with client certificates required, the certificate deny-list and role
authorization before any handler, health checking and reflection, message size limits (a
larger or malformed request is refused and logged: `request_guard`),
OpenTelemetry server spans, and a graceful shutdown on SIGTERM/SIGINT that lets calls in flight
finish.
"""

from __future__ import annotations

import errno
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.authz import RefusalHook, RoleAuthorizationInterceptor, RoleTable
from services.common.denylist import DenyList
from services.common.health_http import Health
from services.common.logging import get_logger
from services.common.metrics import RpcMetricsInterceptor
from services.common.request_guard import RequestGuard
from services.common.tls import TlsMaterial, server_credentials

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass
class ServiceBinding:
    """A servicer and the generated function that adds it to a server."""

    add_to_server: Callable[[Any, grpc.Server], None]
    servicer: Any
    full_name: str  # e.g. "samenloop.v1.PartnerService"


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: list[str] = field(default_factory=list)

    def stop(self, grace: float = 5.0) -> None:
        for name in self.service_names:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace).wait()


def start_server(
    *,
    bind: str,
    tls: TlsMaterial,
    services: Sequence[ServiceBinding],
    roles: RoleTable,
    max_workers: int = 16,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    extra_interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
    deny_list: DenyList | None = None,
    on_refused: RefusalHook | None = None,
) -> RunningServer:
    """Start serving on `bind` (host:port; port 0 picks a free one) and return at once.

    `deny_list` (revoked client certificates) is checked before the role on every call but
    health and reflection; `on_refused` hears of every call either refuses.
    """
    interceptors: list[grpc.ServerInterceptor[Any, Any]] = [
        RequestGuard(max_message_bytes),  # outermost: sees every request arrive, or not
        RoleAuthorizationInterceptor(roles, deny_list, on_refused),
    ]
    interceptors.extend(_tracing_interceptors())
    interceptors.append(RpcMetricsInterceptor())
    interceptors.extend(extra_interceptors)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = []
    for binding in services:
        binding.add_to_server(binding.servicer, server)
        names.append(binding.full_name)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    credentials = server_credentials(tls)
    _check_can_listen(bind)
    try:
        port = server.add_secure_port(bind, credentials)
    except RuntimeError:  # grpcio >= 1.60 raises "Failed to bind to address …"
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {bind}: the address is in use or not available; stop "
                      "what listens there or choose another `bind` (host:port)")
    server.start()
    for name in names:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    get_logger().info("server_started", bind=bind, port=port, services=names)
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names)


def _check_can_listen(bind: str) -> None:
    """Say "in use" in one line before gRPC's C core logs its own multi-line complaint."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, int(port), type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise OSError(f"cannot listen on {bind}: unknown host {host!r}; fix `bind` "
                      "(host:port)") from None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
            try:
                probe.bind(address)
            except OSError as exc:
                reason = "in use" if exc.errno == errno.EADDRINUSE else "not available here"
                raise OSError(f"cannot listen on {bind}: the address is {reason}; stop what "
                              "listens there or choose another `bind` (host:port)") from None


def _tracing_interceptors() -> list[grpc.ServerInterceptor[Any, Any]]:
    """OpenTelemetry server spans (W3C trace context from the caller's metadata)."""
    from opentelemetry.instrumentation.grpc import server_interceptor

    return [server_interceptor()]  # type: ignore[no-untyped-call]


def stop_on_signal(health: Health | None = None) -> threading.Event:
    """An event set by SIGTERM or SIGINT (readiness fails at once when `health` is given).

    Installed before a slow start-up (a matcher waiting for its database) so a signal then
    ends the wait instead of being lost.
    """
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        get_logger().info("shutdown_requested", signal=signal.Signals(signum).name)
        if health is not None:
            health.mark_draining()
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stop


def serve_until_signalled(running: RunningServer, grace: float = 10.0,
                          health: Health | None = None,
                          stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT, then drain calls in flight for up to `grace` seconds.

    With `health`, readiness fails at the signal, so the pod leaves the Service's endpoints
    while calls in flight finish.
    """
    (stop or stop_on_signal(health)).wait()
    running.stop(grace)
    get_logger().info("server_stopped")
