"""The running pseudonymiser refuses non-canonical ristretto255 encodings (RFC 9496 4.3.1).

A blinded element with bit 255 set names the same group element as the canonical encoding
under libsodium 1.0.18, which ignores that bit; the pseudonymiser must refuse it, over the real
gRPC API, with INVALID_ARGUMENT and a reason, and evaluate nothing of that batch.
"""

from __future__ import annotations

import grpc
import pytest

from crypto import oprf
from crypto.pseudonyms import voprf_input
from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from tests.support.services import GATEWAYS, RunningPseudonymiser


def _high_bit(encoding: bytes) -> bytes:
    return encoding[:31] + bytes([encoding[31] | 0x80])


def _blinded(pseudonymiser: RunningPseudonymiser) -> tuple[str, bytes]:
    client = oprf.VoprfClient(pseudonymiser.public_key)
    batch = client.blind_batch([voprf_input("person", "123456782")])
    return client.key_id, batch.wire()[0]


def test_a_blinded_element_with_bit_255_set_is_invalid_argument(
    pseudonymiser: RunningPseudonymiser,
) -> None:
    stub = pseudonymiser_pb2_grpc.PseudonymiserStub(
        pseudonymiser.pki.channel(GATEWAYS["housing"], pseudonymiser.port)
    )
    key_id, good = _blinded(pseudonymiser)
    answer = stub.BlindEvaluate(
        pseudonymiser_pb2.BlindEvaluateRequest(key_id=key_id, blinded_elements=[good]), timeout=10
    )
    assert len(answer.evaluated_elements) == 1
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.BlindEvaluate(
            pseudonymiser_pb2.BlindEvaluateRequest(
                key_id=key_id, blinded_elements=[good, _high_bit(good)]
            ),
            timeout=10,
        )
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bit 255" in (excinfo.value.details() or "")
