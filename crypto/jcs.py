"""Canonical JSON (RFC 8785, JCS): one function the whole project signs and hashes with.

Signatures over JSON only work if signer and verifier serialise the same value to the same
bytes. RFC 8785 fixes member order (UTF-16 code unit order), number formatting (ECMAScript) and
string escaping. We delegate to the `rfc8785` package (Trail of Bits) and only narrow its
interface: any value JSON can carry in, UTF-8 bytes out, one error type.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from crypto.errors import CryptoError


class CanonicalizationError(CryptoError):
    """The value cannot be represented in canonical JSON (e.g. NaN, a set, an int over 2^53)."""


def canonical_bytes(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of `obj`.

    `obj` is made of dict (str keys), list/tuple, str, int, float, bool and None. Floats must be
    finite and integers within +-(2^53 - 1) (I-JSON), because beyond that two implementations
    would round differently and a signature would break. Raises `CanonicalizationError`.
    """
    try:
        out = rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"cannot canonicalise value: {type(exc).__name__}") from exc
    return bytes(out)
