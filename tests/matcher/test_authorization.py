"""Authorization: every RPC called with the certificate of every role and organisation.

The expected outcome of each cell is written here, from docs/authorization.md, and not derived
from `services.matcher.authorization.ROLE_TABLE` (the code under test): granting a role an RPC
in the table, or dropping an organisation rule from the core, makes a cell fail.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, wijkteam_pb2
from services.matcher.authorization import ROLE_TABLE
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, POLICE

# The certificates, one column each: (component in the test PKI, role, what it stands for).
COLUMNS = {
    "gw":      ("gateway-woonstad-rotterdam", "gateway"),          # a registered partner
    "gw-bgr":  ("gateway-gemeente-rotterdam", "gateway"),          # the municipality's (BRP)
    "gw-?":    ("gateway-onbekend", "gateway"),                    # a gateway of no partner
    "team":    ("wijkteam-feijenoord", "wijkteam"),
    "po-ctl":  ("fg-gemeente-rotterdam", "privacy_officer"),       # of the controller
    "po-prt":  ("po-woonstad-rotterdam", "privacy_officer"),       # of a partner organisation
    "review":  ("independent-reviewer", "independent_review"),
    "pseud":   ("pseudonymiser", "pseudonymiser"),
    "matcher": ("matcher", "matcher"),
}

# A: allowed (past the role table and the organisation rules; the empty request may still be
#    refused as invalid, or the RPC may not be built yet).
# R: refused by the role table (PERMISSION_DENIED "role 'x' may not call ...").
# O: the role may call it, but this organisation may not (PERMISSION_DENIED from the core).
EXPECTED = """
                                         gw  gw-bgr gw-?  team po-ctl po-prt review pseud matcher
PartnerService/SubmitSignals             A   A      O     R    R      R      R      R     R
PartnerService/WithdrawSignals           A   A      O     R    R      R      R      R     R
PartnerService/SubmitHouseholdLinks      O   A      O     R    R      R      R      R     R
PartnerService/CreateInquiry             A   A      O     R    R      R      R      R     R
PartnerService/PullRevealRequests        A   A      O     R    R      R      R      R     R
PartnerService/SubmitDisclosure          A   A      O     R    R      R      R      R     R
WijkteamService/ListAlerts               R   R      R     A    R      R      R      R     R
WijkteamService/StreamAlerts             R   R      R     A    R      R      R      R     R
WijkteamService/GetAlert                 R   R      R     A    R      R      R      R     R
WijkteamService/AssignAlert              R   R      R     A    R      R      R      R     R
WijkteamService/ReviewAlert              R   R      R     A    R      R      R      R     R
WijkteamService/CloseAlert               R   R      R     A    R      R      R      R     R
WijkteamService/ReportUnverifiedDisclosure R   R      R     A    R      R      R      R     R
PolicyService/PublishPolicy              R   R      R     R    A      O      R      R     R
PolicyService/RevokePolicy               R   R      R     R    A      O      R      R     R
PolicyService/GetPolicy                  A   A      A     R    A      A      R      R     R
PolicyService/ListPolicies               A   A      A     R    A      A      R      R     R
PolicyService/SimulatePolicy             R   R      R     R    A      O      R      R     R
PolicyService/GetFairnessReport          R   R      R     R    A      O      R      R     R
AuditService/ListAuditEntries            R   R      R     R    A      A      R      R     R
AuditService/LookupSubject               R   R      R     R    A      A      R      R     R
AuditService/GetCheckpoint               A   A      O     R    A      A      R      R     R
AuditService/ListCheckpoints             A   A      O     R    A      A      R      R     R
AuditService/GetInclusionProof           A   A      O     R    A      A      R      R     R
AuditService/GetConsistencyProof         A   A      O     R    A      A      R      R     R
AuditService/AddCosignature              A   A      O     R    R      R      R      R     R
"""


def expected_matrix() -> dict[tuple[str, str], str]:
    lines = [ln.split() for ln in EXPECTED.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header == list(COLUMNS)
    return {(f"/samenloop.v1.{row[0]}", column): cell
            for row in rows for column, cell in zip(header, row[1:], strict=True)}


SERVICES = [partner_pb2.DESCRIPTOR.services_by_name["PartnerService"],
            wijkteam_pb2.DESCRIPTOR.services_by_name["WijkteamService"],
            policy_pb2.DESCRIPTOR.services_by_name["PolicyService"],
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"]]
MODULES = {"PartnerService": partner_pb2, "WijkteamService": wijkteam_pb2,
           "PolicyService": policy_pb2, "AuditService": audit_pb2}


def all_methods() -> list[tuple[str, Any, bool]]:
    """Every RPC of the API, from the protobuf descriptors."""
    out = []
    for service in SERVICES:
        module = MODULES[service.name]
        for m in service.methods:
            request = getattr(module, m.input_type.name)
            response = getattr(module, m.output_type.name)
            out.append((f"/{service.full_name}/{m.name}", (request, response),
                        m.server_streaming))
    return out


def call(channel: grpc.Channel, method: str, types: Any, streaming: bool
         ) -> tuple[grpc.StatusCode, str]:
    request, response = types
    try:
        if streaming:
            stub = channel.unary_stream(method, request_serializer=request.SerializeToString,
                                        response_deserializer=response.FromString)
            for _ in stub(request(), timeout=1):
                break
        else:
            stub = channel.unary_unary(method, request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)
            stub(request(), timeout=5)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_the_matrix_names_every_rpc_of_the_api_and_the_table_no_other() -> None:
    api = {m for m, _, _ in all_methods()}
    assert {method for method, _ in expected_matrix()} == api
    assert set(ROLE_TABLE) == api


def outcome(code: grpc.StatusCode, details: str, role: str) -> str:
    if code != grpc.StatusCode.PERMISSION_DENIED:
        return "A"
    if f"role {role!r} may not call" in details:
        return "R"
    return "O"


def test_every_cell_of_the_matrix(matcher: Harness) -> None:
    expected = expected_matrix()
    actual: dict[tuple[str, str], str] = {}
    details: dict[tuple[str, str], str] = {}
    for column, (component, role) in COLUMNS.items():
        channel = matcher.channel(component)
        for method, types, streaming in all_methods():
            code, text = call(channel, method, types, streaming)
            actual[(method, column)] = outcome(code, text, role)
            details[(method, column)] = f"{code.name}: {text[:100]}"
    wrong = {cell: (want, actual[cell], details[cell])
             for cell, want in expected.items() if actual[cell] != want}
    assert not wrong, "\n".join(f"{m} as {c}: expected {w}, got {a} ({d})"
                                 for (m, c), (w, a, d) in sorted(wrong.items()))


def test_finer_rules(matcher: Harness) -> None:
    stranger = matcher.gateway("gateway-onbekend")
    with pytest.raises(grpc.RpcError) as err:
        stranger.submit(stranger.signal("s-1", "huurachterstand", household="3071AB 1"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not a registered partner" in (err.value.details() or "")
    # A gateway may submit only types of its partner kind (row-level, see test_submission),
    # and cannot inquire under a policy none of its purposes is covered by.
    matcher.publish_policy(id="alleen-wams")
    ggz = matcher.gateway(GGZ)
    assert ggz.inquire("alleen-wams", "3071AB 1").answer == partner_pb2.INQUIRY_ANSWER_NOT_INDICATED
    matcher.publish_policy(id="staand-wgs", mode="standing")
    with pytest.raises(grpc.RpcError) as err:
        matcher.gateway(POLICE).inquire("staand-wgs", "3071AB 1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    _ = HOUSING


def test_health_and_reflection_are_open_to_any_peer_but_not_without_a_certificate(
    matcher: Harness,
) -> None:
    health = health_pb2_grpc.HealthStub(matcher.channel("pseudonymiser"))
    status = health.Check(health_pb2.HealthCheckRequest(service="samenloop.v1.PartnerService"),
                          timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    ca = (matcher.pki.dir / "ca" / "ca.crt").read_bytes()
    anonymous = grpc.secure_channel(matcher.target, grpc.ssl_channel_credentials(ca))
    try:
        with pytest.raises(grpc.RpcError) as err:
            health_pb2_grpc.HealthStub(anonymous).Check(health_pb2.HealthCheckRequest(),
                                                        timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE  # no client cert: no TLS
    finally:
        anonymous.close()
