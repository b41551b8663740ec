"""A revoked certificate is refused by a running service, and the file is re-read on change."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crypto.pseudonyms import voprf_input
from services.common.config import ConfigError
from services.common.denylist import DenyList, DenyListError, parse_deny_list
from services.pseudonymiser.client import PseudonymiserClient, PseudonymiserError
from tests.support.processes import start_server_process
from tests.support.services import GATEWAYS, DevPki

BSN = "123456782"  # elfproef-valid test number; must never show up in a log


def _cert(pki: DevPki, component: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki.directory / component / "tls.crt").read_bytes())


def test_entries_are_serials_or_fingerprints_in_the_usual_spellings(tmp_path: Path) -> None:
    fp = "ab" * 32
    text = (
        "# revoked 2026-11-30\n"
        "\n"
        "3F:A2:19  # colons and capitals, comment after the entry\n"
        "0x0b\n"
        f"sha256:{fp.upper()}\n"
        f"{':'.join(['cd'] * 32)}\n"  # 64 hex digits without prefix: a fingerprint
    )
    entries = parse_deny_list(text, tmp_path / "deny.txt")
    assert entries.serials == {0x3FA219, 0x0B}
    assert entries.fingerprints == {fp, "cd" * 32}


@pytest.mark.parametrize(("line", "reason"), [
    ("not-hex", "not a hex serial number or SHA-256 fingerprint"),
    ("sha256:abcd", "a SHA-256 fingerprint has 64 hex digits, this one 4"),
    ("a" * 41, "41 hex digits is neither a serial number"),
])
def test_a_bad_line_is_named_with_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "deny.txt"
    path.write_text(f"# ok\n01\n{line}\n")
    with pytest.raises(DenyListError) as excinfo:
        DenyList(path)
    assert str(excinfo.value).startswith(f"{path}:3: {reason}")
    assert isinstance(excinfo.value, ConfigError)  # the CLI's one-line error boundary


def test_a_missing_file_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(DenyListError, match="cannot read the deny-list"):
        DenyList(tmp_path / "absent.txt")


def test_matching_and_reloading_and_a_broken_edit_keeps_the_previous_list(
    pki: DevPki, tmp_path: Path
) -> None:
    housing, police = _cert(pki, GATEWAYS["housing"]), _cert(pki, GATEWAYS["police"])
    path = tmp_path / "deny.txt"
    path.write_text("")
    deny = DenyList(path)
    assert not deny.is_revoked(housing)
    path.write_text(f"{housing.serial_number:x}\n")
    assert deny.is_revoked(housing) and not deny.is_revoked(police)
    police_fp = hashlib.sha256(police.public_bytes(Encoding.DER)).hexdigest()
    path.write_text(f"sha256:{police_fp}\n")
    assert deny.is_revoked(police) and not deny.is_revoked(housing)
    path.write_text(f"sha256:{police_fp}\nnonsense line\n")
    assert deny.is_revoked(police)  # the broken edit is refused, the previous list stays


def _config(pki: DevPki, path: Path, deny: Path) -> Path:
    tls = pki.tls("pseudonymiser")
    limits = {"daily_elements": 1000, "rate_per_second": 1000, "burst": 1000}
    path.write_text(yaml.safe_dump({
        "bind": "127.0.0.1:0",
        "tls": {"ca": str(tls.ca_cert), "cert": str(tls.cert), "key": str(tls.key)},
        "voprf_key": str(pki.key_file("pseudonymiser", "voprf")),
        "deny_list": str(deny),
        "organisations": {"woonstad-rotterdam": limits, "politie-rotterdam": limits},
    }))
    return path


def test_a_running_service_refuses_a_revoked_client_certificate(
    pki: DevPki, tmp_path: Path
) -> None:
    deny = tmp_path / "revoked.txt"
    deny.write_text("# nothing revoked yet\n")
    log = tmp_path / "server.log"
    process, port = start_server_process(
        ["pseudonymiser", "serve", "--config", str(_config(pki, tmp_path / "p.yaml", deny))], log)
    try:
        pinned = pki.public_key("pseudonymiser", "voprf")
        housing = PseudonymiserClient(pki.channel(GATEWAYS["housing"], port), pinned)
        police = PseudonymiserClient(pki.channel(GATEWAYS["police"], port), pinned)
        inputs = [voprf_input("person", BSN)]
        housing.evaluate(inputs)

        revoked = _cert(pki, GATEWAYS["housing"])
        deny.write_text(f"# housing gateway key lost\n{revoked.serial_number:x}\n")
        with pytest.raises(PseudonymiserError) as excinfo:
            housing.evaluate(inputs)
        assert "UNAUTHENTICATED" in str(excinfo.value)
        assert "revoked" in str(excinfo.value)
        police.evaluate(inputs)  # another partner's certificate is unaffected

        # Health stays open to any certificate (an orchestrator's probe).
        health = health_pb2_grpc.HealthStub(pki.channel(GATEWAYS["housing"], port))
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING

        deny.write_text("# restored after re-keying\n")
        housing.evaluate(inputs)  # reloaded again: no restart needed
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    text = log.read_text()
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    refusals = [e for e in events if e.get("reason") == "certificate_revoked"]
    assert len(refusals) == 1
    assert refusals[0]["event"] == "call_refused"
    assert refusals[0]["organisation"] == "woonstad-rotterdam"
    assert refusals[0]["role"] == "gateway"
    assert refusals[0]["method"] == "/samenloop.v1.Pseudonymiser/BlindEvaluate"
    assert refusals[0]["serial"] == f"{revoked.serial_number:x}"
    assert BSN not in text


def test_an_unreadable_deny_list_stops_the_service_with_one_line(
    pki: DevPki, tmp_path: Path
) -> None:
    config = _config(pki, tmp_path / "p.yaml", tmp_path / "absent.txt")
    result = subprocess.run(
        [sys.executable, "-m", "samenloop.cli.main", "pseudonymiser", "serve", "--config",
         str(config)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}:")
    assert (f"`deny_list`: {tmp_path / 'absent.txt'} does not exist; create it or correct "
            "the path") in lines[0]
