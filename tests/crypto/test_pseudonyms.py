"""The domain-separated VOPRF input and the matcher's keyed pseudonym."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from crypto import oprf
from crypto.errors import CryptoError, InvalidInput
from crypto.pseudonyms import IdentifierKind, matcher_pseudonym, voprf_input


def test_encoding() -> None:
    assert voprf_input("person", "123456782") == b"samenloop:v1:person\x00123456782"
    assert (
        voprf_input(IdentifierKind.HOUSEHOLD, b"1234AB|1") == b"samenloop:v1:household\x001234AB|1"
    )


def test_kinds_never_collide() -> None:
    sk, _ = oprf.generate_key_pair()
    a = oprf.evaluate(sk, voprf_input("person", "123456782"))
    b = oprf.evaluate(sk, voprf_input("household", "123456782"))
    assert a != b


@pytest.mark.parametrize(("kind", "value"), [("bsn", "1"), ("person", ""), ("person", "x" * 70000)])
def test_invalid(kind: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        voprf_input(kind, value)


def test_matcher_pseudonym_is_hmac_sha256() -> None:
    key, out = b"k" * 32, b"o" * 64
    assert matcher_pseudonym(key, out) == hmac.new(key, out, hashlib.sha256).digest()
    assert matcher_pseudonym(b"j" * 32, out) != matcher_pseudonym(key, out)
    with pytest.raises(CryptoError):
        matcher_pseudonym(b"short", out)
    with pytest.raises(InvalidInput):
        matcher_pseudonym(key, b"o" * 63)
