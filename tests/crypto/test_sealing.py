"""X25519 sealed boxes and strict recipient-key parsing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from crypto.errors import DecryptionFailed, InvalidPublicKey
from crypto.sealing import (
    SEAL_OVERHEAD,
    X25519PrivateKey,
    open_sealed,
    parse_x25519_public_key,
    seal,
)

# Low-order points on Curve25519 (as listed in libsodium's blocklist), and their
# non-canonical encodings (u + p).
LOW_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


def test_seal_and_open() -> None:
    key = X25519PrivateKey.generate()
    box = seal(key.public_key, b"naam: J. Jansen")
    assert len(box) == len(b"naam: J. Jansen") + SEAL_OVERHEAD
    assert open_sealed(key, box) == b"naam: J. Jansen"
    assert seal(key.public_key, b"x") != seal(key.public_key, b"x")  # ephemeral sender key


def test_wrong_key_or_tampering_fails() -> None:
    key = X25519PrivateKey.generate()
    box = bytearray(seal(key.public_key.to_base64(), b"secret"))
    wrong = X25519PrivateKey.generate()
    with pytest.raises(DecryptionFailed, match=wrong.key_id) as info:
        open_sealed(wrong, bytes(box))
    assert "secret" not in str(info.value)
    box[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        open_sealed(key, bytes(box))
    with pytest.raises(DecryptionFailed):
        open_sealed(key, b"short")


@pytest.mark.parametrize("encoding", LOW_ORDER)
def test_low_order_and_non_canonical_keys_are_refused(encoding: str) -> None:
    with pytest.raises(InvalidPublicKey):
        parse_x25519_public_key(bytes.fromhex(encoding))
    with pytest.raises(InvalidPublicKey):
        seal(bytes.fromhex(encoding), b"data")


def test_twist_point_is_refused() -> None:
    # u = 2 is not on Curve25519 (2^3 + A*2^2 + 2 is a non-square mod p); it lies on the twist.
    with pytest.raises(InvalidPublicKey, match="twist"):
        parse_x25519_public_key((2).to_bytes(32, "little"))


def test_parse_accepts_base64_and_bytes() -> None:
    pub = X25519PrivateKey.generate().public_key
    assert parse_x25519_public_key(pub.to_base64()) == pub
    assert parse_x25519_public_key(pub.to_bytes()) == pub
    assert parse_x25519_public_key(base64.b64encode(pub.to_bytes()).decode() + "\n") == pub
    with pytest.raises(InvalidPublicKey):
        parse_x25519_public_key("!!!")
    with pytest.raises(InvalidPublicKey):
        parse_x25519_public_key(pub.to_bytes()[:31])


def test_the_base_point_is_a_valid_key() -> None:
    assert parse_x25519_public_key((9).to_bytes(32, "little")).key_id.startswith("x25519:")


def test_private_key_file(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    key.save(tmp_path / "team.key")
    assert X25519PrivateKey.load(tmp_path / "team.key").public_key == key.public_key
