"""BSN parsing: what spreadsheets do to it is accepted, everything else rejected with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.identifiers.bsn import Bsn, elfproef, parse_bsn
from tests.domain.strategies import valid_bsns

PROPS = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456782", "123456782"),
        (" 123456782 ", "123456782"),
        ("123 456 782", "123456782"),
        ("123\u00a0456\u00a0782", "123456782"),
        ("123.456.782", "123456782"),
        ("1234.56.782", "123456782"),
        ("12345672", "012345672"),  # leading zero dropped by a spreadsheet
        (123456782, "123456782"),  # a JSON number
        (12345672, "012345672"),
    ],
)
def test_accepted_forms(raw: str | int, expected: str) -> None:
    assert parse_bsn(raw).value == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "bsn.missing"),
        ("   ", "bsn.missing"),
        ("123456781", "bsn.elfproef"),
        ("12345671", "bsn.elfproef"),  # 8 digits, zero restored, still wrong
        ("000000000", "bsn.zero"),
        ("00000000", "bsn.zero"),
        ("1234567", "bsn.length"),
        ("1234567890", "bsn.length"),
        ("1.23457E+08", "bsn.scientific"),
        ("1,23457e8", "bsn.scientific"),
        ("12345678.0", "bsn.decimal"),
        ("123456782,00", "bsn.decimal"),
        ("123-456-782", "bsn.characters"),
        ("BSN123456782", "bsn.characters"),
        ("１２３４５６７８２", "bsn.characters"),  # fullwidth digits
        ("١٢٣٤٥٦٧٨٢", "bsn.characters"),  # Arabic-Indic digits
        (True, "bsn.type"),
        (None, "bsn.type"),
    ],
)
def test_rejected_forms_with_reason(raw: object, code: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_bsn(raw)  # type: ignore[arg-type]
    assert err.value.code == code
    assert err.value.field == "bsn"
    if isinstance(raw, str) and len(raw.strip()) > 3:
        assert raw.strip() not in str(err.value)
        assert "12345" not in str(err.value)


def test_the_message_says_what_to_fix() -> None:
    with pytest.raises(InvalidValue, match="elfproef"):
        parse_bsn("123456781")
    with pytest.raises(InvalidValue, match="leading zero"):
        parse_bsn("12345671")
    with pytest.raises(InvalidValue, match="as text"):
        parse_bsn("1.23457E+08")


def test_bsn_hides_itself() -> None:
    b = parse_bsn("123456782")
    assert "123456782" not in repr(b) and "123456782" not in str(b) and "123456782" not in f"{b}"
    assert b == Bsn("123456782") and hash(b) == hash(Bsn("123456782"))
    with pytest.raises(InvalidValue):
        Bsn("123456781")
    with pytest.raises(InvalidValue):
        Bsn("12345678")


@given(st.one_of(st.text(max_size=20), st.integers(), st.none(), st.floats()))
@PROPS
def test_never_crashes(raw: object) -> None:
    try:
        result = parse_bsn(raw)  # type: ignore[arg-type]
    except InvalidValue as exc:
        assert exc.field == "bsn"
    else:
        assert len(result.value) == 9 and elfproef(result.value)


@given(valid_bsns(), st.sampled_from(["plain", "spaces", "dots", "nen", "padded", "int"]))
@PROPS
def test_valid_bsns_round_trip_in_every_accepted_form(bsn: str, form: str) -> None:
    rendered: str | int = {
        "plain": bsn,
        "spaces": f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}",
        "dots": f"{bsn[:3]}.{bsn[3:6]}.{bsn[6:]}",
        "nen": f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}",
        "padded": f"  {bsn}\t",
        # a JSON number loses leading zeros: one is restored, like a spreadsheet's
        "int": int(bsn) if not bsn.startswith("00") else bsn,
    }[form]
    parsed = parse_bsn(rendered)
    assert parsed.value == bsn
    assert parse_bsn(parsed.value) == parsed  # idempotent
    if bsn.startswith("0"):
        assert parse_bsn(bsn[1:]).value == bsn  # the spreadsheet's dropped zero


@given(valid_bsns(), st.integers(0, 8), st.integers(1, 9))
@PROPS
def test_elfproef_catches_every_single_digit_error(bsn: str, pos: int, delta: int) -> None:
    wrong = bsn[:pos] + str((int(bsn[pos]) + delta) % 10) + bsn[pos + 1 :]
    assert not elfproef(wrong)
    with pytest.raises(InvalidValue):
        parse_bsn(wrong)


@given(valid_bsns(), st.integers(0, 7))
@PROPS
def test_elfproef_catches_adjacent_swaps(bsn: str, pos: int) -> None:
    swapped = bsn[:pos] + bsn[pos + 1] + bsn[pos] + bsn[pos + 2 :]
    if swapped != bsn:
        assert not elfproef(swapped)
