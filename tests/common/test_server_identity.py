"""Clients talk only to the server they mean: role (OU), organisation, and DNS name are checked.

The attack (issue 10 §4): a "matcher" served with the police gateway's certificate, which the
deployment CA issued and which therefore passes chain validation, received the housing
gateway's signals. Here that impostor is a real gRPC server that records every request it gets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from cryptography import x509

from crypto.pki import identity_from_certificate
from samenloop.v1 import partner_pb2, partner_pb2_grpc
from services.common.server import RunningServer, ServiceBinding, start_server
from services.common.server_identity import ServerIdentityError
from services.common.tls import TlsMaterial, secure_channel
from tests.support.services import GATEWAYS, DevPki

PARTNER = "samenloop.v1.PartnerService"
SUBMIT = f"/{PARTNER}/SubmitSignals"


class RecordingPartnerService(partner_pb2_grpc.PartnerServiceServicer):
    """Whatever reaches this server is a leak: it keeps every request."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self._lock = threading.Lock()

    def SubmitSignals(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.received.append(request)
        return partner_pb2.SubmitSignalsResponse()


def _serve(tls: TlsMaterial) -> tuple[RunningServer, RecordingPartnerService]:
    recorder = RecordingPartnerService()
    running = start_server(
        bind="127.0.0.1:0", tls=tls, roles={SUBMIT: frozenset({"gateway"})},
        services=[ServiceBinding(partner_pb2_grpc.add_PartnerServiceServicer_to_server,
                                 recorder, PARTNER)],
    )
    return running, recorder


@pytest.fixture
def impostor(pki: DevPki) -> Iterator[tuple[int, RecordingPartnerService]]:
    """A 'matcher' on loopback that presents the police gateway's (valid) certificate."""
    running, recorder = _serve(pki.tls(GATEWAYS["police"]))
    yield running.port, recorder
    running.stop(0)


@pytest.fixture
def real_matcher_cert(pki: DevPki) -> Iterator[tuple[int, RecordingPartnerService]]:
    """The same recording service, with the matcher's own certificate."""
    running, recorder = _serve(pki.tls("matcher"))
    yield running.port, recorder
    running.stop(0)


def _signal() -> partner_pb2.SubmitSignalsRequest:
    signal = partner_pb2.Signal(signal_id="s-1", signal_type="huurachterstand",
                                observed_on="2026-11-01", purpose="wams-gecoordineerde-aanpak")
    return partner_pb2.SubmitSignalsRequest(batch_id="b-1", signals=[signal])


def test_a_gateway_signal_never_reaches_a_police_gateway_posing_as_the_matcher(
    pki: DevPki, impostor: tuple[int, RecordingPartnerService]
) -> None:
    port, recorder = impostor
    channel = secure_channel(f"127.0.0.1:{port}", pki.tls(GATEWAYS["housing"]),
                             server_role="matcher")
    with pytest.raises(grpc.RpcError) as excinfo:
        partner_pb2_grpc.PartnerServiceStub(channel).SubmitSignals(_signal(), timeout=10)
    channel.close()
    assert recorder.received == []
    error = excinfo.value
    assert isinstance(error, ServerIdentityError)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == (
        f"the server at 127.0.0.1:{port} is not the expected matcher: expected role matcher, "
        "found role gateway of organisation politie-rotterdam (gateway-politie-rotterdam); "
        "nothing was sent"
    )
    assert "\n" not in error.details()


def test_the_same_client_reaches_the_server_with_the_matchers_certificate(
    pki: DevPki, real_matcher_cert: tuple[int, RecordingPartnerService]
) -> None:
    port, recorder = real_matcher_cert
    with secure_channel(f"127.0.0.1:{port}", pki.tls(GATEWAYS["housing"]),
                        server_role="matcher") as channel:
        partner_pb2_grpc.PartnerServiceStub(channel).SubmitSignals(_signal(), timeout=10)
    assert [r.batch_id for r in recorder.received] == ["b-1"]


def test_a_configured_organisation_is_checked_too(
    pki: DevPki, real_matcher_cert: tuple[int, RecordingPartnerService]
) -> None:
    port, recorder = real_matcher_cert
    channel = secure_channel(f"127.0.0.1:{port}", pki.tls(GATEWAYS["housing"]),
                             server_role="matcher", server_organisation="andere-verwerker")
    with pytest.raises(ServerIdentityError) as excinfo:
        partner_pb2_grpc.PartnerServiceStub(channel).SubmitSignals(_signal(), timeout=10)
    channel.close()
    assert recorder.received == []
    assert ("expected role matcher of organisation andere-verwerker, found role matcher of "
            "organisation samenloop-verwerker") in excinfo.value.details()


def test_the_channel_itself_checks_the_components_dns_name(
    pki: DevPki, impostor: tuple[int, RecordingPartnerService]
) -> None:
    """The second layer, without the probe: gRPC's own handshake refuses the police
    certificate for the name matcher.samenloop.internal, so a reconnect cannot be redirected."""
    port, recorder = impostor
    ca, cert, key = pki.tls(GATEWAYS["housing"]).read()
    credentials = grpc.ssl_channel_credentials(ca, key, cert)
    options = [("grpc.ssl_target_name_override", "matcher.samenloop.internal")]
    with (
        grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel,
        pytest.raises(grpc.RpcError) as excinfo,
    ):
        partner_pb2_grpc.PartnerServiceStub(channel).SubmitSignals(_signal(), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE
    assert recorder.received == []


def test_an_unreachable_server_is_said_to_be_unreachable(pki: DevPki) -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = secure_channel(f"127.0.0.1:{port}", pki.tls(GATEWAYS["housing"]),
                             server_role="matcher")
    with pytest.raises(ServerIdentityError) as excinfo:
        partner_pb2_grpc.PartnerServiceStub(channel).SubmitSignals(_signal(), timeout=5)
    channel.close()
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE
    assert excinfo.value.details().startswith(f"cannot reach 127.0.0.1:{port}")


def test_dev_setup_gives_every_component_its_own_name_and_no_shared_one(pki: DevPki) -> None:
    """A name on every certificate (`localhost`, 127.0.0.1) would let any component pass the
    DNS check for any other; each certificate carries only `<component>.samenloop.internal`."""
    components = pki.manifest["components"]
    assert isinstance(components, dict)
    for name in components:
        cert = x509.load_pem_x509_certificate((pki.directory / name / "tls.crt").read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [f"{name}.samenloop.internal"]
        assert san.get_values_for_type(x509.IPAddress) == []


def test_the_matcher_has_its_own_organisation_in_dev_setup(pki: DevPki) -> None:
    matcher = identity_from_certificate((pki.directory / "matcher" / "tls.crt").read_bytes())
    assert matcher.organisation == "samenloop-verwerker"
    components = pki.manifest["components"]
    assert isinstance(components, dict)
    partners = {c["organisation"] for c in components.values() if c["role"] == "gateway"}
    assert partners == {"woonstad-rotterdam", "politie-rotterdam", "ggz-delfland",
                        "gemeente-rotterdam"}
    assert matcher.organisation not in partners
