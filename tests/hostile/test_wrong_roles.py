"""Certificates used for what their role may not do, end to end over mTLS (ADR 0003, 0028).

tests/matcher/test_authorization.py checks every cell of the matcher's matrix (role x RPC).
What it leaves out, here: that each refusal is logged with the method, the role and the
organisation; the pseudonymiser's table for the roles not tested there (a wijkteam reading the
key, the independent reviewer evaluating); and the inbox's client meeting a server that is not
the matcher.
"""

from __future__ import annotations

import grpc
import pytest

from samenloop.v1 import (
    audit_pb2,
    partner_pb2,
    policy_pb2,
    pseudonymiser_pb2,
    wijkteam_pb2,
    wijkteam_pb2_grpc,
)
from services.common.server import ServiceBinding, start_server
from services.common.server_identity import ServerIdentityError
from services.common.tls import secure_channel
from tests.hostile.logs import captured
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import Pki

# (certificate, its role, its organisation, RPC it may not call, request)
MATCHER_CASES = [
    ("gateway-woonstad-rotterdam", "gateway", "woonstad-rotterdam",
     "/samenloop.v1.PolicyService/PublishPolicy", policy_pb2.PublishPolicyRequest()),
    ("gateway-gemeente-rotterdam", "gateway", "gemeente-rotterdam",
     "/samenloop.v1.WijkteamService/ListAlerts", wijkteam_pb2.ListAlertsRequest()),
    ("gateway-politie-rotterdam", "gateway", "politie-rotterdam",
     "/samenloop.v1.AuditService/ListAuditEntries", audit_pb2.ListAuditEntriesRequest()),
    ("wijkteam-feijenoord", "wijkteam", "wijkteam-feijenoord",
     "/samenloop.v1.PartnerService/SubmitSignals", partner_pb2.SubmitSignalsRequest()),
    ("wijkteam-feijenoord", "wijkteam", "wijkteam-feijenoord",
     "/samenloop.v1.PartnerService/PullRevealRequests", partner_pb2.PullRevealRequestsRequest()),
    ("wijkteam-feijenoord", "wijkteam", "wijkteam-feijenoord",
     "/samenloop.v1.PolicyService/PublishPolicy", policy_pb2.PublishPolicyRequest()),
    ("fg-gemeente-rotterdam", "privacy_officer", "gemeente-rotterdam",
     "/samenloop.v1.PartnerService/SubmitDisclosure", partner_pb2.SubmitDisclosureRequest()),
    ("fg-gemeente-rotterdam", "privacy_officer", "gemeente-rotterdam",
     "/samenloop.v1.WijkteamService/GetAlert", wijkteam_pb2.GetAlertRequest()),
    ("independent-reviewer", "independent_review", "onafhankelijke-toetsing",
     "/samenloop.v1.PolicyService/PublishPolicy", policy_pb2.PublishPolicyRequest()),
    ("pseudonymiser", "pseudonymiser", "pseudonimisering-ttp",
     "/samenloop.v1.PartnerService/SubmitSignals", partner_pb2.SubmitSignalsRequest()),
    ("matcher", "matcher", "samenloop-verwerker",
     "/samenloop.v1.PartnerService/PullRevealRequests", partner_pb2.PullRevealRequestsRequest()),
]


def _refused(channel: grpc.Channel, method: str, request: object) -> grpc.RpcError:
    call = channel.unary_unary(method, request_serializer=type(request).SerializeToString)
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=10)
    return err.value


def test_every_wrong_role_at_the_matcher_is_refused_and_logged(
        populated_matcher: Harness) -> None:
    organisations = {c["organisation"] for c in
                     populated_matcher.pki.manifest["components"].values()}
    for component, role, organisation, method, request in MATCHER_CASES:
        assert organisation in organisations, organisation  # the table matches the PKI
        with captured() as events:
            error = _refused(populated_matcher.channel(component), method, request)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (component, method)
            assert f"role {role!r} may not call {method.rsplit('/', 1)[1]}" in error.details()
            [logged] = [e for e in events.named("call_refused") if e["component"] == "authz"]
        assert (logged["method"], logged["role"], logged["organisation"]) == (
            method, role, organisation)


@pytest.mark.parametrize(("component", "method"), [
    ("wijkteam-feijenoord", "GetPublicKey"),
    ("wijkteam-feijenoord", "BlindEvaluate"),
    ("independent-reviewer", "BlindEvaluate"),
    ("po-woonstad-rotterdam", "BlindEvaluate"),
])
def test_wrong_roles_at_the_pseudonymiser_are_refused_and_logged(
        pki: Pki, pseudonymiser: Pseudonymiser, component: str, method: str) -> None:
    request = (pseudonymiser_pb2.GetPublicKeyRequest() if method == "GetPublicKey" else
               pseudonymiser_pb2.BlindEvaluateRequest(key_id=pseudonymiser.key_id,
                                                      blinded_elements=[b"\x01" * 32]))
    channel = secure_channel(f"127.0.0.1:{pseudonymiser.port}", pki.tls(component),
                             server_role="pseudonymiser")
    try:
        with captured() as events:
            error = _refused(channel, f"/samenloop.v1.Pseudonymiser/{method}", request)
            [logged] = [e for e in events.named("call_refused") if e["component"] == "authz"]
    finally:
        channel.close()
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"may not call {method}" in error.details()
    assert logged["role"] == pki.component(component)["role"]


class _Recording(wijkteam_pb2_grpc.WijkteamServiceServicer):
    def __init__(self) -> None:
        self.received: list[object] = []

    def ListAlerts(self, request, context):  # type: ignore[no-untyped-def]
        self.received.append(request)
        return wijkteam_pb2.ListAlertsResponse()


def test_the_inbox_client_sends_nothing_to_a_gateway_posing_as_the_matcher(pki: Pki) -> None:
    recorder = _Recording()
    running = start_server(
        bind="127.0.0.1:0", tls=pki.tls("gateway-politie-rotterdam"),
        services=[ServiceBinding(wijkteam_pb2_grpc.add_WijkteamServiceServicer_to_server,
                                 recorder, "samenloop.v1.WijkteamService")],
        roles={"/samenloop.v1.WijkteamService/ListAlerts": frozenset({"wijkteam"})})
    try:
        with secure_channel(f"127.0.0.1:{running.port}", pki.tls("wijkteam-feijenoord"),
                            server_role="matcher") as channel, \
                pytest.raises(ServerIdentityError) as err:
            wijkteam_pb2_grpc.WijkteamServiceStub(channel).ListAlerts(
                wijkteam_pb2.ListAlertsRequest(), timeout=10)
        assert "expected role matcher, found role gateway" in (err.value.details() or "")
        assert recorder.received == []
    finally:
        running.stop(0)
