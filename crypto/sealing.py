"""Sealed boxes: encrypt a disclosure to a recipient's X25519 public key (libsodium `box_seal`).

A gateway discloses identity fields only to the team whose X25519 key is named in a policy signed
by two privacy officers; the matcher routes the box but cannot open it. A sealed box uses a fresh
ephemeral key per message, so the sender keeps nothing that could open it later, and the
recipient learns nothing about who sealed it beyond what the surrounding protocol says.

Public keys arrive as base64 text inside policies, so `parse_x25519_public_key` is strict: exactly
32 bytes, a canonical field element, a point on Curve25519 (not its twist), and not of small
order. A key that fails any of those cannot be anyone's real key; sealing to it would either fail
or produce a box nobody can open, so we refuse before any data is encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from pathlib import Path
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.public

from crypto._files import (
    decode_key_document,
    encode_key_document,
    read_private_file,
    write_private_file,
    write_public_file,
)
from crypto.errors import DecryptionFailed, InvalidPublicKey, KeyFileError

KEY_SIZE: Final = 32
KEY_ID_PREFIX: Final = "x25519:"
SEAL_OVERHEAD: Final = 48  # ephemeral public key (32) + Poly1305 tag (16)
_KIND: Final = "x25519"
_P: Final = 2**255 - 19
_A: Final = 486662
# Any clamped scalar kills the small-order component; a zero product means a small-order point.
_PROBE_SCALAR: Final = hashlib.sha256(b"samenloop:x25519-low-order-probe").digest()


def _check_public_key(raw: bytes) -> None:
    if len(raw) != KEY_SIZE:
        raise InvalidPublicKey(f"an X25519 public key is {KEY_SIZE} bytes, got {len(raw)}")
    u = int.from_bytes(raw, "little")
    if u >= _P:
        raise InvalidPublicKey("X25519 public key is not a canonical field element")
    rhs = (u * u * u + _A * u * u + u) % _P
    if rhs != 0 and pow(rhs, (_P - 1) // 2, _P) != 1:
        raise InvalidPublicKey("X25519 public key is not on Curve25519 (it is on the twist)")
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, raw)
    except nacl.exceptions.RuntimeError:
        raise InvalidPublicKey("X25519 public key has small order") from None


def key_id(public_key: bytes | X25519PublicKey) -> str:
    """`x25519:<first 16 hex of SHA-256(raw public key)>`."""
    raw = public_key.to_bytes() if isinstance(public_key, X25519PublicKey) else bytes(public_key)
    return KEY_ID_PREFIX + hashlib.sha256(raw).hexdigest()[:16]


class X25519PublicKey:
    """A validated X25519 public key (see `parse_x25519_public_key`)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray):
            raise InvalidPublicKey("an X25519 public key is given as bytes")
        _check_public_key(bytes(raw))
        self._raw = bytes(raw)

    def to_bytes(self) -> bytes:
        return self._raw

    def to_base64(self) -> str:
        return base64.b64encode(self._raw).decode("ascii")

    @property
    def key_id(self) -> str:
        return key_id(self._raw)

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the public key document (mode 0644)."""
        doc = encode_key_document(_KIND, self.key_id, secret=None, public=self._raw)
        write_public_file(path, doc, overwrite=overwrite)

    @classmethod
    def load(cls, path: Path) -> X25519PublicKey:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
        return cls(decode_key_document(path, data, _KIND, "public"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519PublicKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"X25519PublicKey({self.key_id})"


class X25519PrivateKey:
    """A recipient's X25519 private key (the wijkteam inbox holds one)."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != KEY_SIZE:
            raise KeyFileError(f"an X25519 private key is {KEY_SIZE} bytes")
        self._key = nacl.public.PrivateKey(bytes(raw))

    @classmethod
    def generate(cls) -> X25519PrivateKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    def private_bytes(self) -> bytes:
        """The 32 secret bytes. Only for writing key files; never log them."""
        return bytes(self._key)

    @property
    def public_key(self) -> X25519PublicKey:
        return X25519PublicKey(bytes(self._key.public_key))

    @property
    def key_id(self) -> str:
        return key_id(bytes(self._key.public_key))

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        doc = encode_key_document(
            _KIND, self.key_id, secret=self.private_bytes(), public=self.public_key.to_bytes()
        )
        write_private_file(path, doc, overwrite=overwrite)

    @classmethod
    def load(cls, path: Path) -> X25519PrivateKey:
        data = read_private_file(path)
        key = cls(decode_key_document(path, data, _KIND, "secret"))
        public = decode_key_document(path, data, _KIND, "public")
        if not hmac.compare_digest(public, key.public_key.to_bytes()):
            raise KeyFileError(f"key file {path}: public part does not match the private key")
        return key

    def __repr__(self) -> str:
        return f"X25519PrivateKey({self.key_id})"


def parse_x25519_public_key(value: str | bytes | X25519PublicKey) -> X25519PublicKey:
    """Parse a recipient key: 32 raw bytes, or their standard base64 text (as in a policy).

    Raises `InvalidPublicKey` for bad base64, a wrong length, a non-canonical encoding, a point
    on the twist, or a point of small order (including all-zero).
    """
    if isinstance(value, X25519PublicKey):
        return value
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPublicKey("X25519 public key is not valid base64") from None
    elif isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        raise InvalidPublicKey("an X25519 public key is given as bytes or base64 text")
    return X25519PublicKey(raw)


def seal(recipient_public_key: X25519PublicKey | bytes | str, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` so only the holder of the matching private key can read it.

    Output is `len(plaintext) + 48` bytes. The recipient key is validated first.
    """
    recipient = parse_x25519_public_key(recipient_public_key)
    box = nacl.public.SealedBox(nacl.public.PublicKey(recipient.to_bytes()))
    return bytes(box.encrypt(bytes(plaintext)))


def open_sealed(private_key: X25519PrivateKey, box: bytes) -> bytes:
    """Decrypt a box; raise `DecryptionFailed` if it was not sealed to this key or was altered."""
    if len(box) < SEAL_OVERHEAD:
        raise DecryptionFailed(f"sealed box is {len(box)} bytes, shorter than its overhead")
    try:
        return bytes(nacl.public.SealedBox(private_key._key).decrypt(bytes(box)))
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed(f"sealed box does not open with key {private_key.key_id}") from None
