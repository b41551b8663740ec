"""A deployment on loopback for the gateway tests: dev PKI, real pseudonymiser and matcher
processes over mTLS, and gateway configurations written as an operator would write them.

The gateway itself runs as `samenloop gateway …` subprocesses (so it can be killed), or
in-process through `Gateway` where a test looks at one decision.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.support.processes import start_server_process
from tests.support.services import GATEWAYS, DevPki, make_pki

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "partners"

ORGS = {
    "housing": "woonstad-rotterdam",
    "police": "politie-rotterdam",
    "mental_health": "ggz-delfland",
    "municipality": "gemeente-rotterdam",
}
PURPOSES = ["wams-gecoordineerde-aanpak", "wgs-vroegsignalering"]
OFFICER = "fg-gemeente-rotterdam"


@dataclass
class Deployment:
    pki: DevPki
    trust: Path
    pseudonymiser_port: int

    @property
    def voprf_key_id(self) -> str:
        comps = self.pki.manifest["components"]
        assert isinstance(comps, dict)
        return str(comps["pseudonymiser"]["keys"]["voprf"]["key_id"])

    def component_dir(self, component: str) -> Path:
        return self.pki.directory / component


def _dev_setup(directory: Path) -> tuple[DevPki, Path]:
    """What `samenloop pki dev-setup --dir D` writes: keys, certificates, configs, trust file."""
    from samenloop.deploy_configs import TRUST_FILE, write_deployment

    pki = make_pki(directory)
    write_deployment(directory, pki.manifest)
    return pki, directory / TRUST_FILE


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("deployment")
    pki, trust = _dev_setup(base / "pki")
    generated = yaml.safe_load((pki.directory / "pseudonymiser.yaml").read_text())
    config = pki.directory / "pseudonymiser-test.yaml"  # next to it: relative paths hold
    config.write_text(yaml.safe_dump({**generated, "bind": "127.0.0.1:0"}))
    process, port = start_server_process(["pseudonymiser", "serve", "--config", str(config)],
                                         base / "pseudonymiser.log")
    try:
        yield Deployment(pki, trust, port)
    finally:
        _stop(process)


@dataclass
class MatcherProcess:
    port: int
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url)

    def count_signals(self, partner: str) -> int:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(
                    "SELECT count(*) FROM signals WHERE partner = :p"), {"p": partner}
                ).scalar_one())
        finally:
            engine.dispose()

    def signal_ids(self, partner: str) -> list[str]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [r[0] for r in conn.execute(sa.text(
                    "SELECT signal_id FROM signals WHERE partner = :p"), {"p": partner})]
        finally:
            engine.dispose()


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samenloop.cli.main", *args], capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def matcher_config(deployment: Deployment, directory: Path) -> Path:
    """dev-setup's matcher.yaml, with its own data folder and any free port."""
    config = yaml.safe_load((deployment.pki.directory / "matcher.yaml").read_text())
    base = deployment.pki.directory
    for key in ("signing_key", "hmac_key", "officer_trust"):
        config[key] = str(base / config[key])
    config["tls"] = {k: str(base / v) for k, v in config["tls"].items()}
    for entry in config["partners"].values():
        for key in ("disclosure_key", "witness_key"):
            if entry.get(key):
                entry[key] = str(base / entry[key])
    config["audit"]["checkpoint_key"] = str(base / config["audit"]["checkpoint_key"])
    config.update(bind="127.0.0.1:0", data_dir=str(directory / "matcher-data"),
                  purge_interval_seconds=0)
    path = directory / "matcher.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start_matcher(deployment: Deployment, directory: Path) -> MatcherProcess:
    from services.common.db import migrate
    from services.matcher.config import MIGRATIONS

    directory.mkdir(parents=True)
    config = matcher_config(deployment, directory)
    url = f"sqlite:///{directory / 'matcher-data' / 'matcher.sqlite'}"
    (directory / "matcher-data").mkdir()
    migrate(MIGRATIONS, url)
    process, port = start_server_process(["matcher", "serve", "--config", str(config)],
                                         directory / "matcher.log")
    return MatcherProcess(port, url, process, directory / "matcher.log")


@pytest.fixture
def matcher(deployment: Deployment, tmp_path: Path) -> Iterator[MatcherProcess]:
    """A fresh matcher process (own SQLite database) for one test."""
    running = _start_matcher(deployment, tmp_path / "matcher")
    try:
        yield running
    finally:
        _stop(running.process)


@pytest.fixture(scope="module")
def shared_matcher(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[MatcherProcess]:
    """One matcher process for a module whose tests use disjoint partners or signal ids."""
    running = _start_matcher(deployment, tmp_path_factory.mktemp("shared") / "matcher")
    try:
        yield running
    finally:
        _stop(running.process)


def summary_counts(stdout: str) -> dict[str, int]:
    """The counts of the last summary block `ingest` printed (read, accepted, ...)."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key in ("read", "accepted", "refreshed", "duplicate", "rejected") and value.strip():
            counts[key] = int(value)
    return counts


def gateway_config(deployment: Deployment, directory: Path, kind: str, matcher_target: str,
                   **overrides: Any) -> Path:
    """dev-setup's `gateway-<org>.yaml` for partner `kind`, pointed at the running services.

    Paths are made absolute (the file is written elsewhere); `overrides` replace settings, a
    value None removes one.
    """
    base = deployment.pki.directory
    config: dict[str, Any] = yaml.safe_load((base / f"{GATEWAYS[kind]}.yaml").read_text())
    for key in ("pseudonymiser_public_key", "matcher_public_key", "disclosure_key",
                "vault_key", "officer_trust", "mapping", "link_mapping", "witness_key"):
        if config.get(key):
            config[key] = str(base / config[key])
    config["tls"] = {k: str(base / v) for k, v in config["tls"].items()}
    config.update(matcher=matcher_target,
                  pseudonymiser=f"127.0.0.1:{deployment.pseudonymiser_port}",
                  data_dir=str(directory / "data"), batch_size=100, log_level="INFO",
                  four_eyes=False)
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


