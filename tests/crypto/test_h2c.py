"""RFC 9380 expand_message_xmd (SHA-512) against the published appendix K.3 vectors."""

from __future__ import annotations

import json

import pytest

from crypto.h2c import Expander, ExpandError, expand_message_xmd, hash_to_group
from crypto.ristretto import Element
from tests.crypto._vectors import load
from tests.support.vectors import require_shared_vectors

SUITE = load("rfc9380_expand_message_xmd_sha512.json")


@pytest.mark.parametrize(
    "case", SUITE["tests"], ids=lambda c: f"{c['msg'][:8]}-{c['len_in_bytes']}"
)
def test_expand_message_xmd_vectors(case: dict[str, str]) -> None:
    got = expand_message_xmd(
        case["msg"].encode(), SUITE["DST"].encode(), int(case["len_in_bytes"], 16)
    )
    assert got.hex() == case["uniform_bytes"]


def test_transcribed_vectors_match_the_shared_set() -> None:
    folder = require_shared_vectors("rfc9380")
    shared = json.loads((folder / "expand_message_xmd_SHA512_38.json").read_text())
    assert shared["tests"] == SUITE["tests"]
    assert shared["DST"] == SUITE["DST"]


def test_expander_is_reusable_and_matches_one_shot() -> None:
    e = Expander(b"DST")
    assert e.expand(b"a", 64) == expand_message_xmd(b"a", b"DST", 64)
    assert e.expand(b"b", 64) == expand_message_xmd(b"b", b"DST", 64)
    assert e.expand(b"a", 64) != e.expand(b"b", 64)


def test_oversize_dst_is_hashed_down() -> None:
    long_dst = b"x" * 300
    assert len(expand_message_xmd(b"m", long_dst, 32)) == 32
    assert expand_message_xmd(b"m", long_dst, 32) != expand_message_xmd(b"m", b"x" * 299, 32)


@pytest.mark.parametrize("length", [0, 255 * 64 + 1, 70000])
def test_lengths_out_of_range_are_refused(length: int) -> None:
    with pytest.raises(ExpandError):
        expand_message_xmd(b"m", b"DST", length)


def test_empty_dst_is_refused() -> None:
    with pytest.raises(ExpandError):
        Expander(b"")


def test_hash_to_group_is_a_valid_element_and_domain_separated() -> None:
    a = hash_to_group(b"input", b"DST-A")
    assert Element.from_bytes(a.to_bytes()) == a
    assert hash_to_group(b"input", b"DST-B") != a
