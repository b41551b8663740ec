"""`samenloop pki dev-setup` writes a working configuration for each of the four gateways."""

from __future__ import annotations

from pathlib import Path

from services.partner_gateway.settings import load_settings
from tests.gateway.conftest import ORGS, Deployment, run_cli
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
        done = run_cli("gateway", "config-check", str(base / f"{component}.yaml"))
        assert done.returncode == 0, done.stderr
    readme = (base / "README.md").read_text()
    assert "samenloop gateway serve --config" in readme
