"""Authenticated encryption at rest for the gateway's identity vault (XChaCha20-Poly1305).

Each row's identity fields are encrypted under the vault key with the row id in the associated
data, so a ciphertext only decrypts in the row it was written for: an attacker with write access
to the database cannot swap two people's identities between rows, or move a row under another
signal id, without decryption failing. XChaCha20's 192-bit random nonces make nonce reuse under
one key negligible without any counter state.

Ciphertext layout: version byte 0x01 || 24-byte nonce || ciphertext with 16-byte tag. The
version byte is authenticated too (it is part of the associated data).
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.utils

from crypto.errors import CryptoError, DecryptionFailed

KEY_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
VERSION = b"\x01"
OVERHEAD = len(VERSION) + NONCE_SIZE + TAG_SIZE
_AD_PREFIX = b"samenloop:vault:v1\x00"


def generate_vault_key() -> bytes:
    """A fresh 32-byte vault key from the CSPRNG."""
    return nacl.utils.random(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise CryptoError(f"a vault key is {KEY_SIZE} bytes")


def _associated_data(row_id: str) -> bytes:
    if not isinstance(row_id, str) or not row_id:
        raise CryptoError("row_id must be a non-empty string")
    return _AD_PREFIX + VERSION + row_id.encode("utf-8")


def encrypt_row(key: bytes, row_id: str, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` for the row `row_id` (bound via the associated data)."""
    _check_key(key)
    nonce = nacl.utils.random(NONCE_SIZE)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), _associated_data(row_id), nonce, bytes(key)
    )
    return VERSION + nonce + ct


def decrypt_row(key: bytes, row_id: str, ciphertext: bytes) -> bytes:
    """Decrypt a row; raise `DecryptionFailed` if the key, row id or any byte is wrong."""
    _check_key(key)
    ad = _associated_data(row_id)
    if len(ciphertext) < OVERHEAD:
        raise DecryptionFailed("vault ciphertext is too short")
    if ciphertext[:1] != VERSION:
        raise DecryptionFailed(f"unknown vault ciphertext version {ciphertext[0]}")
    nonce = bytes(ciphertext[1 : 1 + NONCE_SIZE])
    try:
        return bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                bytes(ciphertext[1 + NONCE_SIZE :]), ad, nonce, bytes(key)
            )
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed(f"vault row {row_id!r} does not decrypt under this key") from None
