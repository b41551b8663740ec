"""What exactly is pseudonymised: the domain-separated VOPRF input and the matcher's keyed step.

`voprf_input` prefixes every identifier with the scheme version and its kind, so a BSN and an
address can never produce the same pseudonym, and a future v2 encoding cannot collide with v1.
The kind is followed by a NUL byte, which no kind contains, so the encoding is injective.

`matcher_pseudonym` is the matcher's own keyed step over the VOPRF output: a gateway that sees
the matcher's database cannot link its own records to it, because it lacks the matcher key.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Final

from crypto.errors import CryptoError, InvalidInput
from crypto.oprf import MAX_INPUT_SIZE, OUTPUT_SIZE

PREFIX: Final = b"samenloop:v1:"
MATCHER_KEY_MIN_SIZE: Final = 32
PSEUDONYM_SIZE: Final = 32


class IdentifierKind(StrEnum):
    PERSON = "person"  # BSN, 9 digits passing the elfproef (checked by the normaliser)
    HOUSEHOLD = "household"  # canonical BAG address string (from the normaliser)


def voprf_input(kind: IdentifierKind | str, canonical_value: str | bytes) -> bytes:
    """`b"samenloop:v1:" + kind + b"\\x00" + value`: the bytes the gateway blinds.

    `canonical_value` must already be normalised (the normaliser's job); it is UTF-8 encoded
    if given as text. Raises `InvalidInput` for an unknown kind or an empty / oversized value.
    """
    try:
        k = IdentifierKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown identifier kind {kind!r}") from None
    value = canonical_value.encode("utf-8") if isinstance(canonical_value, str) else canonical_value
    if not value:
        raise InvalidInput("an identifier value must not be empty")
    out = PREFIX + k.value.encode("ascii") + b"\x00" + bytes(value)
    if len(out) > MAX_INPUT_SIZE:
        raise InvalidInput("identifier value is too long for a VOPRF input")
    return out


def matcher_pseudonym(matcher_key: bytes, voprf_output: bytes) -> bytes:
    """HMAC-SHA256(matcher_key, voprf_output): the 32-byte pseudonym the matcher stores."""
    if len(matcher_key) < MATCHER_KEY_MIN_SIZE:
        raise CryptoError(f"the matcher key must be at least {MATCHER_KEY_MIN_SIZE} bytes")
    if len(voprf_output) != OUTPUT_SIZE:
        raise InvalidInput(f"a VOPRF output is {OUTPUT_SIZE} bytes, got {len(voprf_output)}")
    return hmac.new(bytes(matcher_key), bytes(voprf_output), hashlib.sha256).digest()


def pseudonyms_equal(a: bytes, b: bytes) -> bool:
    """Constant-time equality for pseudonyms (they are keyed values; compare without leaking)."""
    return hmac.compare_digest(a, b)
