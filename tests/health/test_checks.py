"""The readiness checks against real things: a database, a running pseudonymiser."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import create_engine, migrate
from services.common.health_http import database_check, grpc_peer_check
from services.common.server import RunningServer
from services.common.tls import secure_channel
from services.matcher.config import MIGRATIONS
from tests.support.services import DevPki, pseudonymiser_config, start_pseudonymiser


def test_database_check_follows_the_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        check = database_check(engine, MIGRATIONS, "samenloop matcher migrate")
        assert check() == "not migrated"
        migrate(MIGRATIONS, db_url)
        assert check() is None
    finally:
        engine.dispose()


def test_database_check_says_unreachable(tmp_path: Path) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none",
                           connect_args={"connect_timeout": 2})
    try:
        assert database_check(engine, MIGRATIONS, "x")() == "unreachable"
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pseudonymiser(pki: DevPki) -> Iterator[RunningServer]:
    running = start_pseudonymiser(pseudonymiser_config(pki))
    yield running
    running.stop(0)


def test_a_gateway_sees_its_peer_over_its_own_mtls_channel(
    pki: DevPki, pseudonymiser: RunningServer
) -> None:
    channel = secure_channel(f"127.0.0.1:{pseudonymiser.port}",
                             pki.tls("gateway-woonstad-rotterdam"), server_role="pseudonymiser")
    try:
        assert grpc_peer_check(channel)() is None
    finally:
        channel.close()


def test_a_peer_that_is_down_is_unreachable(pki: DevPki) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    channel = secure_channel(f"127.0.0.1:{port}", pki.tls("gateway-woonstad-rotterdam"),
                             server_role="pseudonymiser")
    try:
        assert grpc_peer_check(channel, timeout=1.0)() == "unreachable"
    finally:
        channel.close()


def test_a_peer_reporting_not_serving_is_not_ready(
    pki: DevPki, pseudonymiser: RunningServer
) -> None:
    from grpc_health.v1 import health_pb2

    channel = secure_channel(f"127.0.0.1:{pseudonymiser.port}",
                             pki.tls("gateway-woonstad-rotterdam"), server_role="pseudonymiser")
    try:
        pseudonymiser.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert grpc_peer_check(channel)() == "not serving"
    finally:
        pseudonymiser.health.set("", health_pb2.HealthCheckResponse.SERVING)
        channel.close()
