"""Addresses: the documented rule table, the canonical string, and hypothesis properties."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.identifiers.address import (
    Address,
    parse_address,
    parse_huisletter,
    parse_huisnummer,
    parse_postcode,
    parse_toevoeging,
)
from tests.domain.strategies import address_renderings, bag_tuples, combined_forms

DOCS = Path(__file__).resolve().parents[2] / "docs" / "addresses.md"
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _table(name: str) -> list[list[str]]:
    text = DOCS.read_text(encoding="utf-8")
    body = text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows.append([c.replace("\\|", "|") for c in cells])
    return rows


def _cell(cell: str) -> str:
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


ADDRESS_ROWS = _table("address-table")
POSTCODE_ROWS = _table("postcode-table")


def test_the_table_is_big_enough() -> None:
    assert len(ADDRESS_ROWS) >= 40
    assert len(POSTCODE_ROWS) >= 10


@pytest.mark.parametrize("row", ADDRESS_ROWS, ids=[r[0] for r in ADDRESS_ROWS])
def test_documented_address_table(row: list[str]) -> None:
    _, number, letter, toev, hyphen, result, _rule = row
    mode = "reject" if hyphen == "-" else hyphen
    args = (_cell(number), _cell(letter), _cell(toev))
    if result.startswith("rejected"):
        code = _cell(result.split()[1])
        with pytest.raises(InvalidValue) as err:
            parse_address("3072AB", *args, hyphen_letter=mode)  # type: ignore[arg-type]
        assert err.value.code == code
        assert err.value.field == code.split(".")[0]
    else:
        address = parse_address("3072AB", *args, hyphen_letter=mode)  # type: ignore[arg-type]
        assert address.canonical() == "3072AB|" + _cell(result)


@pytest.mark.parametrize("row", POSTCODE_ROWS, ids=[r[0] for r in POSTCODE_ROWS])
def test_documented_postcode_table(row: list[str]) -> None:
    _, raw, result = row
    if result.startswith("rejected"):
        with pytest.raises(InvalidValue) as err:
            parse_postcode(_cell(raw))
        assert err.value.code == _cell(result.split()[1])
    else:
        assert parse_postcode(_cell(raw)) == _cell(result)


def test_canonical_string_and_display() -> None:
    a = Address("3072AB", 12, "A", "2")
    assert a.canonical() == "3072AB|12|A|2"
    assert Address("1011AB", 5).canonical() == "1011AB|5||"
    assert Address("3072AB", 12, "", "2").canonical() == "3072AB|12||2"
    assert a.huisnummer_display() == "12A-2"
    assert a.display() == "3072 AB 12A-2"
    assert Address.from_canonical("3072AB|12|A|2") == a
    assert repr(a) == "Address(<hidden>)" and "3072" not in f"{a}"


@pytest.mark.parametrize(
    "bad",
    ["3072AB|12|A", "3072AB|012|A|2", "3072AB|x||", "3072SA|1||", "3072AB|1|AB|", "", "a|b|c|d|e"],
)
def test_from_canonical_rejects(bad: str) -> None:
    with pytest.raises(InvalidValue):
        Address.from_canonical(bad)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("3072ab", 12), "postcode"),
        (("3072AB", 0), "huisnummer"),
        (("3072AB", 100000), "huisnummer"),
        (("3072AB", True), "huisnummer"),
        (("3072AB", 1, "a"), "huisletter"),
        (("3072AB", 1, "AB"), "huisletter"),
        (("3072AB", 1, "", "ABCDE"), "huisnummertoevoeging"),
        (("3072AB", 1, "", "a"), "huisnummertoevoeging"),
    ],
)
def test_constructor_validates(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(InvalidValue) as err:
        Address(*args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_integer_huisnummer_from_json() -> None:
    assert parse_huisnummer(12) == (12, "", "")
    with pytest.raises(InvalidValue):
        parse_huisnummer(True)


@given(st.text(max_size=30))
@PROPS
def test_parsers_never_crash(raw: str) -> None:
    for parse in (parse_postcode, parse_huisnummer, parse_huisletter, parse_toevoeging):
        with contextlib.suppress(InvalidValue):
            parse(raw)


@given(
    st.text(alphabet="0123456789 -aAbBhHiI2eEgoG/.", max_size=14),
    st.sampled_from(["reject", "huisletter", "toevoeging"]),
)
@PROPS
def test_huisnummer_results_are_valid_and_idempotent(raw: str, mode: str) -> None:
    try:
        number, letter, toev = parse_huisnummer(raw, hyphen_letter=mode)  # type: ignore[arg-type]
    except InvalidValue:
        return
    address = Address("1234AB", number, letter, toev)  # the parts are valid BAG parts
    again = parse_address("1234AB", address.huisnummer_display(), hyphen_letter="toevoeging")
    separate = parse_address("1234AB", str(number), letter, toev)
    assert again == address == separate
    assert Address.from_canonical(address.canonical()) == address


@given(st.data(), bag_tuples)
@PROPS
def test_every_accepted_rendering_gives_the_same_dwelling(
    data: st.DataObject, bag: tuple[str, int, str, str]
) -> None:
    expected = Address(*bag)
    fields = data.draw(address_renderings(bag))
    assert parse_address(*fields) == expected
    assert parse_address(*fields).canonical() == expected.canonical()


@given(st.data(), bag_tuples, bag_tuples)
@PROPS
def test_different_dwellings_never_collapse(
    data: st.DataObject, one: tuple[str, int, str, str], other: tuple[str, int, str, str]
) -> None:
    if data.draw(st.booleans()):  # make near-misses likely: same street, same number
        other = (one[0], one[1], other[2], other[3])
    assume(one != other)
    a = parse_address(*data.draw(address_renderings(one)))
    b = parse_address(*data.draw(address_renderings(other)))
    assert a.canonical() != b.canonical()


@given(bag_tuples)
@PROPS
def test_nen_notation_round_trips(bag: tuple[str, int, str, str]) -> None:
    address = Address(*bag)
    for mode in ("toevoeging", "huisletter"):
        forms = combined_forms(bag[1], bag[2], bag[3])
        for form in forms:
            assert parse_address(bag[0], form, hyphen_letter=mode) == address  # type: ignore[arg-type]
    display = address.huisnummer_display()
    if bag[3] not in {"HOOG", "HG"}:  # floor words alone are only accepted in the columns
        assert parse_address(bag[0], display, hyphen_letter="toevoeging") == address


def test_rejection_reasons_never_contain_the_input() -> None:
    for raw in ["4711 zwart", "4711-X", "4711 hoog", "4711/2", "4711ABC7"]:
        with pytest.raises(InvalidValue) as err:
            parse_huisnummer(raw)
        assert "4711" not in str(err.value)
    with pytest.raises(InvalidValue) as err:
        parse_postcode("9876SS")
    assert "9876" not in str(err.value)


@given(st.text(max_size=12))
@PROPS
def test_part_parsers_are_idempotent(raw: str) -> None:
    for parse in (parse_postcode, parse_huisletter, parse_toevoeging):
        try:
            once = parse(raw)
        except InvalidValue:
            continue
        assert parse(once) == once
    try:
        number, letter, toev = parse_huisnummer(raw, hyphen_letter="toevoeging")
    except InvalidValue:
        return
    assert parse_huisnummer(str(number)) == (number, "", "")
    assert parse_huisletter(letter) == letter and parse_toevoeging(toev) == toev
