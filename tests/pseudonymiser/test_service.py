"""The pseudonymiser over real gRPC and mTLS on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pydantic import ValidationError

from crypto import keys, oprf
from crypto.oprf import VoprfServer
from crypto.pseudonyms import voprf_input
from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from services.common.server import ServiceBinding, start_server
from services.common.tls import TlsMaterial, secure_channel
from services.pseudonymiser.client import PinnedKeyMismatch, PseudonymiserClient, PseudonymiserError
from services.pseudonymiser.quota import QuotaLedger, QuotaLimits
from services.pseudonymiser.server import ROLES, SERVICE, start
from services.pseudonymiser.servicer import PseudonymiserServicer
from tests.support.services import (
    GATEWAYS,
    TEST_LIMITS,
    DevPki,
    RunningPseudonymiser,
    make_pki,
    pseudonymiser_config,
)

BSNS = ["111222333", "123456782", "012345672"]  # elfproef-valid test numbers


def test_gateway_gets_the_same_outputs_as_direct_evaluation_with_the_server_key(
    pseudonymiser: RunningPseudonymiser,
) -> None:
    inputs = [voprf_input("person", b) for b in BSNS] + [voprf_input("household", "3072AB|12|A|")]
    outputs = pseudonymiser.client().evaluate(inputs)
    sk = keys.load_voprf_key(pseudonymiser.pki.key_file("pseudonymiser", "voprf"))
    assert outputs == [oprf.evaluate(sk, x) for x in inputs]
    assert all(len(o) == 64 for o in outputs)
    assert len(set(outputs)) == len(outputs)


def test_every_gateway_gets_the_same_pseudonym_for_the_same_input(
    pseudonymiser: RunningPseudonymiser,
) -> None:
    x = [voprf_input("person", BSNS[1])]
    results = {gw: pseudonymiser.client(gw).evaluate(x)[0] for gw in GATEWAYS.values()}
    assert len(set(results.values())) == 1


def test_large_input_lists_are_split_into_batches(pki: DevPki) -> None:
    running = start(pseudonymiser_config(pki, max_batch_size=4))
    try:
        client = PseudonymiserClient(pki.channel(GATEWAYS["police"], running.port),
                                     pki.public_key("pseudonymiser", "voprf"))
        inputs = [voprf_input("person", f"{i:09d}") for i in range(10)]
        sk = keys.load_voprf_key(pki.key_file("pseudonymiser", "voprf"))
        assert client.evaluate(inputs) == [oprf.evaluate(sk, x) for x in inputs]
    finally:
        running.stop(0)


def test_public_key_info(pseudonymiser: RunningPseudonymiser) -> None:
    info = pseudonymiser.client().check_key()
    assert info.public_key == pseudonymiser.public_key
    assert info.key_id == oprf.public_key_id(pseudonymiser.public_key)
    assert info.ciphersuite == "ristretto255-SHA512"
    assert info.mode == 1
    assert info.max_batch_size == 1000


def test_a_wrong_pinned_key_fails_naming_the_key_mismatch(
    pseudonymiser: RunningPseudonymiser,
) -> None:
    _, other_pk = oprf.generate_key_pair()
    client = PseudonymiserClient(pseudonymiser.pki.channel(GATEWAYS["housing"], pseudonymiser.port),
                                 other_pk.to_bytes())
    with pytest.raises(PinnedKeyMismatch) as excinfo:
        client.evaluate([voprf_input("person", BSNS[0])])
    message = str(excinfo.value)
    assert oprf.public_key_id(other_pk) in message
    assert oprf.public_key_id(pseudonymiser.public_key) in message


class LyingServicer(PseudonymiserServicer):
    """An attacker's pseudonymiser: answers to any key id, evaluates with its own key."""

    def BlindEvaluate(self, request, context):  # type: ignore[no-untyped-def]
        request.key_id = self._key.key_id
        return super().BlindEvaluate(request, context)


def test_a_pseudonymiser_evaluating_with_another_key_is_caught_by_the_proof(
    pki: DevPki,
) -> None:
    other_sk, _ = oprf.generate_key_pair()
    ledger = QuotaLedger({"woonstad-rotterdam": TEST_LIMITS})
    servicer = LyingServicer(VoprfServer(other_sk), ledger, 1000)
    running = start_server(
        bind="127.0.0.1:0", tls=pki.tls("pseudonymiser"),
        services=[ServiceBinding(pseudonymiser_pb2_grpc.add_PseudonymiserServicer_to_server,
                                 servicer, SERVICE)],
        roles=ROLES,
    )
    try:
        pinned = pki.public_key("pseudonymiser", "voprf")
        client = PseudonymiserClient(pki.channel(GATEWAYS["housing"], running.port), pinned)
        client._max_batch = 1000  # skip the key check: this server lies only in its evaluation
        with pytest.raises(PinnedKeyMismatch, match="does not verify against the pinned key"):
            client.evaluate([voprf_input("person", BSNS[0])])
    finally:
        running.stop(0)


def _stub(pki: DevPki, component: str, port: int) -> pseudonymiser_pb2_grpc.PseudonymiserStub:
    return pseudonymiser_pb2_grpc.PseudonymiserStub(pki.channel(component, port))


def _request(pki: DevPki, n: int = 1) -> pseudonymiser_pb2.BlindEvaluateRequest:
    client = oprf.VoprfClient(pki.public_key("pseudonymiser", "voprf"))
    batch = client.blind_batch([voprf_input("person", f"{i:09d}") for i in range(n)])
    return pseudonymiser_pb2.BlindEvaluateRequest(key_id=client.key_id,
                                                  blinded_elements=batch.wire())


@pytest.mark.parametrize("component", ["matcher", "wijkteam-feijenoord", "fg-gemeente-rotterdam"])
def test_other_roles_may_not_evaluate(pseudonymiser: RunningPseudonymiser, component: str) -> None:
    stub = _stub(pseudonymiser.pki, component, pseudonymiser.port)
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(_request(pseudonymiser.pki), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not call BlindEvaluate" in excinfo.value.details()


def test_a_client_without_a_certificate_is_refused(pseudonymiser: RunningPseudonymiser) -> None:
    ca = pseudonymiser.pki.tls("pseudonymiser").ca_cert.read_bytes()
    channel = grpc.secure_channel(f"127.0.0.1:{pseudonymiser.port}",
                                  grpc.ssl_channel_credentials(root_certificates=ca))
    stub = pseudonymiser_pb2_grpc.PseudonymiserStub(channel)
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.GetPublicKey(pseudonymiser_pb2.GetPublicKeyRequest(), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_with_an_untrusted_certificate_is_refused(
    pseudonymiser: RunningPseudonymiser, tmp_path: Path
) -> None:
    """A gateway certificate from another CA: the handshake fails before any call."""
    foreign = make_pki(tmp_path / "foreign")
    material = TlsMaterial(ca_cert=pseudonymiser.pki.tls("pseudonymiser").ca_cert,
                           cert=foreign.tls(GATEWAYS["housing"]).cert,
                           key=foreign.tls(GATEWAYS["housing"]).key)
    stub = pseudonymiser_pb2_grpc.PseudonymiserStub(
        secure_channel(f"127.0.0.1:{pseudonymiser.port}", material, server_role="pseudonymiser"))
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(_request(pseudonymiser.pki), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.fixture
def small_limits(pki: DevPki) -> Iterator[int]:
    running = start(pseudonymiser_config(
        pki, max_batch_size=10,
        limits=QuotaLimits(daily_elements=25, rate_per_second=1e6, burst=1000),
    ))
    try:
        yield running.port
    finally:
        running.stop(0)


def test_a_batch_over_the_limit_gets_a_clear_error(pki: DevPki, small_limits: int) -> None:
    stub = _stub(pki, GATEWAYS["housing"], small_limits)
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(_request(pki, 11), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 10 blinded elements, this one 11" in excinfo.value.details()


def test_the_daily_quota_is_enforced_per_partner(pki: DevPki, small_limits: int) -> None:
    housing = _stub(pki, GATEWAYS["housing"], small_limits)
    for _ in range(2):
        housing.BlindEvaluate(_request(pki, 10), timeout=10)
    with pytest.raises(grpc.RpcError) as excinfo:
        housing.BlindEvaluate(_request(pki, 10), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "daily quota of 25" in excinfo.value.details()
    housing.BlindEvaluate(_request(pki, 5), timeout=10)  # what is left of the quota still works
    police = _stub(pki, GATEWAYS["police"], small_limits)
    police.BlindEvaluate(_request(pki, 10), timeout=10)  # another partner is not affected


def test_the_client_reports_a_quota_refusal(pki: DevPki, small_limits: int) -> None:
    client = PseudonymiserClient(pki.channel(GATEWAYS["mental_health"], small_limits),
                                 pki.public_key("pseudonymiser", "voprf"))
    client.evaluate([voprf_input("person", f"{i:09d}") for i in range(25)])
    with pytest.raises(PseudonymiserError, match="RESOURCE_EXHAUSTED"):
        client.evaluate([voprf_input("person", "123456782")])


def test_an_identity_element_is_refused(pseudonymiser: RunningPseudonymiser) -> None:
    stub = _stub(pseudonymiser.pki, GATEWAYS["housing"], pseudonymiser.port)
    request = pseudonymiser_pb2.BlindEvaluateRequest(
        key_id=oprf.public_key_id(pseudonymiser.public_key), blinded_elements=[bytes(32)])
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(request, timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unknown_key_id_is_a_failed_precondition(pseudonymiser: RunningPseudonymiser) -> None:
    stub = _stub(pseudonymiser.pki, GATEWAYS["housing"], pseudonymiser.port)
    request = _request(pseudonymiser.pki)
    request.key_id = "voprf:0000000000000000"
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(request, timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "pinned key" in excinfo.value.details()


def test_an_organisation_not_in_the_configuration_is_refused(pki: DevPki, tmp_path: Path) -> None:
    """A valid gateway certificate of an organisation the operator did not list: no default."""
    from crypto.devsetup import issue_component, load_ca

    directory = tmp_path / "extra"
    _, entry = issue_component(directory, load_ca(pki.directory), name="gateway-onbekend",
                               organisation="onbekende-partner", role="gateway")
    assert entry["organisation"] == "onbekende-partner"
    material = TlsMaterial(ca_cert=pki.tls("pseudonymiser").ca_cert,
                           cert=directory / "gateway-onbekend" / "tls.crt",
                           key=directory / "gateway-onbekend" / "tls.key")
    served = {"woonstad-rotterdam": TEST_LIMITS}
    running = start(pseudonymiser_config(pki, organisations=served))
    try:
        stranger = pseudonymiser_pb2_grpc.PseudonymiserStub(
            secure_channel(f"127.0.0.1:{running.port}", material, server_role="pseudonymiser"))
        with pytest.raises(grpc.RpcError) as excinfo:
            stranger.BlindEvaluate(_request(pki, 1), timeout=10)
        assert excinfo.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert excinfo.value.details() == (
            "organisation onbekende-partner is not served by this pseudonymiser; its operator "
            "must list it under `organisations` with its own quota")
        # A registered gateway that is simply not listed here is refused the same way ...
        police = _stub(pki, GATEWAYS["police"], running.port)
        with pytest.raises(grpc.RpcError) as excinfo:
            police.BlindEvaluate(_request(pki, 1), timeout=10)
        assert excinfo.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # ... while the listed one is served.
        _stub(pki, GATEWAYS["housing"], running.port).BlindEvaluate(_request(pki, 1), timeout=10)
    finally:
        running.stop(0)


def test_organisations_are_configured_by_oin_for_pkioverheid_certificates(
    pki: DevPki, tmp_path: Path
) -> None:
    """A PKIoverheid-layout gateway is served under its OIN, not under its legal name in O."""
    from crypto.devsetup import issue_component, load_ca

    oin = "00000001003214345000"
    directory = tmp_path / "extra"
    _, entry = issue_component(directory, load_ca(pki.directory), name="gateway-gemeente-oin",
                               organisation="Gemeente Rotterdam", oin=oin, role="gateway")
    assert (entry["organisation"], entry["organisation_name"]) == (oin, "Gemeente Rotterdam")
    material = TlsMaterial(ca_cert=pki.tls("pseudonymiser").ca_cert,
                           cert=directory / "gateway-gemeente-oin" / "tls.crt",
                           key=directory / "gateway-gemeente-oin" / "tls.key")
    # A legal name is not an organisation id: the settings refuse it outright (ADR 0014).
    with pytest.raises(ValidationError, match="'Gemeente Rotterdam' is not an organisation id"):
        pseudonymiser_config(pki, organisations={"Gemeente Rotterdam": TEST_LIMITS})
    for served, expected in (({oin: TEST_LIMITS}, None),
                             ({"gemeente-rotterdam": TEST_LIMITS},
                              grpc.StatusCode.PERMISSION_DENIED)):
        running = start(pseudonymiser_config(pki, organisations=served))
        try:
            stub = pseudonymiser_pb2_grpc.PseudonymiserStub(secure_channel(
                f"127.0.0.1:{running.port}", material, server_role="pseudonymiser"))
            if expected is None:
                assert len(stub.BlindEvaluate(_request(pki, 2), timeout=10).evaluated_elements) == 2
            else:
                with pytest.raises(grpc.RpcError) as excinfo:
                    stub.BlindEvaluate(_request(pki, 1), timeout=10)
                assert excinfo.value.code() == expected
                assert f"organisation {oin} is not served" in excinfo.value.details()
        finally:
            running.stop(0)


def test_the_client_sends_nothing_to_a_server_that_is_not_the_pseudonymiser(
    pki: DevPki,
) -> None:
    """A server with the matcher's certificate posing as the pseudonymiser: the gateway's
    client fails before any blinded element leaves, naming the role it found."""
    seen: list[int] = []

    class Recording(PseudonymiserServicer):
        def BlindEvaluate(self, request, context):  # type: ignore[no-untyped-def]
            seen.append(len(request.blinded_elements))
            return super().BlindEvaluate(request, context)

    key = VoprfServer(keys.load_voprf_key(pki.key_file("pseudonymiser", "voprf")))
    running = start_server(
        bind="127.0.0.1:0", tls=pki.tls("matcher"), roles=ROLES,
        services=[ServiceBinding(pseudonymiser_pb2_grpc.add_PseudonymiserServicer_to_server,
                                 Recording(key, QuotaLedger({"woonstad-rotterdam": TEST_LIMITS}),
                                           1000), SERVICE)],
    )
    try:
        client = PseudonymiserClient.connect(f"127.0.0.1:{running.port}",
                                             pki.tls(GATEWAYS["housing"]),
                                             pki.public_key("pseudonymiser", "voprf"))
        with pytest.raises(PseudonymiserError) as excinfo:
            client.evaluate([voprf_input("person", BSNS[0])])
        assert str(excinfo.value) == (
            f"pseudonymiser call failed (UNAUTHENTICATED): the server at 127.0.0.1:{running.port}"
            " is not the expected pseudonymiser: expected role pseudonymiser, found role matcher "
            "of organisation samenloop-verwerker (matcher); nothing was sent")
        assert seen == []
    finally:
        running.stop(0)
