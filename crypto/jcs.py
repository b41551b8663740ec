"""Canonical JSON (RFC 8785, JCS): one function the whole project signs and hashes with.

Signatures over JSON only work if signer and verifier serialise the same value to the same
bytes. RFC 8785 fixes member order (UTF-16 code unit order), number formatting (ECMAScript) and
string escaping. We delegate to the `rfc8785` package (Trail of Bits) and only narrow its
interface: any value JSON can carry in, UTF-8 bytes out, one error type.

Fast path. The matcher canonicalises an audit entry per data subject and a reveal request per
contributing signal, on the ingest hot path; `rfc8785` (pure Python) takes ~50 µs per such
document. Documents made only of dicts with ASCII keys, lists, strings, booleans, None and
integers within +-(2^53 - 1) have one canonical form that the standard library's C JSON encoder
also writes: for ASCII keys code point order is UTF-16 code unit order, integers print as
their digits, and both escape exactly `"`, `\\` and U+0000..U+001F (`\\b \\f \\n \\r \\t` short,
the rest as lowercase `\\u00xx`), leaving everything else as UTF-8. Any other document (a float,
a non-ASCII key, a subclass such as an enum, a lone surrogate) goes to `rfc8785`. A property
test holds the two byte-identical (tests/crypto/test_jcs.py).
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from crypto.errors import CryptoError

_INT_MAX = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


class CanonicalizationError(CryptoError):
    """The value cannot be represented in canonical JSON (e.g. NaN, a set, an int over 2^53)."""


def _plain(obj: Any) -> bool:
    """True when `obj` is inside the fast path's domain (exact types only, no subclasses)."""
    t = type(obj)
    if t is str or t is bool or obj is None:
        return True
    if t is int:
        return bool(-_INT_MAX <= obj <= _INT_MAX)
    if t is dict:
        for k, v in obj.items():
            if type(k) is not str or not k.isascii():
                return False
            if type(v) is not str and not _plain(v):  # strings inline: most leaves are
                return False
        return True
    if t is list or t is tuple:
        return all(type(v) is str or _plain(v) for v in obj)
    return False


def _fast_canonical(obj: Any) -> bytes | None:
    """The canonical bytes through the C encoder, or None when `obj` is outside its domain."""
    if not _plain(obj):
        return None
    try:
        return _encode(obj).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it
        return None


def canonical_bytes(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of `obj`.

    `obj` is made of dict (str keys), list/tuple, str, int, float, bool and None. Floats must be
    finite and integers within +-(2^53 - 1) (I-JSON), because beyond that two implementations
    would round differently and a signature would break. Raises `CanonicalizationError`.
    """
    fast = _fast_canonical(obj)
    if fast is not None:
        return fast
    try:
        out = rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"cannot canonicalise value: {type(exc).__name__}") from exc
    return bytes(out)
