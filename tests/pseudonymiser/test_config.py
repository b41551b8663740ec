"""The pseudonymiser's configuration: only listed organisations, each with its own quota."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError
from services.pseudonymiser.config import PseudonymiserConfig, load_config
from services.pseudonymiser.quota import QuotaLimits
from tests.support.services import DevPki


def _load(pki: DevPki, tmp_path: Path, extra: str) -> PseudonymiserConfig:
    tls = pki.tls("pseudonymiser")
    path = tmp_path / "p.yaml"
    path.write_text(f"""\
bind: 127.0.0.1:7401
tls: {{ca: {tls.ca_cert}, cert: {tls.cert}, key: {tls.key}}}
voprf_key: {pki.key_file("pseudonymiser", "voprf")}
max_batch_size: 100
""" + extra)
    return load_config(path)


def test_organisations_and_deny_list_are_read(pki: DevPki, tmp_path: Path) -> None:
    (tmp_path / "revoked.txt").write_text("# none yet\n")
    config = _load(pki, tmp_path, """\
deny_list: revoked.txt
organisations:
  gemeente-rotterdam: {daily_elements: 5000000, rate_per_second: 50000, burst: 50000}
  "00000001003214345000": {daily_elements: 1000, rate_per_second: 100}
""")
    assert config.quota_limits() == {
        "gemeente-rotterdam": QuotaLimits(5_000_000, 50_000.0, 50_000),
        "00000001003214345000": QuotaLimits(1000, 100.0, 100),
    }
    assert config.deny_list == tmp_path / "revoked.txt"


@pytest.mark.parametrize(("extra", "message"), [
    ("", "`organisations`: missing required setting (the partner organisations served"),
    ("organisations: {}\n", "`organisations`: must not be empty"),
    ("quota: {default: {daily_elements: 1, rate_per_second: 1}}\n",
     "`quota`: unknown setting; per-partner limits are now `organisations: {ORG: "),
    ("organisations: {a: {daily_elements: 10, rate_per_second: 1, burst: 5}}\n",
     "`organisations.a.burst` (5) is below `max_batch_size` (100)"),
])
def test_no_default_quota_and_clear_errors(
    pki: DevPki, tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        _load(pki, tmp_path, extra)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(tmp_path / "p.yaml"))
