"""Hashing to ristretto255 (RFC 9380) with expand_message_xmd over SHA-512.

RFC 9497's ristretto255-SHA512 suite hashes inputs to the group with RFC 9380's
`hash_to_ristretto255`: 64 uniform bytes from `expand_message_xmd(msg, DST, 64)` fed to the
ristretto255 one-way map (libsodium `crypto_core_ristretto255_from_hash`); scalars are derived
the same way and reduced modulo the group order. The domain separation tag (DST) makes hashes
for different purposes independent random oracles.

`Expander` precomputes what depends only on the DST (the padded prefix state and DST_prime),
because the VOPRF hashes once per batch element with the same tags.
"""

from __future__ import annotations

import hashlib
from typing import Final

from crypto.errors import CryptoError
from crypto.ristretto import HASH_SIZE, Element, Scalar, from_uniform_bytes

_B_IN_BYTES: Final = 64  # SHA-512 output size
_S_IN_BYTES: Final = 128  # SHA-512 input block size
_MAX_DST: Final = 255
_OVERSIZE_PREFIX: Final = b"H2C-OVERSIZE-DST-"


class ExpandError(CryptoError):
    """A length or DST outside what expand_message_xmd allows."""


def _dst_prime(dst: bytes) -> bytes:
    if len(dst) > _MAX_DST:
        # RFC 9380 section 5.3.3: long tags are hashed down.
        dst = hashlib.sha512(_OVERSIZE_PREFIX + dst).digest()
    return dst + bytes([len(dst)])


class Expander:
    """expand_message_xmd(SHA-512) bound to one DST."""

    __slots__ = ("_dst_prime", "_prefix")

    def __init__(self, dst: bytes) -> None:
        if len(dst) == 0:
            raise ExpandError("the domain separation tag must not be empty")
        self._dst_prime = _dst_prime(bytes(dst))
        self._prefix = hashlib.sha512(bytes(_S_IN_BYTES))  # Z_pad, absorbed once

    def expand(self, msg: bytes, len_in_bytes: int) -> bytes:
        """RFC 9380 section 5.3.1; `len_in_bytes` in 1..65535 and at most 255 hash blocks."""
        ell = -(-len_in_bytes // _B_IN_BYTES)
        if len_in_bytes <= 0 or ell > 255 or len_in_bytes > 65535:
            raise ExpandError(f"cannot expand to {len_in_bytes} bytes")
        dst_prime = self._dst_prime
        h0 = self._prefix.copy()
        h0.update(msg)
        h0.update(len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime)
        b0 = h0.digest()
        b_prev = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
        out = [b_prev]
        for i in range(2, ell + 1):
            mixed = bytes(x ^ y for x, y in zip(b0, b_prev, strict=True))
            b_prev = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
            out.append(b_prev)
        return b"".join(out)[:len_in_bytes]

    def to_group(self, msg: bytes) -> Element:
        """hash_to_ristretto255 (RFC 9380 appendix B); raises `InvalidElement` for the identity."""
        return from_uniform_bytes(self.expand(msg, HASH_SIZE))

    def to_scalar(self, msg: bytes) -> Scalar:
        """64 expanded bytes read little-endian and reduced modulo the order (RFC 9497 4.1)."""
        return Scalar.from_wide_bytes(self.expand(msg, HASH_SIZE))


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 expand_message_xmd with SHA-512."""
    return Expander(dst).expand(msg, len_in_bytes)


def hash_to_group(msg: bytes, dst: bytes) -> Element:
    """RFC 9380 hash_to_ristretto255(msg) under `dst`."""
    return Expander(dst).to_group(msg)


def hash_to_scalar(msg: bytes, dst: bytes) -> Scalar:
    """A uniform scalar from `msg` under `dst` (RFC 9497 HashToScalar for ristretto255)."""
    return Expander(dst).to_scalar(msg)
