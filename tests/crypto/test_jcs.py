"""RFC 8785 canonical JSON through `canonical_bytes`."""

from __future__ import annotations

import pytest

from crypto.jcs import CanonicalizationError, canonical_bytes


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
