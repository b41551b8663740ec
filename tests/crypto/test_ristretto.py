"""ristretto255 decoding against RFC 9496: the published valid and invalid encodings, and bit 255.

The oracle is the RFC's own appendix, transcribed here: A.1 (encodings of the small multiples
k*G, k = 0..15) and A.2 (encodings every decoder must reject). Bit 255 is not in A.2, but
section 4.3.1 requires it too (a canonical field element is below 2^255 - 19): libsodium 1.0.18,
which rbcl bundles, ignores that bit, so a valid encoding with bit 255 set decoded to the same
element and two byte strings named one pseudonym input. Each decode path (pseudonymiser,
gateway client, pinned key, key file, proof) is tried with such an encoding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import oprf
from crypto.errors import InvalidElement, InvalidProof, KeyFileError
from crypto.keys import KeyKind, encode_key_document, load_voprf_public_key
from crypto.ristretto import ORDER, Element, Scalar, scalar_mult_base

# RFC 9496 appendix A.1: the encodings of k*G for k = 0..15 (k = 0 is the identity).
SMALL_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
]

# RFC 9496 appendix A.2 ("Invalid Encodings"), all 29, in the RFC's groups.
INVALID_ENCODINGS = {
    "non-canonical field encoding": [
        "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ],
    "negative field element": [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
        "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
        "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
        "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
        "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
        "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    ],
    "non-square x^2": [
        "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
        "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
        "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
        "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
        "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
        "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
        "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
        "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    ],
    "negative xy value": [
        "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
        "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
        "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
        "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
        "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
        "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
        "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
        "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    ],
    "s = -1, which causes y = 0": [
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ],
}
ALL_INVALID = [(group, enc) for group, encs in INVALID_ENCODINGS.items() for enc in encs]


def high_bit(encoding: bytes) -> bytes:
    """`encoding` with bit 255 (the top bit of the last byte, little-endian) set."""
    return encoding[:31] + bytes([encoding[31] | 0x80])


HIGH_BIT_OF_VALID = [high_bit(bytes.fromhex(e)).hex() for e in SMALL_MULTIPLES[1:]]


def test_the_transcription_is_complete() -> None:
    assert len(SMALL_MULTIPLES) == 16
    assert len(ALL_INVALID) == 29
    assert len({e for _, e in ALL_INVALID}) == 29


@pytest.mark.parametrize("k", range(1, 16))
def test_small_multiples_decode_and_match_k_times_g(k: int) -> None:
    encoding = bytes.fromhex(SMALL_MULTIPLES[k])
    element = Element.from_bytes(encoding)
    assert element.to_bytes() == encoding
    assert scalar_mult_base(Scalar.from_bytes(k.to_bytes(32, "little"))) == element


def test_the_identity_is_refused() -> None:
    with pytest.raises(InvalidElement, match="identity"):
        Element.from_bytes(bytes.fromhex(SMALL_MULTIPLES[0]))


@pytest.mark.parametrize(("group", "encoding"), ALL_INVALID, ids=[e[:12] for _, e in ALL_INVALID])
def test_rfc9496_invalid_encodings_are_refused(group: str, encoding: str) -> None:
    with pytest.raises(InvalidElement):
        Element.from_bytes(bytes.fromhex(encoding))


@pytest.mark.parametrize("encoding", HIGH_BIT_OF_VALID, ids=[f"{k}G" for k in range(1, 16)])
def test_a_valid_encoding_with_bit_255_set_is_refused(encoding: str) -> None:
    with pytest.raises(InvalidElement, match="bit 255"):
        Element.from_bytes(bytes.fromhex(encoding))


def test_the_libsodium_high_bit_vector_is_refused() -> None:
    # Added to libsodium's own test list after 1.0.18: the encoding of 1 with bit 255 set.
    with pytest.raises(InvalidElement):
        Element.from_bytes(bytes.fromhex("01" + "00" * 30 + "80"))


@given(st.integers(min_value=1, max_value=ORDER - 1))
def test_every_element_has_exactly_one_accepted_encoding_of_the_two(k: int) -> None:
    element = scalar_mult_base(Scalar.from_bytes(k.to_bytes(32, "little")))
    encoding = element.to_bytes()
    assert encoding[31] & 0x80 == 0  # what libsodium produces never has bit 255 set
    assert Element.from_bytes(encoding) == element
    with pytest.raises(InvalidElement):
        Element.from_bytes(high_bit(encoding))


# --- every decode path -------------------------------------------------------------------------

SK, PK = oprf.derive_key_pair(b"\x09" * 32, b"samenloop ristretto test key")


def test_the_pseudonymiser_refuses_a_blinded_element_with_bit_255_set() -> None:
    server = oprf.VoprfServer(SK)
    _, blinded = oprf.blind(b"samenloop:v1:person\x00999990007")
    good = blinded.to_bytes()
    server.evaluate_batch([good])  # the same element, canonically encoded, is evaluated
    with pytest.raises(InvalidElement, match="bit 255"):
        server.evaluate_batch([good, high_bit(good)])


def test_the_gateway_refuses_an_evaluated_element_with_bit_255_set() -> None:
    client = oprf.VoprfClient(PK)
    batch = client.blind_batch([b"samenloop:v1:person\x00999990007"])
    evaluated, proof = oprf.VoprfServer(SK).evaluate_batch(batch.wire())
    assert len(client.finalize(batch, evaluated, proof)) == 1
    with pytest.raises(InvalidElement, match="bit 255"):
        client.finalize(batch, [high_bit(evaluated[0])], proof)


def test_a_pinned_public_key_with_bit_255_set_is_refused() -> None:
    oprf.VoprfClient(PK.to_bytes())
    with pytest.raises(InvalidElement, match="bit 255"):
        oprf.VoprfClient(high_bit(PK.to_bytes()))


def test_a_public_key_file_with_bit_255_set_is_refused(tmp_path: Path) -> None:
    key_id = oprf.public_key_id(PK)
    good, bad = tmp_path / "good.pub", tmp_path / "bad.pub"
    good.write_bytes(encode_key_document(KeyKind.VOPRF, key_id, secret=None, public=PK.to_bytes()))
    bad.write_bytes(
        encode_key_document(KeyKind.VOPRF, key_id, secret=None, public=high_bit(PK.to_bytes()))
    )
    assert load_voprf_public_key(good) == PK
    with pytest.raises(KeyFileError, match="bit 255"):
        load_voprf_public_key(bad)


def test_a_proof_scalar_with_bit_255_set_is_refused() -> None:
    _, proof = oprf.VoprfServer(SK).evaluate_batch([oprf.blind(b"x")[1].to_bytes()])
    oprf.deserialize_proof(proof)
    for offset in (31, 63):  # the top byte of c, then of s
        tampered = bytearray(proof)
        tampered[offset] |= 0x80
        with pytest.raises(InvalidProof):
            oprf.deserialize_proof(bytes(tampered))
