"""Ed25519 over canonical JSON, key ids, key files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crypto.errors import InvalidPublicKey, InvalidSignature, KeyFileError
from crypto.signing import SigningKey, VerifyKey, key_id

# RFC 8032 section 7.1, TEST 2.
RFC8032_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC8032_MESSAGE = bytes.fromhex("72")
RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)


def test_rfc8032_vector() -> None:
    key = SigningKey(RFC8032_SEED)
    assert key.verify_key.to_bytes() == RFC8032_PUBLIC
    assert key.sign_bytes(RFC8032_MESSAGE) == RFC8032_SIGNATURE
    VerifyKey(RFC8032_PUBLIC).verify_bytes(RFC8032_MESSAGE, RFC8032_SIGNATURE)


def test_sign_and_verify_canonical_objects() -> None:
    key = SigningKey.generate()
    doc = {"policy": "p1", "version": 2, "fields": ["name", "address"]}
    sig = key.sign(doc)
    key.verify_key.verify({"version": 2, "fields": ["name", "address"], "policy": "p1"}, sig)
    with pytest.raises(InvalidSignature, match=key.key_id):
        key.verify_key.verify({**doc, "version": 3}, sig)
    with pytest.raises(InvalidSignature):
        SigningKey.generate().verify_key.verify(doc, sig)
    with pytest.raises(InvalidSignature):
        key.verify_key.verify(doc, sig[:-1])


def test_key_id_is_derived_from_the_public_key() -> None:
    key = SigningKey(RFC8032_SEED)
    assert key.key_id == key_id(RFC8032_PUBLIC) == key.verify_key.key_id
    assert key.key_id.startswith("ed25519:") and len(key.key_id) == len("ed25519:") + 16
    assert SigningKey.generate().key_id != key.key_id


def test_repr_shows_only_the_key_id() -> None:
    key = SigningKey(RFC8032_SEED)
    assert RFC8032_SEED.hex() not in repr(key)
    assert key.key_id in repr(key)


def test_public_key_base64_round_trip_and_errors() -> None:
    vk = SigningKey.generate().verify_key
    assert VerifyKey.from_base64(vk.to_base64()) == vk
    with pytest.raises(InvalidPublicKey):
        VerifyKey.from_base64("not base64!")
    with pytest.raises(InvalidPublicKey):
        VerifyKey(b"\x01" * 31)


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "officer.key"
    key.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = SigningKey.load(path)
    assert loaded.verify_key == key.verify_key
    key.verify_key.save(tmp_path / "officer.pub")
    assert VerifyKey.load(tmp_path / "officer.pub") == key.verify_key
    assert VerifyKey.load(path) == key.verify_key  # the public part of a key file


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    SigningKey.generate().save(path)
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        SigningKey.load(path)


def test_key_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    SigningKey.generate().save(path)
    with pytest.raises(KeyFileError, match="already exists"):
        SigningKey.generate().save(path)


def test_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    from crypto.sealing import X25519PrivateKey

    path = tmp_path / "x.key"
    X25519PrivateKey.generate().save(path)
    with pytest.raises(KeyFileError, match="x25519"):
        SigningKey.load(path)


def test_missing_and_garbage_key_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        SigningKey.load(tmp_path / "none.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\x00\x01")
    os.chmod(garbage, 0o600)
    with pytest.raises(KeyFileError):
        SigningKey.load(garbage)
