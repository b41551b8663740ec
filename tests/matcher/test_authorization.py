"""Authorization: every role against every RPC it must not call, and the finer rules."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, wijkteam_pb2
from services.matcher.authorization import ROLE_TABLE
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, POLICE

# One certificate per role of the dev PKI.
ROLE_COMPONENTS = {
    "gateway": "gateway-woonstad-rotterdam",
    "wijkteam": "wijkteam-feijenoord",
    "privacy_officer": "fg-gemeente-rotterdam",
    "independent_review": "independent-reviewer",
    "pseudonymiser": "pseudonymiser",
    "matcher": "matcher",
}
SERVICES = [partner_pb2.DESCRIPTOR.services_by_name["PartnerService"],
            wijkteam_pb2.DESCRIPTOR.services_by_name["WijkteamService"],
            policy_pb2.DESCRIPTOR.services_by_name["PolicyService"],
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"]]
MODULES = {"PartnerService": partner_pb2, "WijkteamService": wijkteam_pb2,
           "PolicyService": policy_pb2, "AuditService": audit_pb2}


def all_methods() -> list[tuple[str, Any, bool]]:
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


def test_the_table_names_every_rpc() -> None:
    assert {m for m, _, _ in all_methods()} == set(ROLE_TABLE)


def test_every_role_is_refused_every_rpc_it_may_not_call(matcher: Harness) -> None:
    refused = 0
    for role, component in ROLE_COMPONENTS.items():
        channel = matcher.channel(component)
        for method, types, streaming in all_methods():
            code, details = call(channel, method, types, streaming)
            if role in ROLE_TABLE[method]:
                # Past the role check (a finer rule or the empty request may still refuse).
                assert "may not call" not in details, (role, method)
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, (role, method, code)
                assert f"role {role!r} may not call" in details
                refused += 1
    assert refused == sum(len(ROLE_COMPONENTS) - len(r) for r in ROLE_TABLE.values())


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


def test_audit_proofs_are_not_built_here(matcher: Harness) -> None:
    auditor = matcher.auditor()
    with pytest.raises(grpc.RpcError) as err:
        auditor.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "audit-log issue" in (err.value.details() or "")
