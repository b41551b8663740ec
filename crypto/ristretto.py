"""ristretto255 (RFC 9496) elements and scalars: a thin, typed wrapper over libsodium via rbcl.

Two types keep the two kinds of 32-byte strings apart: an `Element` is always a valid,
canonically encoded, non-identity group element (checked on the way in, RFC 9497 section 2.1);
a `Scalar` is always canonical (below the group order L). Arithmetic is libsodium's, which is
constant time; this module adds only checks, types and constant-time equality.

Every element that arrives from outside (a blinded element at the pseudonymiser, an evaluated
element and a pinned public key at the gateway, a key file) is decoded by `Element.from_bytes`,
the one decode path. It refuses what RFC 9496 section 4.3.1 refuses, including an encoding with
bit 255 set: libsodium 1.0.18's `is_valid_point` (the version rbcl bundles) ignores that bit, so
`x` and `x | 2**255` would both decode to the same element, and two byte strings would name one
pseudonym input. The check is here, not left to the library version.

libsodium's `crypto_scalarmult_ristretto255` reads the scalar as 255 bits and fails when the
product is the identity; for canonical non-zero scalars and valid elements that cannot happen in
a prime-order group, so a failure here always means a bad input and becomes `InvalidElement`.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import sys
from collections.abc import Sequence
from typing import Final, final

import rbcl

# rbcl writes its bundled libsodium to a fresh temporary file on every import and never
# removes it (ADR 0002). Once loaded, the mapping no longer needs the file: remove it, so
# processes do not leave 5 MB each behind in $TMPDIR.
with contextlib.suppress(OSError, AttributeError, KeyError):
    os.unlink(sys.modules["rbcl._sodium"].lib_path)

from crypto.errors import InvalidElement, InvalidScalar

ELEMENT_SIZE: Final = 32
SCALAR_SIZE: Final = 32
HASH_SIZE: Final = 64  # input of the one-way map / wide scalar reduction
ORDER: Final = 2**252 + 27742317777372353535851937790883648493
_ZERO32: Final = bytes(32)
_HIGH_BIT: Final = 0x80  # bit 255 of the little-endian encoding: the top bit of the last byte

_is_valid_point = rbcl.crypto_core_ristretto255_is_valid_point
_from_hash = rbcl.crypto_core_ristretto255_from_hash
_add = rbcl.crypto_core_ristretto255_add
_sub = rbcl.crypto_core_ristretto255_sub
_smul = rbcl.crypto_scalarmult_ristretto255
_smul_base = rbcl.crypto_scalarmult_ristretto255_base
_s_mul = rbcl.crypto_core_ristretto255_scalar_mul
_s_add = rbcl.crypto_core_ristretto255_scalar_add
_s_sub = rbcl.crypto_core_ristretto255_scalar_sub
_s_inv = rbcl.crypto_core_ristretto255_scalar_invert
_s_reduce = rbcl.crypto_core_ristretto255_scalar_reduce
_s_random = rbcl.crypto_core_ristretto255_scalar_random


@final
class Element:
    """A valid, non-identity ristretto255 element. Construct with `Element.from_bytes`."""

    __slots__ = ("_b",)
    _b: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Element:
        """Deserialise; raise `InvalidElement` on wrong length, non-canonical bytes or identity."""
        if not isinstance(data, bytes | bytearray) or len(data) != ELEMENT_SIZE:
            raise InvalidElement(f"a ristretto255 element is {ELEMENT_SIZE} bytes")
        data = bytes(data)
        # libsodium's is_valid_point checks the encoding only; it accepts the identity (all
        # zeros), which RFC 9497 DeserializeElement must refuse, so check it separately.
        if data == _ZERO32:
            raise InvalidElement("identity element")
        # RFC 9496 4.3.1: s must be a canonical field element, so below 2^255 - 19; an encoding
        # with bit 255 set never is. libsodium 1.0.18 masks that bit away, so refuse it here.
        if data[-1] & _HIGH_BIT:
            raise InvalidElement("not a canonical ristretto255 encoding (bit 255 is set)")
        if not _is_valid_point(data):
            raise InvalidElement("not a canonical ristretto255 encoding")
        return cls._trusted(data)

    @classmethod
    def _trusted(cls, data: bytes) -> Element:
        # Internal: bytes libsodium produced itself (never the identity, see module docstring).
        obj = object.__new__(cls)
        obj._b = data
        return obj

    @classmethod
    def generator(cls) -> Element:
        return _GENERATOR

    def to_bytes(self) -> bytes:
        return self._b

    def __mul__(self, scalar: Scalar) -> Element:
        return scalar_mult(scalar, self)

    __rmul__ = __mul__

    def __add__(self, other: Element) -> Element:
        return add(self, other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Element) and hmac.compare_digest(self._b, other._b)

    def __hash__(self) -> int:
        return hash(self._b)

    def __repr__(self) -> str:
        return f"Element({self._b.hex()})"


@final
class Scalar:
    """A canonical scalar modulo L. Its repr never shows the value (scalars are often secret)."""

    __slots__ = ("_b",)
    _b: bytes

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_zero: bool = False) -> Scalar:
        """Deserialise 32 little-endian bytes; raise `InvalidScalar` unless 0 < s < L.

        RFC 9497 DeserializeScalar accepts 0; our uses (keys, blinds, proof responses) never
        need it, so zero is refused unless `allow_zero` is given.
        """
        if not isinstance(data, bytes | bytearray) or len(data) != SCALAR_SIZE:
            raise InvalidScalar(f"a ristretto255 scalar is {SCALAR_SIZE} bytes")
        value = int.from_bytes(data, "little")
        if value >= ORDER:
            raise InvalidScalar("scalar is not reduced modulo the group order")
        if value == 0 and not allow_zero:
            raise InvalidScalar("scalar is zero")
        return cls._trusted(bytes(data))

    @classmethod
    def _trusted(cls, data: bytes) -> Scalar:
        obj = object.__new__(cls)
        obj._b = data
        return obj

    @classmethod
    def random(cls) -> Scalar:
        """A uniformly random non-zero scalar from libsodium's CSPRNG."""
        while True:
            s = _s_random()
            if s != _ZERO32:
                return cls._trusted(s)

    @classmethod
    def from_wide_bytes(cls, data: bytes) -> Scalar:
        """Reduce 64 little-endian bytes modulo L (uniform if the bytes are uniform)."""
        if len(data) != HASH_SIZE:
            raise InvalidScalar(f"wide reduction takes {HASH_SIZE} bytes")
        return cls._trusted(_s_reduce(bytes(data)))

    def to_bytes(self) -> bytes:
        return self._b

    def is_zero(self) -> bool:
        return hmac.compare_digest(self._b, _ZERO32)

    def invert(self) -> Scalar:
        if self.is_zero():
            raise InvalidScalar("zero has no inverse")
        return Scalar._trusted(_s_inv(self._b))

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar._trusted(_s_mul(self._b, other._b))

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar._trusted(_s_add(self._b, other._b))

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar._trusted(_s_sub(self._b, other._b))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scalar) and hmac.compare_digest(self._b, other._b)

    def __hash__(self) -> int:
        return hash(self._b)

    def __repr__(self) -> str:
        return "Scalar(<hidden>)"


def scalar_mult(scalar: Scalar, element: Element) -> Element:
    """`scalar * element`; raises `InvalidElement` if libsodium rejects it (identity result)."""
    try:
        return Element._trusted(_smul(scalar._b, element._b))
    except RuntimeError:
        raise InvalidElement("scalar multiplication yields the identity") from None


def scalar_mult_base(scalar: Scalar) -> Element:
    """`scalar * G` with libsodium's fixed-base tables (about 3x faster than `scalar_mult`)."""
    try:
        return Element._trusted(_smul_base(scalar._b))
    except RuntimeError:
        raise InvalidElement("scalar multiplication yields the identity") from None


def add(a: Element, b: Element) -> Element:
    """`a + b`; raises `InvalidElement` if the sum is the identity (a == -b)."""
    out = _add(a._b, b._b)
    if out == _ZERO32:
        raise InvalidElement("sum is the identity element")
    return Element._trusted(out)


def from_uniform_bytes(data: bytes) -> Element:
    """The RFC 9496 one-way map of 64 uniform bytes (libsodium `core_ristretto255_from_hash`).

    The identity is reachable only with negligible probability; it is rejected here because
    RFC 9497 Blind and Evaluate must refuse an input that maps to it.
    """
    if len(data) != HASH_SIZE:
        raise InvalidElement(f"the one-way map takes {HASH_SIZE} bytes")
    out = _from_hash(bytes(data))
    if out == _ZERO32:
        raise InvalidElement("input maps to the identity element")
    return Element._trusted(out)


def batch_invert(scalars: Sequence[Scalar]) -> list[Scalar]:
    """Invert many non-zero scalars with one inversion (Montgomery's trick), in constant time.

    A ristretto255 scalar inversion costs about half a scalar multiplication in libsodium; three
    scalar products cost a few hundred nanoseconds. Used to unblind a whole batch.
    """
    n = len(scalars)
    if n == 0:
        return []
    prefix = [b"" for _ in range(n)]
    acc = scalars[0]._b
    prefix[0] = acc
    for i in range(1, n):
        acc = _s_mul(acc, scalars[i]._b)
        prefix[i] = acc
    if acc == _ZERO32:
        raise InvalidScalar("zero has no inverse")
    inv = _s_inv(acc)
    out = [Scalar._trusted(b"") for _ in range(n)]
    for i in range(n - 1, 0, -1):
        out[i] = Scalar._trusted(_s_mul(inv, prefix[i - 1]))
        inv = _s_mul(inv, scalars[i]._b)
    out[0] = Scalar._trusted(inv)
    return out


_GENERATOR: Final = Element._trusted(
    bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
)
