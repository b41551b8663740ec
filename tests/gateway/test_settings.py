"""The gateway's configuration: typed, with one clear line per mistake (no running services)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from services.common.config import ConfigError
from services.partner_gateway.settings import load_settings
from tests.gateway.conftest import Deployment, gateway_config, run_cli


@pytest.fixture
def config(deployment: Deployment, tmp_path: Path) -> Path:
    return gateway_config(deployment, tmp_path / "gw", "housing", "127.0.0.1:50052")


def rewrite(path: Path, **changes: object) -> Path:
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_complete_config_loads_with_defaults_and_relative_paths(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    data["data_dir"] = "./here"
    data.pop("batch_size")
    config.write_text(yaml.safe_dump(data))
    s = load_settings(config)
    assert s.kind == "housing"
    assert s.data_dir == (config.parent / "here").resolve()
    assert s.db_url == f"sqlite:///{config.parent.resolve() / 'here' / 'gateway.sqlite'}"
    assert s.batch_size == 1000
    assert s.limits.disclosures_per_day == 200 and s.limits.per_policy_per_day == 50
    assert s.four_eyes is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"batch_sise": 10}, "`batch_sise`: unknown setting; did you mean `batch_size`?"),
        ({"limits": {"disclosures_per_dag": 5}},
         "`limits.disclosures_per_dag`: unknown setting; did you mean `disclosures_per_day`?"),
        ({"matcher": "localhost"}, "`matcher`: 'localhost' has no port; write HOST:PORT"),
        ({"matcher": "127.0.0.1:99999"}, "`matcher`: port '99999'"),
        ({"kind": "bank"}, "`kind`: must be one of 'housing', 'police', 'mental_health' or "
                           "'municipality', got 'bank'"),
        ({"organisation": None}, "`organisation`: missing required setting"),
        ({"pseudonymiser_key_id": "voprf:xyz"},
         "`pseudonymiser_key_id`: 'voprf:xyz' is not a pseudonymiser key id"),
        ({"officer_trust": "/nonexistent/officers.yaml"},
         "`officer_trust`: /nonexistent/officers.yaml does not exist"),
        ({"batch_size": 0}, "`batch_size`: must be at least 1, got 0"),
        ({"limits": {"per_policy_per_day": -1}},
         "`limits.per_policy_per_day`: must be greater than 0"),
        ({"checkpoint_vkey": "samenloop.local/audit+0000abcd+AQ=="},
         "`checkpoint_vkey`: not a signed-note verifier key"),
        ({"checkpoint_vkey": "samenloop.local/audit"},
         "copy the matcher's `note_vkey`"),
        ({"witness_interval_seconds": 0}, "`witness_interval_seconds`: must be greater than 0"),
    ],
)
def test_mistakes_are_named_with_file_and_key(config: Path, change: dict[str, object],
                                              expected: str) -> None:
    rewrite(config, **change)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert message.startswith(f"{config}") and "\n" not in message
    assert expected in message


def test_a_group_readable_secret_key_is_refused_with_the_chmod(
        config: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(config.read_text())
    exposed = tmp_path / "vault.key"
    exposed.write_bytes(Path(data["vault_key"]).read_bytes())
    os.chmod(exposed, 0o640)
    rewrite(config, vault_key=str(exposed))
    with pytest.raises(ConfigError, match=f"run: chmod 600 {exposed}"):
        load_settings(config)


def test_the_environment_overrides_the_file(config: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMENLOOP_GATEWAY__BATCH_SIZE", "250")
    monkeypatch.setenv("SAMENLOOP_GATEWAY__LIMITS__DISCLOSURES_PER_DAY", "7")
    s = load_settings(config)
    assert s.batch_size == 250
    assert s.limits.disclosures_per_day == 7


def test_config_check_prints_the_effective_settings_without_secrets(config: Path) -> None:
    secret = Path(yaml.safe_load(config.read_text())["vault_key"]).read_text()
    done = run_cli("gateway", "config-check", str(config), "--json")
    assert done.returncode == 0, done.stderr
    effective = json.loads(done.stdout)
    assert effective["organisation"] == "woonstad-rotterdam" and effective["batch_size"] == 100
    assert effective["limits"] == {"disclosures_per_day": 200, "per_policy_per_day": 50}
    assert secret not in done.stdout
    broken = rewrite(config, batch_sise=1)
    done = run_cli("gateway", "config-check", str(broken))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "did you mean `batch_size`" in done.stderr
