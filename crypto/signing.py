"""Ed25519 signatures over canonical JSON, with key ids derived from the public key.

Policies, reveal requests and checkpoints are signed objects that cross organisations. Signing
`canonical_bytes(obj)` (RFC 8785) rather than whatever JSON a library happened to emit means a
verifier re-derives the exact signed bytes from the parsed document. A key id is a short,
public, collision-resistant name for a key (`ed25519:` + 16 hex digits of SHA-256 of the raw
public key), so documents can say which key signed them without embedding the key.

Built on PyNaCl (libsodium). Verification failures raise `InvalidSignature` naming the key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.signing

from crypto._files import (
    decode_key_document,
    encode_key_document,
    read_private_file,
    write_private_file,
    write_public_file,
)
from crypto.errors import InvalidPublicKey, InvalidSignature, KeyFileError
from crypto.jcs import canonical_bytes

KEY_ID_PREFIX: Final = "ed25519:"
PUBLIC_KEY_SIZE: Final = 32
SEED_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
_KIND: Final = "ed25519"


def key_id(public_key: bytes | VerifyKey) -> str:
    """`ed25519:<first 16 hex of SHA-256(raw public key)>` — stable, public, 64 bits."""
    raw = public_key.to_bytes() if isinstance(public_key, VerifyKey) else bytes(public_key)
    if len(raw) != PUBLIC_KEY_SIZE:
        raise InvalidPublicKey(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, got {len(raw)}")
    return KEY_ID_PREFIX + hashlib.sha256(raw).hexdigest()[:16]


class VerifyKey:
    """An Ed25519 public key. Verify canonical-JSON objects or raw messages."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != PUBLIC_KEY_SIZE:
            raise InvalidPublicKey(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} raw bytes")
        try:
            self._key = nacl.signing.VerifyKey(bytes(raw))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise InvalidPublicKey("not a valid Ed25519 public key") from None

    @classmethod
    def from_base64(cls, text: str) -> VerifyKey:
        """Parse the standard base64 of the 32 raw bytes (the form used in documents)."""
        try:
            return cls(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidPublicKey("Ed25519 public key is not valid base64") from None

    def to_bytes(self) -> bytes:
        return bytes(self._key)

    def to_base64(self) -> str:
        return base64.b64encode(bytes(self._key)).decode("ascii")

    @property
    def key_id(self) -> str:
        return key_id(self.to_bytes())

    def verify_bytes(self, message: bytes, signature: bytes) -> None:
        """Check a detached signature over raw bytes; raise `InvalidSignature` if it fails."""
        if len(signature) != SIGNATURE_SIZE:
            raise InvalidSignature(
                f"signature is {len(signature)} bytes, expected {SIGNATURE_SIZE}"
                f" (key {self.key_id})"
            )
        try:
            self._key.verify(bytes(message), bytes(signature))
        except nacl.exceptions.BadSignatureError:
            raise InvalidSignature(f"signature does not verify with key {self.key_id}") from None

    def verify(self, obj: Any, signature: bytes) -> None:
        """Check a detached signature over `canonical_bytes(obj)`."""
        self.verify_bytes(canonical_bytes(obj), signature)

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the public key document (mode 0644)."""
        write_public_file(
            path,
            encode_key_document(_KIND, self.key_id, secret=None, public=self.to_bytes()),
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, path: Path) -> VerifyKey:
        """Read a public key document written by `save` (or the public part of a key file)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
        return cls(decode_key_document(path, data, _KIND, "public"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return False
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"VerifyKey({self.key_id})"


class SigningKey:
    """An Ed25519 private key. Its repr and errors show only the key id."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_SIZE:
            raise KeyFileError(f"an Ed25519 private key seed is {SEED_SIZE} bytes")
        self._key = nacl.signing.SigningKey(bytes(seed))

    @classmethod
    def generate(cls) -> SigningKey:
        """A new key from the operating system's CSPRNG."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    def seed_bytes(self) -> bytes:
        """The 32-byte secret seed. Only for writing key files; never log it."""
        return bytes(self._key)

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes(self._key.verify_key))

    @property
    def key_id(self) -> str:
        return key_id(bytes(self._key.verify_key))

    def sign_bytes(self, message: bytes) -> bytes:
        """A detached 64-byte signature over raw bytes."""
        return bytes(self._key.sign(bytes(message)).signature)

    def sign(self, obj: Any) -> bytes:
        """A detached 64-byte signature over `canonical_bytes(obj)`."""
        return self.sign_bytes(canonical_bytes(obj))

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the key document with mode 0600 (and refuse to replace a file unless asked)."""
        doc = encode_key_document(
            _KIND, self.key_id, secret=self.seed_bytes(), public=self.verify_key.to_bytes()
        )
        write_private_file(path, doc, overwrite=overwrite)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Read a key file; refuses it if group or others can access it."""
        data = read_private_file(path)
        key = cls(decode_key_document(path, data, _KIND, "secret"))
        public = decode_key_document(path, data, _KIND, "public")
        if not hmac.compare_digest(public, key.verify_key.to_bytes()):
            raise KeyFileError(f"key file {path}: public part does not match the private key")
        return key

    def __repr__(self) -> str:
        return f"SigningKey({self.key_id})"
