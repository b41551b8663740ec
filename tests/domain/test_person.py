"""Identity-vault fields: names, initials, dates, telephone, e-mail."""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.identifiers.person import (
    PersonIdentity,
    parse_contactpersoon,
    parse_date,
    parse_email,
    parse_geboortedatum,
    parse_geslachtsnaam,
    parse_telefoon,
    parse_voorletters,
    parse_voorvoegsel,
)

PROPS = settings(max_examples=300, deadline=None)
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jansen", "Jansen"),
        ("  van  Dam ", "van Dam"),
        ("O\u2019Brien", "O'Brien"),
        ("Müller-Lüdenscheidt", "Müller-Lüdenscheidt"),
        ("Mu\u0308ller", "Müller"),  # decomposed input becomes NFC
        ("Ağaoğlu", "Ağaoğlu"),
        ("Nguyễn", "Nguyễn"),
    ],
)
def test_geslachtsnaam(raw: str, expected: str) -> None:
    assert parse_geslachtsnaam(raw) == expected


@pytest.mark.parametrize("raw", ["Jansen 2", "Jansen, Piet", "Jan\x00sen", "---", "", "x" * 201])
def test_geslachtsnaam_rejected(raw: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_geslachtsnaam(raw)
    assert err.value.field == "geslachtsnaam"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Van der", "van der"), ("\u2019T", "'t"), ("de", "de"), ("VAN DEN", "van den")],
)
def test_voorvoegsel(raw: str, expected: str) -> None:
    assert parse_voorvoegsel(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("J.P.", "J.P."),
        ("j.p", "J.P."),
        ("J P", "J.P."),
        ("JP", "J.P."),
        ("J. P. M.", "J.P.M."),
        ("Jan Pieter", "J.P."),
        ("Anne-Marie", "A.M."),
        ("Th. J.", "Th.J."),
        ("Chr.", "Chr."),
        ("IJsbrand", "IJ."),
        ("IJ.", "IJ."),
        ("Émile", "É."),
    ],
)
def test_voorletters(raw: str, expected: str) -> None:
    assert parse_voorletters(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06-12345678", "+31612345678"),
        ("06 1234 5678", "+31612345678"),
        ("+31 6 12345678", "+31612345678"),
        ("+31 (0)6 1234 5678", "+31612345678"),
        ("0031 6 12345678", "+31612345678"),
        ("+31 06 12345678", "+31612345678"),
        ("(020) 123 45 67", "+31201234567"),
        ("010-1234567", "+31101234567"),
        ("+32 2 123 45 67", "+3221234567"),
        ("+49 30 1234567", "+49301234567"),
    ],
)
def test_telefoon(raw: str, expected: str) -> None:
    assert parse_telefoon(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0612345", "telefoon.length"),
        ("061234567890", "telefoon.length"),
        ("612345678", "telefoon.format"),
        ("+31 6 1234", "telefoon.length"),
        ("06-1234567x", "telefoon.characters"),
        ("+1234", "telefoon.length"),
    ],
)
def test_telefoon_rejected(raw: str, code: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_telefoon(raw)
    assert err.value.code == code
    assert raw not in str(err.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jan.Jansen@Example.NL", "jan.jansen@example.nl"),
        ("  piet+zorg@gemeente.rotterdam.nl ", "piet+zorg@gemeente.rotterdam.nl"),
        ("info@müller.de", "info@müller.de"),
    ],
)
def test_email(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["jan", "jan@", "@x.nl", "jan@x", "jan..j@x.nl", "jan j@x.nl", "jan@-x.nl", "j@x.1"]
)
def test_email_rejected(raw: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_email(raw)
    assert err.value.field == "email"


def test_dates() -> None:
    assert parse_date("2025-03-01", "observed_on") == date(2025, 3, 1)
    assert parse_date(" 2025-03-01 ", "observed_on") == date(2025, 3, 1)
    assert parse_date("2025-03-01 00:00:00", "observed_on") == date(2025, 3, 1)
    assert parse_date("2025-03-01T13:45", "observed_on") == date(2025, 3, 1)
    assert parse_date("01-03-2025", "observed_on", "%d-%m-%Y") == date(2025, 3, 1)
    assert parse_date("1/3/2025", "observed_on", "%d/%m/%Y") == date(2025, 3, 1)
    for raw, code in [
        ("01-03-2025", "observed_on.format"),
        ("2025-02-30", "observed_on.invalid"),
        ("2025-3-1", "observed_on.format"),
        ("45717", "observed_on.format"),
        ("", "observed_on.missing"),
    ]:
        with pytest.raises(InvalidValue) as err:
            parse_date(raw, "observed_on")
        assert err.value.code == code
    with pytest.raises(InvalidValue, match="%d-%m-%Y"):
        parse_date("2025-03-01", "observed_on", "%d-%m-%Y")
    with pytest.raises(InvalidValue, match="spreadsheet"):
        parse_date("45717", "observed_on")


def test_geboortedatum() -> None:
    assert parse_geboortedatum("1980-02-29", today=TODAY) == date(1980, 2, 29)
    assert parse_geboortedatum("29-02-1980", "%d-%m-%Y", today=TODAY) == date(1980, 2, 29)
    for raw, code in [
        ("1970-00-00", "geboortedatum.incomplete"),
        ("1970-05-00", "geboortedatum.incomplete"),
        ("2025-06-02", "geboortedatum.future"),
        ("1879-12-31", "geboortedatum.range"),
    ]:
        with pytest.raises(InvalidValue) as err:
            parse_geboortedatum(raw, today=TODAY)
        assert err.value.code == code
        assert raw not in str(err.value)


def test_person_identity_hides_values() -> None:
    p = PersonIdentity(geslachtsnaam="Jansen", geboortedatum=date(1980, 1, 2))
    assert "Jansen" not in repr(p) and "1980" not in str(p)
    assert p.present() == ("geslachtsnaam", "geboortedatum")
    assert p.as_strings()["geboortedatum"] == "1980-01-02"
    assert p.as_strings()["email"] == ""
    assert PersonIdentity().is_empty()


PARSERS: list[Callable[[str], object]] = [
    parse_geslachtsnaam,
    parse_voorvoegsel,
    parse_voorletters,
    parse_contactpersoon,
    parse_telefoon,
    parse_email,
    lambda raw: parse_geboortedatum(raw, today=TODAY),
    lambda raw: parse_date(raw, "observed_on", "%d-%m-%Y"),
]


@given(st.text(max_size=40))
@PROPS
def test_no_input_crashes_any_parser(raw: str) -> None:
    for parse in PARSERS:
        with contextlib.suppress(InvalidValue):
            parse(raw)


_NAMEISH = st.text(
    alphabet=st.one_of(
        st.characters(categories=["Lu", "Ll", "Mn"]), st.sampled_from(" -'.\u2019\u00a0")
    ),
    max_size=30,
)


@given(_NAMEISH)
@PROPS
def test_text_parsers_are_idempotent_and_nfc(raw: str) -> None:
    for parse in (parse_geslachtsnaam, parse_voorvoegsel, parse_voorletters, parse_contactpersoon):
        try:
            once = parse(raw)
        except InvalidValue:
            continue
        assert parse(once) == once
        assert unicodedata.is_normalized("NFC", once)
        assert once == once.strip()


@given(
    st.sampled_from(["06", "+316", "00316", "+31 (0)6", "06-"]),
    st.text("0123456789", min_size=8, max_size=8),
)
@PROPS
def test_mobile_numbers_round_trip(prefix: str, digits: str) -> None:
    once = parse_telefoon(prefix + digits)
    assert once == "+316" + digits
    assert parse_telefoon(once) == once


@given(st.emails())
@PROPS
def test_emails_are_idempotent(raw: str) -> None:
    try:
        once = parse_email(raw)
    except InvalidValue:
        return
    assert parse_email(once) == once


@given(st.text(max_size=30))
@PROPS
def test_every_accepted_value_is_a_fixed_point(raw: str) -> None:
    for parse in (parse_telefoon, parse_email, parse_geslachtsnaam, parse_voorletters):
        try:
            once = parse(raw)
        except InvalidValue:
            continue
        assert parse(once) == once


@given(
    st.dates(min_value=date(1880, 1, 1), max_value=TODAY),
    st.sampled_from([None, "%d-%m-%Y", "%Y%m%d", "%d/%m/%Y"]),
)
@PROPS
def test_dates_round_trip(day: date, fmt: str | None) -> None:
    text = day.isoformat() if fmt is None else day.strftime(fmt)
    assert parse_date(text, "observed_on", fmt) == day
    assert parse_geboortedatum(text, fmt, today=TODAY) == day
