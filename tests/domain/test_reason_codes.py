"""The reason codes: docs/formats.md, the registry and what the readers emit agree.

Three checks, each with its own oracle: the documentation table parsed from the Markdown; an
example row written here for every registered code (so no code is listed that cannot happen);
and random rows through every validator (so no code happens that is not listed).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalogue import PartnerKind, load_catalogue
from domain.formats import (
    COLUMNS,
    ExportKind,
    Rejection,
    SignalRules,
    read_withdrawals,
    validate_link,
    validate_signal,
    validate_withdrawal,
)
from domain.formats.reasons import REASON_CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
TODAY = date(2026, 11, 20)
CATALOGUE = load_catalogue()

SIGNAL = {
    "signal_id": "HA-1",
    "signal_type": "huiselijk_geweld_incident",  # subject "either"
    "observed_on": "2026-10-01",
    "purpose": "wams-gecoordineerde-aanpak",
    "bsn": "123456782",
    "postcode": "3072AB",
    "huisnummer": "12",
}
LINK = {"bsn": "123456782", "postcode": "3072AB", "huisnummer": "12", "valid_from": "2026-10-01"}
WITHDRAWAL = {"signal_id": "HA-1", "reason": "resolved"}


def _documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Reasons you may see, and what to do", 1)[1]
    codes: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            codes.update(re.findall(r"`([a-z_]+\.[a-z_]+)`", first_cell))
    return codes


def test_the_documentation_lists_exactly_the_registered_codes() -> None:
    documented = _documented()
    assert sorted(documented - set(REASON_CODES)) == [], "documented but not registered"
    assert sorted(set(REASON_CODES) - documented) == [], "registered but not documented"


def test_the_codes_the_issue_found_missing_are_documented() -> None:
    for code in ("escalated.invalid", "observed_on.invalid", "email.format", "telefoon.format"):
        assert code in _documented()


# One row per code: (kind, values changed from a valid row, partner kind) -> the code.
FIELD_EXAMPLES: dict[str, tuple[str, dict[str, str], PartnerKind | None]] = {
    "signal_id.missing": ("signals", {"signal_id": ""}, None),
    "signal_id.format": ("signals", {"signal_id": "HA 1"}, None),
    "signal_id.personal": ("signals", {"signal_id": "123456782"}, None),
    "signal_type.missing": ("signals", {"signal_type": ""}, None),
    "signal_type.unknown": ("signals", {"signal_type": "huurachterstandd"}, None),
    "signal_type.partner_kind": ("signals", {}, PartnerKind.HOUSING),
    "purpose.missing": ("signals", {"purpose": ""}, None),
    "purpose.unknown": ("signals", {"purpose": "x"}, None),
    "purpose.not_allowed": ("signals", {"purpose": "wgs-vroegsignalering"}, None),
    "observed_on.missing": ("signals", {"observed_on": ""}, None),
    "observed_on.format": ("signals", {"observed_on": "01-10-2026"}, None),
    "observed_on.invalid": ("signals", {"observed_on": "2026-02-30"}, None),
    "observed_on.incomplete": ("signals", {"observed_on": "2026-00-00"}, None),
    "observed_on.future": ("signals", {"observed_on": "2030-01-01"}, None),
    "observed_on.expired": ("signals", {"observed_on": "2020-01-01"}, None),
    "escalated.invalid": ("signals", {"escalated": "misschien"}, None),
    "identifier.missing": ("signals", {"bsn": "", "postcode": "", "huisnummer": ""}, None),
    "bsn.missing": ("links", {"bsn": ""}, None),
    "bsn.characters": ("signals", {"bsn": "abc"}, None),
    "bsn.length": ("signals", {"bsn": "12"}, None),
    "bsn.elfproef": ("signals", {"bsn": "123456789"}, None),
    "bsn.zero": ("signals", {"bsn": "000000000"}, None),
    "bsn.scientific": ("signals", {"bsn": "1.2E+08"}, None),
    "bsn.decimal": ("signals", {"bsn": "123456782.0"}, None),
    "address.missing": ("links", {"postcode": "", "huisnummer": ""}, None),
    "postcode.missing": ("signals", {"postcode": ""}, None),
    "postcode.format": ("signals", {"postcode": "30721"}, None),
    "postcode.letters": ("signals", {"postcode": "3072SA"}, None),
    "huisnummer.missing": ("signals", {"huisnummer": ""}, None),
    "huisnummer.format": ("signals", {"huisnummer": "abc"}, None),
    "huisnummer.characters": ("signals", {"huisnummer": "1.2E+08"}, None),
    "huisnummer.range": ("signals", {"huisnummer": "100000"}, None),
    "huisnummer.ambiguous": ("signals", {"huisnummer": "12-A"}, None),
    "huisnummer.floor": ("signals", {"huisnummer": "12 hoog"}, None),
    "huisnummer.toevoeging_length": ("signals", {"huisnummer": "12 zwart"}, None),
    "huisnummer.conflict": ("signals", {"huisnummer": "12A", "huisletter": "B"}, None),
    "huisletter.format": ("signals", {"huisletter": "AB"}, None),
    "huisnummertoevoeging.format": ("signals", {"huisnummertoevoeging": "A B"}, None),
    "huisnummertoevoeging.characters": ("signals", {"huisnummertoevoeging": "#"}, None),
    "huisnummertoevoeging.toevoeging_length": ("signals", {"huisnummertoevoeging": "ABCDE"}, None),
    "geslachtsnaam.characters": ("signals", {"geslachtsnaam": "Jansen2"}, None),
    "geslachtsnaam.length": ("signals", {"geslachtsnaam": "x" * 201}, None),
    "voorvoegsel.characters": ("signals", {"voorvoegsel": "d3"}, None),
    "voorvoegsel.length": ("signals", {"voorvoegsel": "x" * 11}, None),
    "voorletters.characters": ("signals", {"voorletters": "J3"}, None),
    "voorletters.length": ("signals", {"voorletters": "x" * 201}, None),
    "contactpersoon.characters": ("signals", {"contactpersoon": "M@rie"}, None),
    "contactpersoon.length": ("signals", {"contactpersoon": "x" * 201}, None),
    "geboortedatum.format": ("signals", {"geboortedatum": "17 mei 1984"}, None),
    "geboortedatum.invalid": ("signals", {"geboortedatum": "1984-02-30"}, None),
    "geboortedatum.incomplete": ("signals", {"geboortedatum": "1984-00-00"}, None),
    "geboortedatum.future": ("signals", {"geboortedatum": "2030-01-01"}, None),
    "geboortedatum.range": ("signals", {"geboortedatum": "1800-01-01"}, None),
    "telefoon.characters": ("signals", {"telefoon": "06*12345678"}, None),
    "telefoon.format": ("signals", {"telefoon": "9876543210"}, None),
    "telefoon.length": ("signals", {"telefoon": "061234"}, None),
    "email.characters": ("signals", {"email": "a\x01b@c.nl"}, None),
    "email.format": ("signals", {"email": "j.jansen.example.nl"}, None),
    "email.domain": ("signals", {"email": "j@example"}, None),
    "email.length": ("signals", {"email": "j@" + "x" * 260 + ".nl"}, None),
    "valid_from.missing": ("links", {"valid_from": ""}, None),
    "valid_from.format": ("links", {"valid_from": "1 oktober"}, None),
    "valid_from.invalid": ("links", {"valid_from": "2026-02-30"}, None),
    "valid_from.incomplete": ("links", {"valid_from": "2026-10-00"}, None),
    "valid_from.future": ("links", {"valid_from": "2030-01-01"}, None),
    "reason.unknown": ("withdrawals", {"reason": "betaald"}, None),
}

# Codes about the row as read, with a file that produces each (header a,b for CSV).
ROW_EXAMPLES: dict[str, tuple[str, bytes]] = {
    "row.unreadable": ("w.csv", b"signal_id,reason\nA-1\x00,resolved\n"),
    "row.quote": ("w.csv", b'signal_id,reason\nA-1,"resolved\n'),
    "row.too_long": ("w.csv", b"signal_id,reason\nA-1," + b"x" * 140_000 + b"\n"),
    "row.field_count": ("w.csv", b"signal_id,reason\nA-1,resolved,x\n"),
    "row.encoding": ("w.csv", b"signal_id,reason\nA-\xff1,resolved\n"),
    "row.json": ("w.jsonl", b"[1, 2]\n"),
    "row.nested": ("w.jsonl", b'{"signal_id": ["A-1"]}\n'),
    "row.columns": ("w.jsonl", b'{"signal_id": "A-1", "opmerking": "x"}\n'),
    "row.unnamed_column": ("w.csv", b"signal_id,,reason\nA-1,x,resolved\n"),
}


def _codes(kind: str, changes: dict[str, str], partner_kind: PartnerKind | None) -> set[str]:
    if kind == "signals":
        rules = SignalRules(catalogue=CATALOGUE, partner_kind=partner_kind, today=TODAY)
        result = validate_signal({**SIGNAL, **changes}, 2, rules)
    elif kind == "links":
        result = validate_link({**LINK, **changes}, 2, today=TODAY)
    else:
        result = validate_withdrawal({**WITHDRAWAL, **changes}, 2)
    return {e.code for e in result} if isinstance(result, tuple) else set()


def test_every_registered_code_has_an_example() -> None:
    assert sorted(set(REASON_CODES) - set(FIELD_EXAMPLES) - set(ROW_EXAMPLES)) == []


@pytest.mark.parametrize("code", sorted(FIELD_EXAMPLES))
def test_each_field_code_is_emitted_by_its_example(code: str) -> None:
    kind, changes, partner_kind = FIELD_EXAMPLES[code]
    assert _codes(kind, {}, partner_kind if code != "signal_type.partner_kind" else None) == set()
    assert code in _codes(kind, changes, partner_kind)


@pytest.mark.parametrize("code", sorted(ROW_EXAMPLES))
def test_each_row_code_is_emitted_by_its_example(tmp_path: Path, code: str) -> None:
    name, content = ROW_EXAMPLES[code]
    path = tmp_path / name
    path.write_bytes(content)
    [result] = list(read_withdrawals(path))
    assert isinstance(result, Rejection) and result.codes == (code,)


_values = st.one_of(
    st.text(max_size=14),
    st.sampled_from(
        [
            "",
            "12",
            "12-A",
            "3072AB",
            "123456782",
            "12345678",
            "2026-10-01",
            "2030-01-01",
            "1.2E+08",
            "ja",
            "J.",
            "+31612345678",
            "a@b.nl",
            "huurachterstand",
            "resolved",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    row=st.fixed_dictionaries({c: _values for c in COLUMNS[ExportKind.SIGNALS]}),
    extra=st.fixed_dictionaries({"valid_from": _values, "reason": _values}),
    partner_kind=st.sampled_from([None, *PartnerKind]),
)
def test_every_code_a_random_row_gets_is_registered(
    row: dict[str, str], extra: dict[str, str], partner_kind: PartnerKind | None
) -> None:
    values = {**row, **extra}
    seen: set[str] = set()
    for kind in ("signals", "links", "withdrawals"):
        seen |= (
            _codes(kind, values, partner_kind) if kind == "signals" else _codes(kind, values, None)
        )
    assert seen <= set(REASON_CODES), sorted(seen - set(REASON_CODES))
