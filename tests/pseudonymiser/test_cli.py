"""`samenloop pseudonymiser serve` as an operator runs it: a process, a config file, SIGTERM."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner

from crypto import oprf
from crypto.pseudonyms import voprf_input
from samenloop.cli.main import app
from services.pseudonymiser.client import PseudonymiserClient
from tests.support.processes import start_server_process
from tests.support.services import GATEWAYS, DevPki


def _config(pki: DevPki, path: Path) -> Path:
    tls = pki.tls("pseudonymiser")
    path.write_text(yaml.safe_dump({
        "bind": "127.0.0.1:0",
        "tls": {"ca": str(tls.ca_cert), "cert": str(tls.cert), "key": str(tls.key)},
        "voprf_key": str(pki.key_file("pseudonymiser", "voprf")),
        "max_batch_size": 500,
        "organisations": {"gemeente-rotterdam": {"daily_elements": 1000,
                                                 "rate_per_second": 1000, "burst": 1000}},
    }))
    return path


def test_serve_answers_health_and_evaluations_then_stops_cleanly_on_sigterm(
    pki: DevPki, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    process, port = start_server_process(
        ["pseudonymiser", "serve", "--config", str(_config(pki, tmp_path / "p.yaml"))], log)
    try:
        channel = pki.channel(GATEWAYS["municipality"], port)
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="samenloop.v1.Pseudonymiser"), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        client = PseudonymiserClient(channel, pki.public_key("pseudonymiser", "voprf"))
        assert client.check_key().max_batch_size == 500
        client.evaluate([voprf_input("person", "123456782")])
        # A client without TLS fails the handshake; gRPC's C core would log that as a plain
        # text line on stderr unless told not to (GRPC_VERBOSITY, ADR 0016).
        with grpc.insecure_channel(f"127.0.0.1:{port}") as plain, pytest.raises(grpc.RpcError):
            plain.unary_unary("/samenloop.v1.Pseudonymiser/GetPublicKey")(b"", timeout=2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    # One JSON object per line, every line (gRPC's C core included), each naming the service.
    lines = log.read_text().splitlines()
    bad = [line for line in lines if not line.startswith("{")]
    assert not bad, bad
    events = [json.loads(line) for line in lines]
    assert {e["service"] for e in events} == {"pseudonymiser"}
    assert any(e["event"] == "server_started" and e["port"] == port for e in events)
    evaluated = [e for e in events if e["event"] == "batch_evaluated"]
    assert evaluated and evaluated[0]["organisation"] == "gemeente-rotterdam"
    assert evaluated[0]["elements"] == 1
    assert any(e["event"] == "server_stopped" for e in events)
    assert "123456782" not in log.read_text()


def test_public_key_prints_what_gateways_pin(pki: DevPki, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["pseudonymiser", "public-key", "--config", str(_config(pki, tmp_path / "p.yaml"))])
    assert result.exit_code == 0, result.output
    public = pki.public_key("pseudonymiser", "voprf")
    assert f"key_id: {oprf.public_key_id(public)}" in result.output


def test_a_missing_key_file_is_a_one_line_error(pki: DevPki, tmp_path: Path) -> None:
    config = _config(pki, tmp_path / "p.yaml")
    data = yaml.safe_load(config.read_text())
    data["voprf_key"] = str(tmp_path / "absent.key")
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["pseudonymiser", "public-key", "--config", str(config)])
    assert result.exit_code == 1
    assert "absent.key" in result.output and "Traceback" not in result.output
