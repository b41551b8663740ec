"""`samenloop pki dev-setup` writes a working configuration for each of the four gateways."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.partner_gateway.settings import load_settings
from tests.gateway.conftest import (
    ORGS,
    ROOT,
    Deployment,
    MatcherProcess,
    gateway_config,
    run_cli,
)
from tests.support.services import GATEWAYS


def test_every_generated_gateway_config_validates(deployment: Deployment) -> None:
    base: Path = deployment.pki.directory
    for kind, component in GATEWAYS.items():
        settings = load_settings(base / f"{component}.yaml")
        assert settings.organisation == ORGS[kind] and settings.kind == kind
        assert settings.four_eyes is (kind == "mental_health")
        assert settings.controller == "gemeente-rotterdam"
        assert settings.mapping is not None and settings.mapping.is_file()
        if kind == "municipality":
            assert settings.link_mapping is not None and settings.link_mapping.is_file()
        # the witness pins the matcher's checkpoint key as dev-setup published it
        comps = deployment.pki.manifest["components"]
        assert isinstance(comps, dict)
        assert settings.checkpoint_vkey == comps["matcher"]["keys"]["checkpoint"]["note_vkey"]
        # and cosigns with the witness key whose public half the matcher registers
        witness = comps[component]["keys"]["witness"]
        assert settings.witness_key == (base / witness["file"]).resolve()
        matcher = yaml.safe_load((base / "matcher.yaml").read_text())
        assert matcher["partners"][ORGS[kind]]["witness_key"] == witness["public_file"]
        done = run_cli("gateway", "config-check", str(base / f"{component}.yaml"))
        assert done.returncode == 0, done.stderr
    readme = (base / "README.md").read_text()
    assert "samenloop gateway serve --config" in readme


def test_serve_runs_as_a_process_with_its_probe_port(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target,
                            health={"bind": "127.0.0.1:0"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "samenloop.cli.main", "gateway", "serve", "--config",
             str(config)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        port = None
        while port is None and process.poll() is None:
            for line in log.read_text().splitlines():
                if line.startswith("{") and json.loads(line).get("event") == "health_listening":
                    port = json.loads(line)["port"]
            time.sleep(0.1)
        assert port is not None, log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
