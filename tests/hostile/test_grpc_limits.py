"""Oversized and malformed requests, oversized batches and responses: refused with a status a
client can act on, and logged with the method, the caller and the limit (ADR 0028). The
servers are the real matcher and pseudonymiser over mTLS; the matcher here is configured with
`max_message_bytes` 256 KiB and `max_batch_rows` 50 (tests/hostile/conftest.py)."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from samenloop.v1 import common_pb2, partner_pb2, partner_pb2_grpc, policy_pb2, pseudonymiser_pb2
from services.common.server import ServiceBinding, start_server
from services.common.tls import secure_channel
from services.partner_gateway.connections import PeerRefused, RetryPolicy, call_with_retry
from services.partner_gateway.connections import channel as gateway_channel
from tests.hostile.logs import captured
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import Pki

GATEWAY = "gateway-woonstad-rotterdam"
LIMIT = 256 * 1024


def _signals(n: int, id_bytes: int = 20) -> partner_pb2.SubmitSignalsRequest:
    return partner_pb2.SubmitSignalsRequest(batch_id="b-1", signals=[
        partner_pb2.Signal(signal_id=f"s-{i}".ljust(id_bytes, "x")) for i in range(n)])


def _serving(h: Harness) -> bool:
    stub = health_pb2_grpc.HealthStub(h.channel("pseudonymiser"))
    return stub.Check(health_pb2.HealthCheckRequest(service="samenloop.v1.PartnerService"),
                      timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_a_request_over_the_matchers_message_limit_is_refused_and_logged(
        populated_matcher: Harness) -> None:
    stub = partner_pb2_grpc.PartnerServiceStub(populated_matcher.channel(GATEWAY))
    big = _signals(40, id_bytes=8 * 1024)  # 40 rows (under max_batch_rows), ~320 KiB
    assert big.ByteSize() > LIMIT
    with captured() as events, pytest.raises(grpc.RpcError) as err:
        stub.SubmitSignals(big, timeout=10)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"vs. {LIMIT}" in (err.value.details() or "")
    [logged] = events.named("request_refused")
    assert logged["reason"] == "too_large" and logged["size_limit"] == LIMIT
    assert logged["method"] == "/samenloop.v1.PartnerService/SubmitSignals"
    assert (logged["organisation"], logged["role"]) == ("woonstad-rotterdam", "gateway")
    assert _serving(populated_matcher)


def test_bytes_that_are_not_the_request_message_are_invalid_argument_and_logged(
        populated_matcher: Harness) -> None:
    raw = populated_matcher.channel(GATEWAY).unary_unary(
        "/samenloop.v1.PartnerService/SubmitSignals")
    with captured() as events, pytest.raises(grpc.RpcError) as err:
        raw(b"\xff\xff\xff\xff", timeout=10)  # a field tag with no valid wire type
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # was INTERNAL, gRPC's own
    assert "not a valid SubmitSignalsRequest" in (err.value.details() or "")
    [logged] = events.named("request_refused")
    assert (logged["reason"], logged["size"]) == ("malformed", 4)


def test_a_batch_over_max_batch_rows_is_refused_and_logged(populated_matcher: Harness) -> None:
    stub = partner_pb2_grpc.PartnerServiceStub(populated_matcher.channel(GATEWAY))
    assert stub.SubmitSignals(_signals(50), timeout=10).counts.received == 50  # at the limit
    with captured() as events, pytest.raises(grpc.RpcError) as err:
        stub.SubmitSignals(_signals(51), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "a batch holds at most 50 rows, got 51"
    [logged] = events.named("batch_refused")
    assert (logged["rows"], logged["limit"], logged["reason"]) == (51, 50, "too_many_rows")
    [refused] = events.named("rpc_refused")
    assert (refused["method"], refused["code"]) == ("SubmitSignals", "INVALID_ARGUMENT")


def test_a_policy_document_that_is_an_alias_bomb_is_refused_at_once(
        populated_matcher: Harness) -> None:
    lines = ["id: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    officer = populated_matcher.officer()
    with captured() as events, pytest.raises(grpc.RpcError) as err:
        officer.PublishPolicy(policy_pb2.PublishPolicyRequest(
            document="\n".join(lines).encode()), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than 10,000 values" in (err.value.details() or "")
    assert events.named("rpc_refused")[0]["method"] == "PublishPolicy"
    with pytest.raises(grpc.RpcError) as err:
        officer.PublishPolicy(policy_pb2.PublishPolicyRequest(
            document=b"id: x\ntitle: caf\xe9\n"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "line 2, column 11" in (err.value.details() or "")


def test_the_pseudonymiser_refuses_and_logs_a_request_over_its_limit_and_a_large_batch(
        pki: Pki, pseudonymiser: Pseudonymiser) -> None:
    channel = secure_channel(f"127.0.0.1:{pseudonymiser.port}", pki.tls(GATEWAY),
                             server_role="pseudonymiser")
    evaluate = channel.unary_unary(
        "/samenloop.v1.Pseudonymiser/BlindEvaluate",
        request_serializer=pseudonymiser_pb2.BlindEvaluateRequest.SerializeToString,
        response_deserializer=pseudonymiser_pb2.BlindEvaluateResponse.FromString)
    try:
        with captured() as events:
            with pytest.raises(grpc.RpcError) as err:  # 1.2 MiB > max_request_bytes (1 MiB)
                evaluate(pseudonymiser_pb2.BlindEvaluateRequest(
                    key_id=pseudonymiser.key_id, blinded_elements=[b"\x01" * 32] * 36_000),
                    timeout=10)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            [logged] = events.named("request_refused")
            assert (logged["reason"], logged["size_limit"]) == ("too_large", 1024 * 1024)
            with pytest.raises(grpc.RpcError) as err:  # 1001 elements > max_batch_size
                evaluate(pseudonymiser_pb2.BlindEvaluateRequest(
                    key_id=pseudonymiser.key_id, blinded_elements=[b"\x01" * 32] * 1001),
                    timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "at most 1000 blinded elements" in (err.value.details() or "")
            assert [e["reason"] for e in events.named("evaluation_refused")] == [
                "batch_too_large"]
    finally:
        channel.close()


class _Loud(partner_pb2_grpc.PartnerServiceServicer):
    """A server answering with a response larger than the gateway accepts."""

    def SubmitSignals(self, request, context):  # type: ignore[no-untyped-def]
        return partner_pb2.SubmitSignalsResponse(results=[
            common_pb2.RowResult(id="x" * 1000) for _ in range(200)])  # ~200 KiB


def test_the_gateway_client_refuses_a_response_over_its_configured_limit(pki: Pki) -> None:
    running = start_server(
        bind="127.0.0.1:0", tls=pki.tls("matcher"),
        services=[ServiceBinding(partner_pb2_grpc.add_PartnerServiceServicer_to_server,
                                 _Loud(), "samenloop.v1.PartnerService")],
        roles={"/samenloop.v1.PartnerService/SubmitSignals": frozenset({"gateway"})})
    target = f"127.0.0.1:{running.port}"
    try:
        for limit, refused in ((64 * 1024, True), (1024 * 1024, False)):
            with gateway_channel(target, pki.tls(GATEWAY), "matcher", limit) as ch:
                stub = partner_pb2_grpc.PartnerServiceStub(ch)
                call = lambda: stub.SubmitSignals(_signals(1), timeout=10)  # noqa: E731
                if not refused:
                    assert len(call_with_retry("the matcher", target, call).results) == 200
                    continue
                with pytest.raises(PeerRefused) as err:
                    call_with_retry("the matcher", target, call, RetryPolicy(attempts=1))
                assert "RESOURCE_EXHAUSTED" in str(err.value) and "\n" not in str(err.value)
                # and it sends nothing larger than the limit either
                with pytest.raises(grpc.RpcError) as sent:
                    stub.SubmitSignals(_signals(10, id_bytes=10 * 1024), timeout=10)
                assert sent.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        running.stop(0)
