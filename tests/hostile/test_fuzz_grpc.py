"""Every RPC of the matcher and the pseudonymiser, fuzzed over mTLS with the role allowed to
call it (ADR 0028): requests built from the message descriptors (tests/hostile/messages.py),
and raw bytes that are not a protobuf message at all.

The contract: every request is answered, quickly, with a status a client can act on
(INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION, ...), never INTERNAL or
UNKNOWN (a handler that crashed), with a one-line message; and the server stays healthy.
"""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samenloop.v1 import (
    audit_pb2,
    partner_pb2,
    policy_pb2,
    pseudonymiser_pb2,
    wijkteam_pb2,
)
from services.common.tls import secure_channel
from tests.hostile.messages import messages
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import Pki

LONG = int(os.environ.get("SAMENLOOP_FUZZ_EXAMPLES", "0"))
CRASHED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}

CALLERS = {  # service -> the certificate of a role allowed to call it
    "PartnerService": "gateway-gemeente-rotterdam",
    "WijkteamService": "wijkteam-feijenoord",
    "PolicyService": "fg-gemeente-rotterdam",
    "AuditService": "fg-gemeente-rotterdam",
}
MODULES = {"PartnerService": partner_pb2, "WijkteamService": wijkteam_pb2,
           "PolicyService": policy_pb2, "AuditService": audit_pb2}


def _methods() -> list[tuple[str, str, Any, Any, bool]]:
    out = []
    for service, module in MODULES.items():
        for m in module.DESCRIPTOR.services_by_name[service].methods:
            out.append((service, f"/samenloop.v1.{service}/{m.name}",
                        getattr(module, m.input_type.name), getattr(module, m.output_type.name),
                        m.server_streaming))
    return out


METHODS = _methods()


def call(channel: grpc.Channel, method: str, request: Any, response: Any, streaming: bool,
         raw: bool = False) -> tuple[grpc.StatusCode, str]:
    serialize = (lambda b: b) if raw else request.__class__.SerializeToString
    try:
        if streaming:
            stub = channel.unary_stream(method, request_serializer=serialize,
                                        response_deserializer=response.FromString)
            for _ in stub(request, timeout=1.5):
                pass
        else:
            stub = channel.unary_unary(method, request_serializer=serialize,
                                       response_deserializer=response.FromString)
            stub(request, timeout=10)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def check(method: str, streaming: bool, code: grpc.StatusCode, details: str) -> None:
    assert code not in CRASHED, f"{method}: {code.name} {details}"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        assert streaming or method.endswith("PullRevealRequests"), f"{method} hung"
    if code is not grpc.StatusCode.OK:
        assert details and "\n" not in details and "Traceback" not in details, details


@pytest.fixture(scope="module")
def channels(populated_matcher: Harness) -> dict[str, grpc.Channel]:
    return {service: populated_matcher.channel(component)
            for service, component in CALLERS.items()}


def _known(h: Harness) -> list[str]:
    alert: str = h.alert  # type: ignore[attr-defined]
    return [alert, alert.split("/", 1)[1], "policies/onthul", "onthul", f"{alert}/disclosures/x",
            "revealRequests/x", h.pseudonymiser.key_id, "gemeente-rotterdam", "wijkteam-feijenoord"]


def _calm(method: str, request: Any) -> Any:
    """Long polls wait at most a moment (the wait itself is under test elsewhere)."""
    if method.endswith("PullRevealRequests") and request.HasField("wait"):
        request.wait.seconds = min(request.wait.seconds, 0)
    return request


@settings(max_examples=LONG or 250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_structured_requests_to_every_matcher_rpc(
        populated_matcher: Harness, channels: dict[str, grpc.Channel], data: st.DataObject
) -> None:
    service, method, request_type, response_type, streaming = data.draw(
        st.sampled_from(METHODS), label="method")
    request = _calm(method, data.draw(messages(request_type, _known(populated_matcher)),
                                      label="request"))
    code, details = call(channels[service], method, request, response_type, streaming)
    check(method, streaming, code, details)


@settings(max_examples=LONG or 60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(METHODS), data=st.binary(max_size=200))
def test_raw_bytes_to_every_matcher_rpc(
        populated_matcher: Harness, channels: dict[str, grpc.Channel],
        method: tuple[str, str, Any, Any, bool], data: bytes
) -> None:
    service, name, _request, response_type, streaming = method
    if name.endswith("PullRevealRequests"):
        data = b""  # any wait would be a real wait
    code, details = call(channels[service], name, data, response_type, streaming, raw=True)
    check(name, streaming, code, details)


def test_the_matcher_is_healthy_after_the_fuzzing(populated_matcher: Harness) -> None:
    health = health_pb2_grpc.HealthStub(populated_matcher.channel("pseudonymiser"))
    status = health.Check(health_pb2.HealthCheckRequest(service="samenloop.v1.PartnerService"),
                          timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING


@settings(max_examples=LONG or 60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_requests_to_the_pseudonymiser(pki: Pki, pseudonymiser: Pseudonymiser,
                                       data: st.DataObject) -> None:
    channel = _pseudonymiser_channel(pki, pseudonymiser)
    name = data.draw(st.sampled_from(["GetPublicKey", "BlindEvaluate"]))
    module = pseudonymiser_pb2
    method = module.DESCRIPTOR.services_by_name["Pseudonymiser"].methods_by_name[name]
    request_type = getattr(module, method.input_type.name)
    request = data.draw(st.one_of(
        messages(request_type, [pseudonymiser.key_id]),
        st.builds(lambda elements: pseudonymiser_pb2.BlindEvaluateRequest(
            key_id=pseudonymiser.key_id, blinded_elements=elements),
            st.lists(st.binary(min_size=30, max_size=34), min_size=1, max_size=20))))
    code, details = call(channel, f"/samenloop.v1.Pseudonymiser/{name}", request,
                         getattr(module, method.output_type.name), False)
    check(name, False, code, details)


_PSEUDONYMISER_CHANNELS: dict[int, grpc.Channel] = {}


def _pseudonymiser_channel(pki: Pki, pseudonymiser: Pseudonymiser) -> grpc.Channel:
    if pseudonymiser.port not in _PSEUDONYMISER_CHANNELS:
        _PSEUDONYMISER_CHANNELS[pseudonymiser.port] = secure_channel(
            f"127.0.0.1:{pseudonymiser.port}", pki.tls("gateway-woonstad-rotterdam"),
            server_role="pseudonymiser")
    return _PSEUDONYMISER_CHANNELS[pseudonymiser.port]
