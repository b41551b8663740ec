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


def _trust_file(pki: DevPki) -> Path:
    comps = pki.manifest["components"]
    assert isinstance(comps, dict)
    officers = [
        {"officer_id": name, "role": c["role"], "public_key": c["keys"]["signing"]["public"]}
        for name, c in comps.items() if c["role"] in ("privacy_officer", "independent_review")
    ]
    path = pki.directory / "officers.yaml"
    path.write_text(yaml.safe_dump({"format": "samenloop-officers/v1", "officers": officers}))
    return path


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
    pki = make_pki(base / "pki")
    trust = _trust_file(pki)
    config = base / "pseudonymiser.yaml"
    config.write_text(yaml.safe_dump({
        "bind": "127.0.0.1:0",
        "tls": {"ca": str(pki.directory / "ca" / "ca.crt"),
                "cert": str(pki.directory / "pseudonymiser" / "tls.crt"),
                "key": str(pki.directory / "pseudonymiser" / "tls.key")},
        "voprf_key": str(pki.key_file("pseudonymiser", "voprf")),
        "max_batch_size": 1000,
        "organisations": {org: {"daily_elements": 10_000_000, "rate_per_second": 1_000_000,
                                "burst": 1_000_000} for org in ORGS.values()},
    }))
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
    pki = deployment.pki
    partners: dict[str, Any] = {}
    for kind, org in ORGS.items():
        entry: dict[str, Any] = {"kind": kind, "purposes": PURPOSES}
        disclosure_pub = pki.directory / f"gateway-{org}" / "disclosure.key.pub"
        if disclosure_pub.exists():
            entry["disclosure_key"] = str(disclosure_pub)
        partners[org] = entry
    config = {
        "bind": "127.0.0.1:0",
        "data_dir": str(directory / "matcher-data"),
        "municipality": "GM0599",
        "pki_dir": str(pki.directory),
        "component": "matcher",
        "officer_trust": str(deployment.trust),
        "pseudonymiser_key_ids": [deployment.voprf_key_id],
        "partners": partners,
        "purge_interval_seconds": 0,
        "log_level": "WARNING",
    }
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
    """What an operator writes for the gateway of partner `kind` (paths into the dev PKI)."""
    pki = deployment.pki.directory
    org = ORGS[kind]
    comp = pki / GATEWAYS[kind]
    examples = {"housing": "woonstichting", "police": "politie", "mental_health": "ggz",
                "municipality": "gemeente"}[kind]
    config: dict[str, Any] = {
        "organisation": org,
        "kind": kind,
        "matcher": matcher_target,
        "pseudonymiser": f"127.0.0.1:{deployment.pseudonymiser_port}",
        "pseudonymiser_key_id": deployment.voprf_key_id,
        "pseudonymiser_public_key": str(pki / "pseudonymiser" / "voprf.key.pub"),
        "matcher_public_key": str(pki / "matcher" / "signing.key.pub"),
        "tls": {"ca": str(pki / "ca" / "ca.crt"), "cert": str(comp / "tls.crt"),
                "key": str(comp / "tls.key")},
        "disclosure_key": str(comp / "disclosure.key"),
        "vault_key": str(comp / "vault.key"),
        "data_dir": str(directory / "data"),
        "mapping": str(EXAMPLES / examples / "mapping.yaml"),
        "officer_trust": str(deployment.trust),
        "controller": "gemeente-rotterdam",
        "batch_size": 100,
        "log_level": "INFO",
    }
    if kind == "municipality":
        config["link_mapping"] = str(EXAMPLES / "gemeente" / "links-mapping.yaml")
    config.update(overrides)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
