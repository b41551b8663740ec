"""Run the inbox web app with uvicorn on the configured address (loopback by default)."""

from __future__ import annotations

import errno
import socket
from typing import Any

import uvicorn

from services.common.config import ConfigError
from services.common.health_http import grpc_peer_check, start_health
from services.common.logging import configure_logging, get_logger
from services.wijkteam.inbox import Inbox
from services.wijkteam.settings import InboxSettings
from services.wijkteam.web import create_app


def _check_port_free(host: str, port: int) -> None:
    """Say "port in use" in one line before uvicorn would print a traceback."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"bind: {host}:{port} is already in use; stop the other "
                                  "process or choose another port") from None
            raise ConfigError(f"bind: cannot listen on {host}:{port} ({exc.strerror})") from None


def serve(settings: InboxSettings, **app_kwargs: Any) -> None:
    """Serve until interrupted. The team's private key is loaded here and kept in memory."""
    configure_logging("inbox")
    _check_port_free(settings.bind_host, settings.bind_port)
    inbox = Inbox(settings)
    # With `health: {bind, metrics}`: the probe port; ready while the matcher answers.
    probes = start_health(settings.health, "inbox")
    if probes is not None:
        probes[0].add_readiness("matcher", grpc_peer_check(inbox.channel))
        probes[0].mark_started()
    app = create_app(settings, inbox, **app_kwargs)
    log = get_logger(component="inbox")
    log.info("inbox_listening", bind=settings.bind, team=settings.team,
             auth=settings.auth.mode, secure_cookies=not settings.on_loopback)
    config = uvicorn.Config(app, host=settings.bind_host, port=settings.bind_port,
                            proxy_headers=False, server_header=False, date_header=False,
                            access_log=False, log_config=None, lifespan="off")
    try:
        uvicorn.Server(config).run()
    finally:
        if probes is not None:
            probes[0].mark_draining()
            probes[1].stop()
        inbox.close()
