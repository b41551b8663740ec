"""`samenloop pki dev-setup --dir D` writes a deployment that runs: every existing service starts
from the generated files alone and answers a health check; the CLI defaults line up (issue 11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from typer.testing import CliRunner

from samenloop.cli.main import app
from samenloop.deploy_configs import default_officer
from services.common.tls import TlsMaterial, secure_channel
from tests.support.processes import start_server_process

GATEWAYS = ["gateway-gemeente-rotterdam", "gateway-ggz-delfland", "gateway-politie-rotterdam",
            "gateway-woonstad-rotterdam"]


def test_dev_setup_writes_every_config_the_trust_file_and_a_readme(generated: Path) -> None:
    for name in ["pseudonymiser.yaml", "matcher.yaml", "officers.yaml", "README.md",
                 "inbox-wijkteam-feijenoord.yaml", *[f"{g}.yaml" for g in GATEWAYS]]:
        assert (generated / name).is_file(), name
    readme = (generated / "README.md").read_text()
    for command in (f"samenloop pseudonymiser serve --config {generated}/pseudonymiser.yaml",
                    f"samenloop matcher migrate --config {generated}/matcher.yaml",
                    f"samenloop matcher serve --config {generated}/matcher.yaml",
                    f"samenloop policy list --tls-dir {generated}"):
        assert command in readme
    manifest = json.loads((generated / "manifest.json").read_text())
    trust = yaml.safe_load((generated / "officers.yaml").read_text())
    expected = {name: (c["organisation"], c["role"], c["keys"]["signing"]["public"])
                for name, c in manifest["components"].items()
                if c["role"] in ("privacy_officer", "independent_review")}
    from policies.trust import load_trust

    officers = load_trust(generated / "officers.yaml")  # the parser the services use
    # Every officer with the organisation of its manifest entry (trust file v2).
    assert {o["officer_id"]: (o["organisation"], o["role"], o["public_key"])
            for o in trust["officers"]} == expected
    assert len(officers) == 3
    assert {o.officer_id: o.organisation for o in officers.officers} == {
        name: org for name, (org, _, _) in expected.items()}
    assert len(expected) == 3


def test_gateway_and_inbox_configs_point_at_the_services_and_pin_the_key(generated: Path) -> None:
    manifest = json.loads((generated / "manifest.json").read_text())
    voprf = manifest["components"]["pseudonymiser"]["keys"]["voprf"]
    matcher = yaml.safe_load((generated / "matcher.yaml").read_text())
    pseudonymiser = yaml.safe_load((generated / "pseudonymiser.yaml").read_text())
    for gateway in GATEWAYS:
        config = yaml.safe_load((generated / f"{gateway}.yaml").read_text())
        assert config["matcher"] == matcher["bind"]
        assert config["pseudonymiser"] == pseudonymiser["bind"]
        assert config["pseudonymiser_key_id"] == voprf["key_id"]
        for path in (*config["tls"].values(), config["vault_key"], config["mapping"],
                     config["pseudonymiser_public_key"], config["officer_trust"]):
            assert (generated / path).is_file(), path
        assert config["organisation"] in pseudonymiser["organisations"]
        assert config["organisation"] in matcher["partners"]
    inbox = yaml.safe_load((generated / "inbox-wijkteam-feijenoord.yaml").read_text())
    assert inbox["matcher"] == matcher["bind"]
    assert (generated / inbox["inbox_key"]).is_file()


def test_the_policy_cli_defaults_name_what_dev_setup_writes(generated: Path) -> None:
    import typer.main

    group = typer.main.get_command(app)
    command = group.commands["policy"].commands["list"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}
    assert (generated / defaults["tls_name"] / "tls.crt").is_file()
    manifest = json.loads((generated / "manifest.json").read_text())
    assert defaults["tls_name"] == default_officer(manifest)  # the controller's officer
    assert yaml.safe_load((generated / "matcher.yaml").read_text())["bind"] == defaults["matcher"]


# ---------------------------------------------------------------------------------------------
# Every service starts from the generated files


def _health(tls: TlsMaterial, port: int, service: str, role: str) -> int:
    channel = secure_channel(f"127.0.0.1:{port}", tls, server_role=role)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=20)
        return int(reply.status)
    finally:
        channel.close()


@pytest.fixture
def any_port() -> Iterator[None]:
    """Fixed ports collide on a shared test machine: bind port 0 through the environment (the
    documented override); everything else comes from the generated files."""
    os.environ["SAMENLOOP_PSEUDONYMISER__BIND"] = "127.0.0.1:0"
    os.environ["SAMENLOOP_MATCHER__BIND"] = "127.0.0.1:0"
    yield
    del os.environ["SAMENLOOP_PSEUDONYMISER__BIND"], os.environ["SAMENLOOP_MATCHER__BIND"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def test_every_service_starts_from_the_generated_files_and_is_healthy(
    deployment: Path, tmp_path: Path, any_port: None
) -> None:
    officer = TlsMaterial.from_dir(deployment, "fg-gemeente-rotterdam")
    pseudonymiser, p_port = start_server_process(
        ["pseudonymiser", "serve", "--config", str(deployment / "pseudonymiser.yaml")],
        tmp_path / "pseudonymiser.log")
    try:
        assert _health(officer, p_port, "samenloop.v1.Pseudonymiser", "pseudonymiser") == \
            health_pb2.HealthCheckResponse.SERVING
        migrate = CliRunner().invoke(
            app, ["matcher", "migrate", "--config", str(deployment / "matcher.yaml")])
        assert migrate.exit_code == 0, migrate.output
        matcher, m_port = start_server_process(
            ["matcher", "serve", "--config", str(deployment / "matcher.yaml")],
            tmp_path / "matcher.log")
        try:
            for service in ("samenloop.v1.PartnerService", "samenloop.v1.PolicyService"):
                assert _health(officer, m_port, service, "matcher") == \
                    health_pb2.HealthCheckResponse.SERVING
            # the policy CLI with its defaults (officer folder in --tls-dir) reaches it
            listed = CliRunner().invoke(app, ["policy", "list", "--tls-dir", str(deployment),
                                              "--matcher", f"127.0.0.1:{m_port}"])
            assert listed.exit_code == 0, listed.output
        finally:
            _stop(matcher)
    finally:
        _stop(pseudonymiser)
