"""`samenloop policy` against a real matcher on loopback over mTLS: simulate, publish, list,
fairness, revoke. The matcher is started in-process from its own configuration; signals reach it
through its service API as a gateway's would (the gateway itself is not under test here)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from crypto.devsetup import dev_setup
from crypto.signing import VerifyKey
from samenloop.cli.main import app
from tests.support.services import matcher_files

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
# The matcher's clock starts at the real time when the deployment starts (not at collection:
# a long suite would leave it minutes behind the officers' real clock, and an approval dated
# after the matcher's clock does not count). Nothing here pins a date.


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _on() -> str:
    return _now().date().isoformat()


def adopt(name: str, dest: Path) -> None:
    """Copy a library policy, valid from a month ago until a year from now (as adopted today)."""
    text = (LIBRARY / name).read_text(encoding="utf-8")
    today = _now().date()
    valid_from, valid_until = today - timedelta(days=30), today + timedelta(days=365)
    text = re.sub(r"(?m)^valid_from: .*$", f"valid_from: {valid_from}", text)
    text = re.sub(r"(?m)^valid_until: .*$", f"valid_until: {valid_until}", text)
    dest.write_text(text, encoding="utf-8")


OFFICERS = {
    "fg-gemeente-rotterdam": ("privacy_officer", "gemeente-rotterdam"),
    "po-woonstad-rotterdam": ("privacy_officer", "woonstad-rotterdam"),
    "independent-reviewer": ("independent_review", "onafhankelijke-toetsing"),
}
KEY_ID = "voprf:00000000000000aa"
runner = CliRunner()


@dataclass
class Deployment:
    pki: Path
    trust: Path
    address: str
    matcher: object

    def cli(self, *args: str, remote: bool = True) -> tuple[int, str]:
        extra = (
            [
                "--matcher",
                self.address,
                "--tls-dir",
                str(self.pki),
                "--tls-name",
                "fg-gemeente-rotterdam",
            ]
            if remote
            else []
        )
        result = runner.invoke(app, ["policy", *args, *extra])
        return result.exit_code, result.output


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from services.common.db import migrate
    from services.matcher.clock import SettableClock
    from services.matcher.config import MIGRATIONS, load_config
    from services.matcher.server import build_matcher, serve

    base = tmp_path_factory.mktemp("e2e")
    pki = base / "pki"
    dev_setup(pki)
    trust = base / "officers.yaml"
    trust.write_text(
        yaml.safe_dump(
            {
                "format": "samenloop-officers/v2",
                "officers": [
                    {
                        "officer_id": name,
                        "organisation": organisation,
                        "role": role,
                        "public_key": VerifyKey.load(pki / name / "signing.key.pub").to_base64(),
                    }
                    for name, (role, organisation) in OFFICERS.items()
                ],
            }
        )
    )
    config_file = base / "matcher.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "bind": "127.0.0.1:0",
                "data_dir": str(base / "data"),
                **matcher_files(pki),
                "controller": "gemeente-rotterdam",
                "officer_trust": str(trust),
                "municipality": "GM9999",
                "pseudonymiser_key_ids": [KEY_ID],
                "partners": {
                    "woonstad-rotterdam": {
                        "kind": "housing",
                        "purposes": ["wams-gecoordineerde-aanpak", "wgs-vroegsignalering"],
                    },
                },
                "purge_interval_seconds": 0,
            }
        )
    )
    (base / "data").mkdir()
    config = load_config(config_file)
    migrate(MIGRATIONS, config.url)
    matcher = build_matcher(config, clock=SettableClock(_now()))
    server = serve(matcher, bind="127.0.0.1:0", tls=config.tls_material)
    try:
        yield Deployment(pki, trust, f"localhost:{server.port}", matcher)
    finally:
        server.stop(0)


def submit(matcher: object, households: dict[str, list[str]], area: str) -> None:
    """One batch from the housing corporation: each household gets the given signal types."""
    from services.matcher.service import Caller
    from services.matcher.validation import PseudonymIn, SignalIn

    rows = []
    for hh, types in households.items():
        pseudo = PseudonymIn(voprf_output=hh.encode().ljust(64, b"\0"), key_id=KEY_ID)
        for t in types:
            rows.append(
                SignalIn(
                    signal_id=f"{hh}-{t}",
                    signal_type=t,
                    observed_on=(_now().date() - timedelta(days=20)).isoformat(),
                    purpose="wams-gecoordineerde-aanpak",
                    household=pseudo,
                    person=None,
                    escalated=False,
                    area_code=area,
                    catalogue_version="",
                )
            )
    result = matcher.submit_signals(  # type: ignore[attr-defined]
        Caller("woonstad-rotterdam", "gateway"), f"batch-{area}", rows
    )
    assert result.count("accepted") == len(rows), result


BOTH = ["woonoverlast_melding", "huurachterstand"]


def test_simulate_publish_list_fairness_revoke(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    submit(d.matcher, {f"a{i}": BOTH for i in range(8)}, "9901")
    submit(d.matcher, {f"b{i}": BOTH for i in range(6)}, "9902")
    submit(
        d.matcher,
        {f"c{i}": BOTH for i in range(2)} | {f"n{i}": ["woonoverlast_melding"] for i in range(10)},
        "9903",
    )

    policy = tmp_path / "wams-overlast-schulden.yaml"
    adopt(policy.name, policy)

    # simulate: an unsigned policy, no alerts created, small cells hidden
    code, out = d.cli("simulate", str(policy), "--as-of", _on())
    assert code == 0, out
    assert "households evaluated: 26" in out
    assert "households flagged:   16" in out
    assert "financien + huisvesting + sociaal_netwerk  16" in out
    lines = {
        ln.split()[0]: ln.split()[1]
        for ln in out.splitlines()
        if ln[:4] in {"9901", "9902", "9903"}
    }
    assert lines == {"9901": "8", "9902": "<5", "9903": "<5"}

    # publish refuses an unsigned policy, locally and at the matcher
    code, out = d.cli("publish", str(policy), "--as-of", _on())
    assert code == 1 and "FAILED_PRECONDITION" in out and "2 distinct privacy officers" in out

    for officer in ("fg-gemeente-rotterdam", "po-woonstad-rotterdam"):
        code, out = d.cli(
            "sign",
            str(policy),
            "--key",
            str(d.pki / officer / "signing.key"),
            "--officer",
            officer,
            "--officer-trust",
            str(d.trust),
            "--as-of",
            _on(),
            remote=False,
        )
        assert code == 0, out
    code, out = d.cli("publish", str(policy), "--officer-trust", str(d.trust), "--as-of", _on())
    assert code == 0, out
    assert "state    active" in out and "wams-overlast-schulden@1" in out

    code, out = d.cli("list")
    assert code == 0 and "wams-overlast-schulden" in out and "active" in out

    code, out = d.cli("fairness", "wams-overlast-schulden")
    assert code == 0, out
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln[:2] == "99"}
    # signals the policy can see per area; an on-request policy raised no alerts (hidden: <5)
    assert rows == {"9901": ["16", "<5", "-"], "9902": ["12", "<5", "-"], "9903": ["14", "<5", "-"]}

    # a changed character after signing: the matcher refuses it too
    tampered = tmp_path / "tampered.yaml"
    tampered.write_text(policy.read_text().replace("version: 1", "version: 2"))
    code, out = d.cli("publish", str(tampered), "--as-of", _on())
    assert code == 1 and "FAILED_PRECONDITION" in out
    assert "wams-overlast-schulden@2 is not in force" in out and "has 0 (none)" in out

    # revoke: a statement signed with the officer's key (--key, as for sign)
    revoke = ["revoke", "wams-overlast-schulden", "--yes", "--officer"]
    code, out = d.cli(*revoke, "fg-gemeente-rotterdam", "--reason", "test: end of pilot",
                      "--key", str(d.pki / "fg-gemeente-rotterdam" / "signing.key"))
    assert code == 2 and "not a reason code" in out  # free text is refused before signing
    code, out = d.cli(*revoke, "po-woonstad-rotterdam", "--reason", "end_of_use",
                      "--key", str(d.pki / "po-woonstad-rotterdam" / "signing.key"))
    assert code == 1 and "PERMISSION_DENIED" in out and "not of the controller" in out
    code, out = d.cli(*revoke, "fg-gemeente-rotterdam", "--reason", "end_of_use",
                      "--key", str(d.pki / "fg-gemeente-rotterdam" / "signing.key"),
                      "--digest", "0" * 64)
    assert code == 1 and "nothing was revoked" in out
    code, out = d.cli(*revoke, "fg-gemeente-rotterdam", "--reason", "end_of_use",
                      "--key", str(d.pki / "fg-gemeente-rotterdam" / "signing.key"))
    assert code == 0, out
    assert "state    revoked" in out and "end_of_use" in out
    assert "signed by fg-gemeente-rotterdam" in out
    code, out = d.cli("list")
    assert code == 0 and "no published policies in force" in out
    code, out = d.cli("list", "--all")
    assert code == 0 and "revoked" in out
    code, out = d.cli("publish", str(policy), "--as-of", _on())
    assert code == 1 and "revoked" in out


def test_wrong_role_certificate_is_refused(deployment: Deployment, tmp_path: Path) -> None:
    """A gateway may read policies (it verifies them itself) but never see a fairness report
    (nor publish or revoke: tests/matcher/test_authorization.py has every cell)."""
    d = deployment
    result = runner.invoke(
        app,
        [
            "policy",
            "fairness",
            "some-policy",
            "--matcher",
            d.address,
            "--tls-dir",
            str(d.pki),
            "--tls-name",
            "gateway-woonstad-rotterdam",
        ],
    )
    assert result.exit_code == 1
    assert "PERMISSION_DENIED" in result.output


def test_unreachable_matcher_is_a_clear_error(deployment: Deployment) -> None:
    os.environ.pop("SAMENLOOP_MATCHER", None)
    result = runner.invoke(
        app,
        [
            "policy",
            "list",
            "--matcher",
            "localhost:1",
            "--tls-dir",
            str(deployment.pki),
            "--tls-name",
            "fg-gemeente-rotterdam",
        ],
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: cannot reach localhost:1 (Connection refused); is the server running there, "
        "and is the address right?")


def test_the_matcher_refuses_an_approval_from_the_future(
    deployment: Deployment, tmp_path: Path
) -> None:
    """One officer signs now, the other's approval says 2099: the matcher counts one, says why."""
    from crypto.keys import load_signing_key
    from policies.approvals import sign_policy
    from policies.model import ApprovalRole, load_policy
    from policies.yamledit import append_approval

    d = deployment
    policy = tmp_path / "jeugd-verzuim-huiselijk-geweld.yaml"
    adopt(policy.name, policy)
    code, out = d.cli(
        "sign", str(policy), "--key", str(d.pki / "fg-gemeente-rotterdam" / "signing.key"),
        "--officer", "fg-gemeente-rotterdam", "--officer-trust", str(d.trust), remote=False,
    )
    assert code == 0, out
    officer = "po-woonstad-rotterdam"
    future = sign_policy(
        load_policy(policy), load_signing_key(d.pki / officer / "signing.key"),
        officer_id=officer, role=ApprovalRole.PRIVACY_OFFICER,
        now=datetime(2099, 1, 1, tzinfo=UTC),
    )
    policy.write_text(append_approval(policy.read_text(), future))
    code, out = d.cli("publish", str(policy))
    assert code == 1 and "FAILED_PRECONDITION" in out
    assert "has 1 (fg-gemeente-rotterdam)" in out
    assert f"the approval by {officer} does not count: signed_at 2099-01-01T00:00:00Z" in out
    code, out = d.cli("verify", str(policy), "--officer-trust", str(d.trust), remote=False)
    assert code == 1 and "a signature from the future does not count" in out
