"""`samenloop pki`: the commands write what they say and fail with an actionable message."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from crypto.pki import identity_from_certificate
from samenloop.cli.pki import app

runner = CliRunner()


def test_init_ca_issue_and_identity(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    result = runner.invoke(app, ["init-ca", "--dir", str(d)])
    assert result.exit_code == 0, result.output
    assert (d / "ca" / "ca.crt").exists()
    result = runner.invoke(
        app,
        ["issue", "--dir", str(d), "--role", "gateway", "--org", "woonstad-rotterdam",
         "--name", "gw", "--dns", "gw.local", "--ip", "10.1.2.3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ident = identity_from_certificate((d / "gw" / "tls.crt").read_bytes())
    assert (ident.organisation, ident.role, ident.common_name) == (
        "woonstad-rotterdam",
        "gateway",
        "gw",
    )
    result = runner.invoke(app, ["identity", str(d / "gw" / "tls.crt"), "--json"])
    assert json.loads(result.output) == {
        "organisation": "woonstad-rotterdam",
        "organisation_name": "woonstad-rotterdam",
        "role": "gateway",
        "common_name": "gw",
    }


def test_issue_in_the_pkioverheid_layout_with_an_oin(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    assert runner.invoke(app, ["init-ca", "--dir", str(d)]).exit_code == 0
    oin = "00000001003214345000"
    result = runner.invoke(
        app,
        ["issue", "--dir", str(d), "--role", "gateway", "--org", "Gemeente Rotterdam",
         "--oin", oin, "--name", "gateway-gemeente"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"issued {oin}/gateway/gateway-gemeente" in result.output
    shown = runner.invoke(app, ["identity", str(d / "gateway-gemeente" / "tls.crt"), "--json"])
    assert json.loads(shown.output) == {
        "organisation": oin,
        "organisation_name": "Gemeente Rotterdam",
        "role": "gateway",
        "common_name": "gateway-gemeente",
    }
    bad = runner.invoke(
        app,
        ["issue", "--dir", str(d), "--role", "gateway", "--org", "Gemeente Rotterdam",
         "--oin", "12345", "--name", "gw2"],
    )  # fmt: skip
    assert bad.exit_code == 1
    assert bad.output.strip() == "error: OIN '12345' must be exactly 20 digits"


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["issue", "--dir", str(tmp_path), "--role", "gateway", "--org", "o", "--name", "n"]
    )
    assert result.exit_code == 1
    assert "samenloop pki init-ca" in result.output
    runner.invoke(app, ["init-ca", "--dir", str(tmp_path)])
    result = runner.invoke(app, ["init-ca", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(
        app, ["issue", "--dir", str(tmp_path), "--role", "root", "--org", "o", "--name", "n"]
    )
    assert result.exit_code == 1 and "unknown role" in result.output


def test_keygen(tmp_path: Path) -> None:
    out = tmp_path / "officer.key"
    result = runner.invoke(app, ["keygen", "--kind", "ed25519", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "key_id: ed25519:" in result.output
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert (tmp_path / "officer.key.pub").exists()
    again = runner.invoke(app, ["keygen", "--kind", "ed25519", "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(app, ["keygen", "--kind", "rsa", "--out", str(tmp_path / "r")])
    assert bad.exit_code == 2


def test_dev_setup(tmp_path: Path) -> None:
    d = tmp_path / "dev"
    result = runner.invoke(app, ["dev-setup", "--dir", str(d)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((d / "manifest.json").read_text())
    assert "wijkteam-feijenoord" in manifest["components"]
    assert "voprf:" in result.output
    again = runner.invoke(app, ["dev-setup", "--dir", str(d)])
    assert again.exit_code == 1 and "not empty" in again.output


def test_registered_in_the_main_cli() -> None:
    from samenloop.cli.main import app as main_app

    result = runner.invoke(main_app, ["pki", "--help"])
    assert result.exit_code == 0
    assert "dev-setup" in result.output
