"""XChaCha20-Poly1305 at rest, with the row id bound as associated data."""

from __future__ import annotations

import pytest

from crypto.errors import CryptoError, DecryptionFailed
from crypto.vault import OVERHEAD, decrypt_row, encrypt_row, generate_vault_key


def test_round_trip() -> None:
    key = generate_vault_key()
    ct = encrypt_row(key, "signal-1", b'{"naam":"Jansen"}')
    assert len(ct) == len(b'{"naam":"Jansen"}') + OVERHEAD
    assert decrypt_row(key, "signal-1", ct) == b'{"naam":"Jansen"}'
    assert encrypt_row(key, "signal-1", b"x") != encrypt_row(key, "signal-1", b"x")


def test_rows_cannot_be_swapped() -> None:
    key = generate_vault_key()
    a = encrypt_row(key, "row-a", b"identity A")
    b = encrypt_row(key, "row-b", b"identity B")
    with pytest.raises(DecryptionFailed):
        decrypt_row(key, "row-b", a)
    with pytest.raises(DecryptionFailed):
        decrypt_row(key, "row-a", b)


def test_wrong_key_and_tampering_fail_without_leaking() -> None:
    key = generate_vault_key()
    ct = bytearray(encrypt_row(key, "r", b"geheim"))
    with pytest.raises(DecryptionFailed) as info:
        decrypt_row(generate_vault_key(), "r", bytes(ct))
    assert "geheim" not in str(info.value)
    for pos in (0, 1, 30, len(ct) - 1):
        bad = bytearray(ct)
        bad[pos] ^= 1
        with pytest.raises(DecryptionFailed):
            decrypt_row(key, "r", bytes(bad))
    with pytest.raises(DecryptionFailed):
        decrypt_row(key, "r", bytes(ct[: OVERHEAD - 1]))


def test_bad_keys_and_row_ids() -> None:
    with pytest.raises(CryptoError):
        encrypt_row(b"short", "r", b"x")
    with pytest.raises(CryptoError):
        encrypt_row(generate_vault_key(), "", b"x")
