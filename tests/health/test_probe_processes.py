"""The probes as Kubernetes uses them: real `samenloop … serve` processes, plain HTTP, no
certificate. Configurations come from `samenloop pki dev-setup`; the health port is switched on
through the environment (`SAMENLOOP_<SERVICE>__HEALTH__BIND`), as the chart could."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from samenloop.cli.main import app
from tests.health.probe import checks, probe


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("deploy") / "dev"
    result = CliRunner().invoke(app, ["pki", "dev-setup", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def _env(service: str, *, metrics: bool = False) -> dict[str, str]:
    prefix = f"SAMENLOOP_{service.upper()}__"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENLOOP_")}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    env[f"{prefix}BIND"] = "127.0.0.1:0"
    env[f"{prefix}HEALTH__BIND"] = "127.0.0.1:0"
    if metrics:
        env[f"{prefix}HEALTH__METRICS"] = "true"
    return env


class Service:
    """A `samenloop … serve` process and the ports its log announces."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "samenloop.cli.main", *args],
                                            stdout=out, stderr=subprocess.STDOUT, env=env)

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def wait_for(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if e.get("event") == event:
                    return e
            if self.process.poll() is not None:
                raise AssertionError(f"exited before {event}:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"no {event} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Service]]:
    services: list[Service] = []
    yield services
    for service in services:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(10)


def _until(port: int, path: str, status: int, attempts: int = 300,
           showing: str | None = None) -> dict[str, Any]:
    """Probe like a kubelet (every 0.1 s here) until `status` (and a check reading `showing`);
    the checks seen last."""
    seen: tuple[int, dict[str, Any]] = (0, {})
    for _ in range(attempts):
        seen = checks(port, path)
        if seen[0] == status and (showing is None or showing in seen[1].values()):
            return seen[1]
        time.sleep(0.1)
    raise AssertionError(f"{path} stayed {seen}")


def test_pseudonymiser_probes(deployment: Path, tmp_path: Path, started: list[Service]) -> None:
    service = Service(["pseudonymiser", "serve", "--config",
                       str(deployment / "pseudonymiser.yaml")],
                      _env("pseudonymiser"), tmp_path / "pseudonymiser.log")
    started.append(service)
    port = service.wait_for("health_listening")["port"]
    service.wait_for("server_started")
    assert checks(port, "/healthz") == (200, {})
    assert _until(port, "/readyz", 200) == {"keys": "ok", "certificate": "ok"}
    assert probe(port, "/metrics")[0] == 404  # metrics are off unless configured
    assert service.stop() == 0


def test_matcher_is_not_ready_until_its_database_is_migrated(
    deployment: Path, tmp_path: Path, started: list[Service]
) -> None:
    config = deployment / "matcher.yaml"
    env = _env("matcher", metrics=True)
    env["SAMENLOOP_MATCHER__DATA_DIR"] = str(tmp_path / "matcher-data")  # a fresh database
    service = Service(["matcher", "serve", "--config", str(config)], env, tmp_path / "m.log")
    started.append(service)
    port = service.wait_for("health_listening")["port"]
    # Alive, waiting for the schema, not ready; no gRPC port yet.
    assert checks(port, "/healthz") == (200, {})
    assert checks(port, "/readyz")[0] == 503  # "starting", then:
    assert service.wait_for("waiting_for_database")["reason"] == "database not migrated"
    assert _until(port, "/readyz", 503, showing="database not migrated") == {
        "service": "database not migrated"}
    assert not [e for e in service.events() if e.get("event") == "server_started"]

    migrate = subprocess.run([sys.executable, "-m", "samenloop.cli.main", "matcher", "migrate",
                              "--config", str(config)], env=env, capture_output=True,
                             text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    assert _until(port, "/readyz", 200) == {"database": "ok", "keys": "ok", "certificate": "ok"}
    service.wait_for("server_started")
    status, headers, body = probe(port, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert b"samenloop_reveal_requests_pending 0\n" in body

    # The schema is taken away under a running matcher (a restore of an old dump, a
    # downgrade): readiness follows at once, liveness does not.
    database = tmp_path / "matcher-data" / "matcher.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM alembic_version")
    assert _until(port, "/readyz", 503, showing="not migrated")["database"] == "not migrated"
    assert checks(port, "/healthz")[0] == 200
    assert service.stop() == 0


def test_health_port_is_off_by_default(deployment: Path) -> None:
    for name in ("matcher.yaml", "pseudonymiser.yaml"):
        assert "health" not in yaml.safe_load((deployment / name).read_text())
    from services.matcher.config import load_config

    env_before = dict(os.environ)
    try:
        for key in list(os.environ):
            if key.startswith("SAMENLOOP_"):
                del os.environ[key]
        assert load_config(deployment / "matcher.yaml").health is None
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def test_a_misspelt_health_setting_is_one_line(deployment: Path, tmp_path: Path) -> None:
    config = tmp_path / "pseudonymiser.yaml"
    data = yaml.safe_load((deployment / "pseudonymiser.yaml").read_text())
    data["health"] = {"bnd": "0.0.0.0:8081"}
    for key in ("tls", "voprf_key"):  # keep the paths pointing at the deployment
        data[key] = ({k: str((deployment / v).resolve()) for k, v in data[key].items()}
                     if isinstance(data[key], dict) else str((deployment / data[key]).resolve()))
    config.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENLOOP_")}
    result = subprocess.run([sys.executable, "-m", "samenloop.cli.main", "pseudonymiser",
                             "config-check", str(config)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert any("health.bnd" in ln and "did you mean `bind`" in ln for ln in lines), lines
