"""The pseudonymiser's configuration: only listed organisations, each with its own quota."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError
from services.pseudonymiser.config import load_config
from services.pseudonymiser.quota import QuotaLimits

BASE = """\
bind: 127.0.0.1:7401
tls: {ca: ca.crt, cert: p.crt, key: p.key}
voprf_key: voprf.key
max_batch_size: 100
"""


def _load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "p.yaml"
    path.write_text(BASE + extra)
    return load_config(path)


def test_organisations_and_deny_list_are_read(tmp_path: Path) -> None:
    config = _load(tmp_path, """\
deny_list: revoked.txt
organisations:
  gemeente-rotterdam: {daily_elements: 5000000, rate_per_second: 50000, burst: 50000}
  "00000001003214345000": {daily_elements: 1000, rate_per_second: 100}
""")
    assert config.organisations == {  # type: ignore[attr-defined]
        "gemeente-rotterdam": QuotaLimits(5_000_000, 50_000.0, 50_000),
        "00000001003214345000": QuotaLimits(1000, 100.0, 100),
    }
    assert config.deny_list == tmp_path / "revoked.txt"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "message"), [
    ("", "`organisations` must list every organisation this pseudonymiser serves"),
    ("organisations: {}\n", "`organisations` must list every organisation"),
    ("quota: {default: {daily_elements: 1, rate_per_second: 1}}\n",
     "`quota` is gone: list each organisation served under `organisations:"),
    ("organisations: {a: {daily_elements: 10, rate_per_second: 1, burst: 5}}\n",
     "`organisations.a.burst` (5) is below max_batch_size (100)"),
])
def test_no_default_quota_and_clear_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        _load(tmp_path, extra)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(tmp_path / "p.yaml"))
