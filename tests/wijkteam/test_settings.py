"""The inbox's typed settings: one line per mistake, env overrides, private key files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from services.common.config import ConfigError
from services.wijkteam.settings import load_inbox_settings
from tests.support.services import DevPki
from tests.wijkteam.helpers import write_config


def test_defaults_serve_loopback_with_local_accounts(dev: DevPki, tmp_path: Path) -> None:
    settings = load_inbox_settings(write_config(tmp_path, dev.directory))
    assert settings.bind == "127.0.0.1:8470" and settings.on_loopback
    assert settings.auth.mode == "local" and settings.language == "nl"


def test_unknown_keys_are_refused_with_a_suggestion(dev: DevPki, tmp_path: Path) -> None:
    path = write_config(tmp_path, dev.directory, partner_kyes={}, login={"max_failurs": 3})
    with pytest.raises(ConfigError) as err:
        load_inbox_settings(path)
    text = str(err.value)
    assert "`partner_kyes`: unknown setting; did you mean `partner_keys`?" in text
    assert "`login.max_failurs`: unknown setting; did you mean `max_failures`?" in text
    assert all(line.startswith(f"{path}:") for line in text.splitlines())


@pytest.mark.parametrize(("bind", "message"), [
    ("localhost", "has no port"),
    ("127.0.0.1:99999", r"is not a number from 0 \(any free port\) to 65535"),
    ("bad host:80", "is not a host name"),
])
def test_bind_is_host_and_port(dev: DevPki, tmp_path: Path, bind: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_inbox_settings(write_config(tmp_path, dev.directory, bind=bind))


def test_a_key_file_readable_by_others_is_refused_naming_chmod(
        dev: DevPki, tmp_path: Path) -> None:
    key = tmp_path / "inbox.key"
    key.write_bytes((dev.directory / "wijkteam-feijenoord" / "inbox.key").read_bytes())
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError) as err:
        load_inbox_settings(write_config(tmp_path, dev.directory, inbox_key=str(key)))
    assert "`inbox_key`:" in str(err.value) and f"chmod 600 {key}" in str(err.value)


def test_relative_paths_and_environment_overrides(
        dev: DevPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, dev.directory, users_file="users.json")
    monkeypatch.setenv("SAMENLOOP_INBOX__BIND", "0.0.0.0:9000")
    monkeypatch.setenv("SAMENLOOP_INBOX__AUTH__MODE", "proxy")
    settings = load_inbox_settings(path)
    assert settings.users_file == tmp_path / "users.json"
    assert settings.bind == "0.0.0.0:9000" and not settings.on_loopback  # cookies get Secure
    assert settings.auth.mode == "proxy"


def test_missing_required_and_unreadable_files(dev: DevPki, tmp_path: Path) -> None:
    path = write_config(tmp_path, dev.directory)
    doc = yaml.safe_load(path.read_text())
    del doc["team"]
    doc["tls"]["ca"] = str(tmp_path / "nope.crt")
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        load_inbox_settings(path)
    text = str(err.value)
    assert f"{path}: `team`: missing required setting" in text
    assert f"`tls.ca`: {tmp_path / 'nope.crt'} does not exist" in text


def test_the_inbox_starts_from_what_dev_setup_writes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from samenloop.cli.main import app as cli

    runner = CliRunner()
    done = runner.invoke(cli, ["pki", "dev-setup", "--dir", str(tmp_path / "dev")])
    assert done.exit_code == 0, done.output
    config = tmp_path / "dev" / "inbox-wijkteam-feijenoord.yaml"
    settings = load_inbox_settings(config)
    assert settings.team == "wijkteam-feijenoord" and settings.bind == "127.0.0.1:8470"
    assert settings.users_file == tmp_path / "dev" / "wijkteam-feijenoord-data" / \
        "inbox-users.json"
    checked = runner.invoke(cli, ["inbox", "config-check", str(config)])
    assert checked.exit_code == 0 and "configuration OK" in checked.output
    readme = (tmp_path / "dev" / "README.md").read_text()
    assert f"samenloop inbox serve --config {tmp_path / 'dev'}/inbox-wijkteam-feijenoord.yaml" \
        in readme
