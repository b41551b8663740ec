"""RFC 8785 canonical JSON through `canonical_bytes`: the RFC's examples, and its fast path for
documents of strings, ints and bools held byte-identical to the `rfc8785` package."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.jcs import CanonicalizationError, _fast_canonical, canonical_bytes


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 section 3.2.2 (sorting) and 3.2.3 (numbers, escapes) in one value.
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_member_order_is_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3's sorting example: the emoji (surrogates D83D DE00) sorts before
    # U+FB33 by UTF-16 code units, though after it by code points.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    import json

    order = list(json.loads(canonical_bytes(value)).values())
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_same_value_same_bytes_whatever_the_insertion_order() -> None:
    assert canonical_bytes({"b": 1, "a": [1, 2]}) == canonical_bytes({"a": [1, 2], "b": 1})
    assert canonical_bytes({"a": 1.0}) == b'{"a":1}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, {1: "int key"}, {1, 2}])
def test_values_without_a_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_bytes({"v": bad} if not isinstance(bad, dict) else bad)


# --- the fast path (documents of strings, ints, bools) is byte-identical to rfc8785 -----------

_SAFE = 2**53 - 1
# Every code point, lone surrogates included, with the ones escaping rules single out made likely.
_ANY_CHAR = st.characters(codec=None, categories=None) | st.sampled_from(
    ['"', "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\ud800",
     "\U0001f600", "\ufb33", "/"])
_TEXT = st.text(_ANY_CHAR, max_size=12)
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**60), 2**60)
            | st.integers(-_SAFE, _SAFE) | st.floats(allow_nan=True) | _TEXT)
_ANY_DOC = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)

# The fast path's own domain: strings (no lone surrogates), safe ints, bools, None; ASCII keys.
_VALID_CHAR = st.characters(codec="utf-8") | st.sampled_from(
    ['"', "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\U0001f600"])
_PLAIN_DOC = st.recursive(
    st.none() | st.booleans() | st.integers(-_SAFE, _SAFE) | st.text(_VALID_CHAR, max_size=12),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(st.characters(codec="ascii"), max_size=8), inner, max_size=6),
    max_leaves=25,
)


def _reference(value: object) -> bytes | None:
    try:
        return bytes(rfc8785.dumps(value))  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


@settings(max_examples=250, deadline=None)
@given(_PLAIN_DOC)
def test_fast_path_is_byte_identical_to_rfc8785(doc: object) -> None:
    fast = _fast_canonical(doc)
    assert fast is not None, "a document of strings, ints and bools takes the fast path"
    assert fast == rfc8785.dumps(doc)  # type: ignore[arg-type]


@settings(max_examples=250, deadline=None)
@given(_ANY_DOC)
def test_canonical_bytes_equals_rfc8785_for_any_value(doc: object) -> None:
    expected = _reference(doc)
    if expected is None:
        with pytest.raises(CanonicalizationError):
            canonical_bytes(doc)
    else:
        assert canonical_bytes(doc) == expected
    fast = _fast_canonical(doc)
    assert fast is None or fast == expected


def test_fast_path_leaves_what_it_cannot_prove_to_rfc8785() -> None:
    from enum import StrEnum

    class Colour(StrEnum):
        RED = "red"

    assert _fast_canonical({"a": 1.5}) is None  # floats: ECMAScript number formatting
    assert _fast_canonical({"\u00e9": 1}) is None  # non-ASCII key: UTF-16 order
    assert _fast_canonical({"a": 2**53}) is None  # outside I-JSON
    assert _fast_canonical({"a": "\ud800"}) is None  # lone surrogate
    assert _fast_canonical({"a": Colour.RED}) is None  # a subclass
    assert _fast_canonical({1: "a"}) is None  # a key that is not a string
    expected = '{"a":"red","\u00e9":[1.5]}'.encode()
    assert canonical_bytes({"a": Colour.RED, "\u00e9": [1.5]}) == expected
