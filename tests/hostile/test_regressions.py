"""One test per crash the fuzzers (or reading the code) found (ADR 0028), so none comes back."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from crypto.sealing import X25519PrivateKey, seal
from crypto.signing import SigningKey
from domain.errors import FileFormatError
from domain.formats.readers import TableReader
from fuzz.targets import _base_workbook
from policies.trust import Trust
from samenloop.v1 import audit_pb2, partner_pb2, partner_pb2_grpc, pseudonymiser_pb2
from services.common.config import ConfigError, read_config_file
from services.common.disclosure import DisclosureRejected, statement, verify_disclosure
from services.common.tls import secure_channel
from services.partner_gateway.policy_check import POLICY_INVALID, PolicyFacts, check_policy
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import Pki

DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize(("text", "words"), [
    ("a: 1\n<<: {b: 2}\n", "2: merge keys (<<) are not supported"),
    ("a: 1\nb: !!int zwei\n", "2: not valid YAML"),
    ("a: 1\nb: \x01\n", "2: not valid YAML (the character U+0001"),
])
def test_a_configuration_with_a_merge_key_a_bad_tag_or_a_control_character(
        tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    assert f"{path}:{words}" in str(err.value) and "\n" not in str(err.value)


def _workbook_with(member: str, content: bytes, tmp_path: Path) -> Path:
    base = zipfile.ZipFile(io.BytesIO(_base_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rebuilt:
        for name in base.namelist():
            rebuilt.writestr(name, content if name == member else base.read(name))
    path = tmp_path / "export.xlsx"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize(("member", "content"), [
    ("xl/worksheets/sheet1.xml", b"<garbage"),           # was a ParseError traceback
    ("xl/workbook.xml", b"<x/>"),                        # no sheets: an IndexError
    ("[Content_Types].xml", b"<<"),                      # a ParseError at opening
])
def test_a_damaged_workbook_is_one_line(tmp_path: Path, member: str, content: bytes) -> None:
    path = _workbook_with(member, content, tmp_path)
    with pytest.raises(FileFormatError) as err:
        list(TableReader(path))
    assert "save it again" in str(err.value) and str(path) in str(err.value)


def test_json_nested_absurdly_deep_is_a_rejected_row_a_refused_policy_and_box(
        tmp_path: Path) -> None:
    export = tmp_path / "e.jsonl"
    export.write_bytes(b'{"a": "1"}\n' + DEEP + b"\n")
    with TableReader(export) as table:
        assert [r.problem.code if r.problem else None for r in table] == [None, "row.json"]
    # what a compromised matcher could serve the gateway as a policy
    verdict = check_policy(PolicyFacts(DEEP, "d" * 64, 1, False), policy_id="p", version=1,
                           digest="d" * 64, trust=Trust(()), now=datetime.now(UTC),
                           revoked_digests=set())
    assert verdict.reason_code == POLICY_INVALID
    # what a hostile partner could seal to a team
    team, partner = X25519PrivateKey.generate(), SigningKey.generate()
    box = seal(team.public_key, DEEP)
    with pytest.raises(DisclosureRejected):
        verify_disclosure(
            ciphertext=box, signature=partner.sign_bytes(statement("revealRequests/r", box, "p")),
            key_id=partner.key_id, reveal_request="revealRequests/r", partner="p",
            partner_keys={"p": partner.verify_key}, private_key=team, alert="alerts/a",
            policy_id="x", policy_version=1, policy_digest="d", allowed_fields=["postcode"])


def test_a_refusal_reason_newer_than_v1_is_invalid_argument(populated_matcher: Harness) -> None:
    stub = partner_pb2_grpc.PartnerServiceStub(populated_matcher.channel(
        "gateway-woonstad-rotterdam"))
    request = partner_pb2.SubmitDisclosureRequest(reveal_request="revealRequests/x")
    request.refusal.reason = 99  # type: ignore[assignment]
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitDisclosure(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # was INTERNAL (ValueError)
    assert "refusal.reason 99" in (err.value.details() or "")


@pytest.mark.parametrize("wait", [Duration(seconds=-86_399_999_913_601),
                                  Duration(seconds=10**12), Duration(seconds=1, nanos=-5)])
def test_a_wait_outside_durations_range_is_invalid_argument(
        populated_matcher: Harness, wait: Duration) -> None:
    stub = partner_pb2_grpc.PartnerServiceStub(populated_matcher.channel(
        "gateway-woonstad-rotterdam"))
    with pytest.raises(grpc.RpcError) as err:
        stub.PullRevealRequests(partner_pb2.PullRevealRequestsRequest(wait=wait), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # was INTERNAL (OverflowError)
    assert err.value.details() == "wait is not a valid google.protobuf.Duration"


def test_the_pseudonymiser_quotes_a_key_id_it_does_not_serve(
        pki: Pki, pseudonymiser: Pseudonymiser) -> None:
    with secure_channel(f"127.0.0.1:{pseudonymiser.port}", pki.tls("gateway-woonstad-rotterdam"),
                        server_role="pseudonymiser") as channel:
        evaluate = channel.unary_unary(
            "/samenloop.v1.Pseudonymiser/BlindEvaluate",
            request_serializer=pseudonymiser_pb2.BlindEvaluateRequest.SerializeToString)
        with pytest.raises(grpc.RpcError) as err:
            evaluate(pseudonymiser_pb2.BlindEvaluateRequest(key_id="voprf:x\nforged line",
                                                            blinded_elements=[b"\x01" * 32]),
                     timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "'voprf:x\\nforged line'" in (err.value.details() or "")
    assert "\n" not in (err.value.details() or "")


def test_a_workbook_damaged_after_its_first_rows_names_the_row(tmp_path: Path) -> None:
    xml = zipfile.ZipFile(io.BytesIO(_base_workbook())).read("xl/worksheets/sheet1.xml")
    cut = xml[: xml.index(b'<row r="2"')] + b'<row r="2"><c r="A2"><v>1</v></c><<<'
    path = _workbook_with("xl/worksheets/sheet1.xml", cut, tmp_path)
    with pytest.raises(FileFormatError) as err:
        list(TableReader(path))
    assert f"{path}[Sheet]:2: the sheet is damaged after row 1" in str(err.value)


@pytest.mark.parametrize(("seconds", "nanos"), [(0, -1), (10**13, 0), (-(10**12), 0),
                                                (0, 10**9)])
def test_a_timestamp_outside_its_range_is_invalid_argument(
        populated_matcher: Harness, seconds: int, nanos: int) -> None:
    request = audit_pb2.ListAuditEntriesRequest()
    request.since.seconds, request.since.nanos = seconds, nanos
    with pytest.raises(grpc.RpcError) as err:
        populated_matcher.auditor().ListAuditEntries(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # was INTERNAL (ValueError)
    assert err.value.details() == "since is not a valid google.protobuf.Timestamp"
