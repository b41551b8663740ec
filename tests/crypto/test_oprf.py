"""VOPRF behaviour beyond the vectors: rejections, proofs that must fail, the pinned-key recipe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import oprf
from crypto.errors import CryptoError, InvalidElement, InvalidInput, InvalidProof, InvalidScalar
from crypto.ristretto import ORDER, Element, Scalar

# RFC 9496 appendix A.2: encodings every decoder must reject (non-canonical field elements,
# negative field elements, non-square x^2, ...), plus the identity, which RFC 9497 refuses.
BAD_ENCODINGS = [
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2df6",  # G with bit 255 set
    "0000000000000000000000000000000000000000000000000000000000000000",  # identity
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
]

SK, PK = oprf.derive_key_pair(b"\x07" * 32, b"samenloop test key")


@pytest.mark.parametrize("encoding", BAD_ENCODINGS)
def test_deserialize_element_rejects_identity_and_non_canonical(encoding: str) -> None:
    with pytest.raises(InvalidElement):
        oprf.deserialize_element(bytes.fromhex(encoding))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_deserialize_element_rejects_wrong_length(size: int) -> None:
    with pytest.raises(InvalidElement):
        oprf.deserialize_element(b"\x01" * size)


def test_server_refuses_identity_and_non_canonical_blinded_elements() -> None:
    server = oprf.VoprfServer(SK)
    good = oprf.blind(b"x")[1].to_bytes()
    for bad in BAD_ENCODINGS:
        with pytest.raises(InvalidElement):
            server.evaluate_batch([good, bytes.fromhex(bad)])


def test_client_refuses_identity_evaluated_element() -> None:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a"])
    _, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    with pytest.raises(InvalidElement):
        client.finalize(batch, [bytes(32)], proof)


def test_client_refuses_identity_public_key() -> None:
    with pytest.raises(InvalidElement):
        oprf.VoprfClient(bytes(32))


@pytest.mark.parametrize("value", [ORDER, ORDER + 1, 2**256 - 1], ids=["order", "order+1", "max"])
def test_deserialize_scalar_rejects_non_canonical(value: int) -> None:
    with pytest.raises(InvalidScalar):
        oprf.deserialize_scalar(value.to_bytes(32, "little"))


def test_deserialize_scalar_rejects_zero() -> None:
    with pytest.raises(InvalidScalar):
        oprf.deserialize_scalar(bytes(32))


def test_deserialize_proof_rejects_bad_sizes_and_non_canonical_scalars() -> None:
    with pytest.raises(InvalidProof):
        oprf.deserialize_proof(bytes(63))
    with pytest.raises(InvalidProof):
        oprf.deserialize_proof(ORDER.to_bytes(32, "little") + bytes(32))


def test_scalar_repr_hides_the_value() -> None:
    assert SK.to_bytes().hex() not in repr(SK)
    assert "hidden" in repr(SK)


def _round_trip(inputs: list[bytes]) -> tuple[list[bytes], oprf.BlindedBatch, list[bytes], bytes]:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch(inputs)
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    return client.finalize(batch, evaluated, proof), batch, evaluated, proof


def test_batch_round_trip_equals_direct_evaluation() -> None:
    inputs = [b"samenloop:v1:person\x00" + str(i).encode() for i in range(7)]
    outputs, *_ = _round_trip(inputs)
    assert outputs == [oprf.evaluate(SK, x) for x in inputs]
    assert len(set(outputs)) == len(inputs)


def test_blinding_hides_the_input_and_is_fresh_each_time() -> None:
    _, a = oprf.blind(b"same input")
    _, b = oprf.blind(b"same input")
    assert a != b


def test_proof_from_another_key_is_rejected_with_the_pinned_key_id() -> None:
    other_sk, _ = oprf.generate_key_pair()
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a", b"b", b"c"])
    evaluated, proof = oprf.VoprfServer(other_sk).evaluate_batch(batch.wire())
    with pytest.raises(InvalidProof, match=client.key_id):
        client.finalize(batch, evaluated, proof)
    assert client.key_id == oprf.public_key_id(PK)
    assert client.key_id.startswith("voprf:")


def test_one_element_under_another_key_fails_the_whole_batch() -> None:
    """A pseudonymiser that evaluates one partner's element with a different key is caught."""
    other_sk, _ = oprf.generate_key_pair()
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a", b"b", b"c"])
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    forged = list(evaluated)
    forged[1] = (batch.blinded_elements[1] * other_sk).to_bytes()
    with pytest.raises(InvalidProof):
        client.finalize(batch, forged, proof)


def test_swapped_evaluations_fail() -> None:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a", b"b"])
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    with pytest.raises(InvalidProof):
        client.finalize(batch, [evaluated[1], evaluated[0]], proof)


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_tampered_proof_fails(position: int) -> None:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a", b"b"])
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    tampered = bytearray(proof)
    tampered[position] ^= 0x01
    with pytest.raises(InvalidProof):
        client.finalize(batch, evaluated, bytes(tampered))


def test_wrong_number_of_evaluations_fails() -> None:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"a", b"b"])
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    with pytest.raises(InvalidProof):
        client.finalize(batch, evaluated[:1], proof)


def test_low_level_verify_proof() -> None:
    blinded = [oprf.blind(x)[1] for x in (b"a", b"b")]
    result = oprf.blind_evaluate(SK, PK, blinded)
    assert result.proof is not None
    assert oprf.verify_proof(PK, blinded, result.evaluated_elements, result.proof)
    _, other_pk = oprf.generate_key_pair()
    assert not oprf.verify_proof(other_pk, blinded, result.evaluated_elements, result.proof)
    zero_s = oprf.Proof(result.proof.c, Scalar.from_bytes(bytes(32), allow_zero=True))
    assert not oprf.verify_proof(PK, blinded, result.evaluated_elements, zero_s)


def test_voprf_finalize_without_proof_is_refused() -> None:
    r, c = oprf.blind(b"a")
    result = oprf.blind_evaluate(SK, PK, [c])
    with pytest.raises(InvalidProof):
        oprf.finalize([b"a"], [r], result.evaluated_elements, [c], PK, None)


def test_modes_are_domain_separated() -> None:
    assert oprf.evaluate(SK, b"x", mode=oprf.OprfMode.OPRF) != oprf.evaluate(SK, b"x")


def test_oprf_mode_needs_no_key_or_proof() -> None:
    r, c = oprf.blind(b"x", mode=oprf.OprfMode.OPRF)
    result = oprf.blind_evaluate(SK, None, [c], mode=oprf.OprfMode.OPRF)
    assert result.proof is None
    out = oprf.finalize(
        [b"x"], [r], result.evaluated_elements, [], None, None, mode=oprf.OprfMode.OPRF
    )
    assert out == [oprf.evaluate(SK, b"x", mode=oprf.OprfMode.OPRF)]


def test_input_length_limit() -> None:
    oprf.blind(b"\x00" * 0xFFFF)
    with pytest.raises(InvalidInput):
        oprf.blind(b"\x00" * 0x10000)
    with pytest.raises(InvalidInput):
        oprf.evaluate(SK, b"\x00" * 0x10000)


def test_derive_key_pair_checks_seed_and_depends_on_info() -> None:
    with pytest.raises(CryptoError):
        oprf.derive_key_pair(b"short", b"")
    a, _ = oprf.derive_key_pair(b"\x01" * 32, b"a")
    b, _ = oprf.derive_key_pair(b"\x01" * 32, b"b")
    assert a != b


def test_empty_batch_is_refused() -> None:
    with pytest.raises(CryptoError):
        oprf.blind_evaluate(SK, PK, [])
    with pytest.raises(CryptoError):
        oprf.VoprfClient(PK).blind_batch([])


def test_element_round_trip_and_generator() -> None:
    g = Element.generator()
    assert oprf.deserialize_element(oprf.serialize_element(g)) == g
    assert oprf.public_key(SK) == PK


@settings(max_examples=15, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=4))
def test_any_inputs_round_trip(inputs: list[bytes]) -> None:
    outputs, *_ = _round_trip(inputs)
    assert outputs == [oprf.evaluate(SK, x) for x in inputs]
