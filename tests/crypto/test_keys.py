"""Key files for every role: formats, permissions, kinds that cannot be confused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crypto import keys, oprf
from crypto.errors import KeyFileError
from crypto.sealing import open_sealed, seal
from crypto.signing import VerifyKey


@pytest.mark.parametrize("kind", list(keys.KeyKind))
def test_generate_writes_a_private_file_and_a_public_half(
    kind: keys.KeyKind, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.key"
    info = keys.generate_key_file(kind, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert info.key_id.startswith(f"{kind.value}:")
    doc = json.loads(path.read_text())
    assert doc["kind"] == kind.value and doc["key_id"] == info.key_id
    if kind in (keys.KeyKind.HMAC, keys.KeyKind.VAULT):
        assert info.public_path is None and info.public_base64 is None
        assert not keys.public_path_for(path).exists()
    else:
        assert info.public_path is not None
        assert os.stat(info.public_path).st_mode & 0o777 == 0o644
        assert "secret" not in json.loads(info.public_path.read_text())


def test_loaders_return_working_keys(tmp_path: Path) -> None:
    keys.generate_key_file("ed25519", tmp_path / "s.key")
    keys.generate_key_file("x25519", tmp_path / "x.key")
    keys.generate_key_file("voprf", tmp_path / "v.key")
    keys.generate_key_file("hmac", tmp_path / "h.key")
    keys.generate_key_file("vault", tmp_path / "w.key")

    signer = keys.load_signing_key(tmp_path / "s.key")
    keys.load_verify_key(tmp_path / "s.key.pub").verify({"a": 1}, signer.sign({"a": 1}))

    inbox = keys.load_x25519_private_key(tmp_path / "x.key")
    box = seal(keys.load_x25519_public_key(tmp_path / "x.key.pub"), b"hi")
    assert open_sealed(inbox, box) == b"hi"

    sk = keys.load_voprf_key(tmp_path / "v.key")
    assert keys.load_voprf_public_key(tmp_path / "v.key.pub") == oprf.public_key(sk)

    assert len(keys.load_hmac_key(tmp_path / "h.key")) == 32
    assert len(keys.load_vault_key(tmp_path / "w.key")) == 32


def test_kinds_cannot_be_confused(tmp_path: Path) -> None:
    keys.generate_key_file("hmac", tmp_path / "h.key")
    keys.generate_key_file("voprf", tmp_path / "v.key")
    with pytest.raises(KeyFileError, match="'hmac' key, expected 'vault'"):
        keys.load_vault_key(tmp_path / "h.key")
    with pytest.raises(KeyFileError):
        keys.load_signing_key(tmp_path / "v.key")
    with pytest.raises(KeyFileError):
        VerifyKey.load(tmp_path / "v.key.pub")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o620, 0o602])
def test_exposed_secret_files_are_refused(mode: int, tmp_path: Path) -> None:
    path = tmp_path / "v.key"
    keys.generate_key_file("voprf", path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.load_voprf_key(path)


def test_tampered_public_part_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "v.key"
    keys.generate_key_file("voprf", path)
    other = tmp_path / "o.key"
    keys.generate_key_file("voprf", other)
    doc = json.loads(path.read_text())
    doc["public"] = json.loads(other.read_text())["public"]
    os.chmod(path, 0o600)
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="does not match"):
        keys.load_voprf_key(path)


def test_error_messages_never_contain_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "h.key"
    keys.generate_key_file("hmac", path)
    secret = json.loads(path.read_text())["secret"]
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError) as info:
        keys.load_hmac_key(path)
    assert secret not in str(info.value)


def test_no_overwrite(tmp_path: Path) -> None:
    keys.generate_key_file("ed25519", tmp_path / "s.key")
    with pytest.raises(KeyFileError, match="already exists"):
        keys.generate_key_file("x25519", tmp_path / "s.key")


def test_symmetric_key_ids_differ_by_kind_and_key() -> None:
    k = b"\x01" * 32
    assert keys.symmetric_key_id(keys.KeyKind.HMAC, k) != keys.symmetric_key_id(
        keys.KeyKind.VAULT, k
    )
    assert keys.symmetric_key_id(keys.KeyKind.HMAC, k) != keys.symmetric_key_id(
        keys.KeyKind.HMAC, b"\x02" * 32
    )
