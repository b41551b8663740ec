"""Row validation of the three export kinds, through the streaming readers."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.catalogue import PartnerKind, load_catalogue
from domain.formats import (
    COLUMNS,
    ExportKind,
    HouseholdLinkRow,
    NormalisedWriter,
    Rejection,
    SignalRow,
    SignalRules,
    WithdrawalRow,
    read_export,
    read_household_links,
    read_signals,
    read_withdrawals,
    validate_signal,
)
from domain.formats.mapping import parse_mapping
from domain.identifiers.address import Address

TODAY = date(2026, 11, 20)
RULES = SignalRules(load_catalogue(), default_purpose="wams-gecoordineerde-aanpak", today=TODAY)


def _check(**values: str) -> SignalRow | tuple[str, ...]:
    base = {"signal_id": "S-1", "observed_on": "2026-11-01"}
    result = validate_signal({**base, **values}, 7, RULES)
    return result if isinstance(result, SignalRow) else tuple(e.code for e in result)


def test_person_type_needs_a_bsn_and_may_carry_an_address() -> None:
    assert _check(signal_type="ggz_crisiscontact") == ("bsn.missing",)
    row = _check(signal_type="ggz_crisiscontact", bsn="999990019")
    assert isinstance(row, SignalRow) and row.bsn is not None and row.address is None
    row = _check(
        signal_type="ggz_crisiscontact", bsn="999990019", postcode="3072AB", huisnummer="12"
    )
    assert isinstance(row, SignalRow) and row.address == Address("3072AB", 12)


def test_household_type_needs_a_full_address() -> None:
    assert _check(signal_type="huurachterstand", bsn="999990019") == ("address.missing",)
    assert _check(signal_type="huurachterstand", postcode="3072AB") == ("huisnummer.missing",)
    assert _check(signal_type="huurachterstand", huisnummer="12") == ("postcode.missing",)
    row = _check(signal_type="huurachterstand", postcode="3072 ab", huisnummer="12a-2")
    assert isinstance(row, SignalRow) and row.address == Address("3072AB", 12, "A", "2")
    assert row.bsn is None and row.line == 7


def test_either_type_needs_one_of_them() -> None:
    assert _check(signal_type="schuldhulp_aanvraag") == ("identifier.missing",)
    assert isinstance(_check(signal_type="schuldhulp_aanvraag", bsn="999990019"), SignalRow)
    assert isinstance(
        _check(signal_type="schuldhulp_aanvraag", postcode="3072AB", huisnummer="1"), SignalRow
    )


def test_catalogue_partner_kind_and_purpose_rules() -> None:
    assert _check(signal_type="nope", bsn="999990019") == ("signal_type.unknown",)
    assert _check(signal_type="", bsn="999990019") == ("signal_type.missing",)
    police = SignalRules(
        RULES.catalogue, PartnerKind.POLICE, "wams-gecoordineerde-aanpak", today=TODAY
    )
    result = validate_signal(
        {
            "signal_id": "x",
            "signal_type": "huurachterstand",
            "observed_on": "2026-11-01",
            "postcode": "3072AB",
            "huisnummer": "1",
        },
        2,
        police,
    )
    assert isinstance(result, tuple) and result[0].code == "signal_type.partner_kind"
    assert "housing" in result[0].reason
    assert _check(
        signal_type="woonoverlast_melding",
        purpose="wgs-vroegsignalering",
        postcode="3072AB",
        huisnummer="1",
    ) == ("purpose.not_allowed",)
    assert _check(signal_type="ggz_crisiscontact", bsn="999990019", purpose="marketing") == (
        "purpose.unknown",
    )
    no_default = SignalRules(RULES.catalogue, today=TODAY)
    result = validate_signal(
        {
            "signal_id": "x",
            "signal_type": "ggz_crisiscontact",
            "observed_on": "2026-11-01",
            "bsn": "999990019",
        },
        2,
        no_default,
    )
    assert isinstance(result, tuple) and result[0].code == "purpose.missing"


def test_dates_future_and_retention() -> None:
    base = {"signal_type": "ggz_crisiscontact", "bsn": "999990019"}
    assert _check(**base, observed_on="2026-11-21") == ("observed_on.future",)
    assert isinstance(_check(**base, observed_on="2026-11-20"), SignalRow)
    # ggz_crisiscontact keeps 183 days: 2026-05-21 is day 183, 2026-05-20 is past it
    assert isinstance(_check(**base, observed_on="2026-05-21"), SignalRow)
    assert _check(**base, observed_on="2026-05-20") == ("observed_on.expired",)
    assert _check(**base, observed_on="20-11-2026") == ("observed_on.format",)
    assert _check(**base, observed_on="") == ("observed_on.missing",)


def test_signal_id_rules() -> None:
    base = {"signal_type": "ggz_crisiscontact", "bsn": "999990019"}
    assert _check(**base, signal_id="") == ("signal_id.missing",)
    assert _check(**base, signal_id="has space") == ("signal_id.format",)
    assert _check(**base, signal_id="x" * 65) == ("signal_id.format",)
    assert _check(**base, signal_id="999990019") == ("signal_id.personal",)
    row = _check(**base, signal_id="PL1700-2026:118/2_a.b")
    assert isinstance(row, SignalRow) and row.signal_id == "PL1700-2026:118/2_a.b"


def test_identity_fields_are_normalised_and_kept_apart() -> None:
    row = _check(
        signal_type="ggz_crisiscontact",
        bsn="999990019",
        geslachtsnaam=" Jansen ",
        voorvoegsel="De",
        voorletters="JP",
        geboortedatum="1984-05-17",
        telefoon="06-12345678",
        email="J.Jansen@Example.NL",
        contactpersoon="I. de Wit",
        escalated="ja",
    )
    assert isinstance(row, SignalRow)
    assert row.identity.as_strings() == {
        "geslachtsnaam": "Jansen",
        "voorvoegsel": "de",
        "voorletters": "J.P.",
        "geboortedatum": "1984-05-17",
        "telefoon": "+31612345678",
        "email": "j.jansen@example.nl",
        "contactpersoon": "I. de Wit",
    }
    assert row.escalated is True
    assert "Jansen" not in repr(row) and "999990019" not in repr(row)


def test_all_problems_of_a_row_are_reported() -> None:
    codes = _check(
        signal_id="",
        signal_type="huurachterstand",
        observed_on="2030-01-01",
        bsn="123",
        postcode="0000XX",
        huisnummer="12-A",
        email="nope",
        escalated="misschien",
    )
    assert set(codes) == {
        "signal_id.missing",
        "observed_on.future",
        "bsn.length",
        "postcode.format",
        "huisnummer.ambiguous",
        "email.format",
        "escalated.invalid",
    }


def test_mapping_date_formats_and_hyphen_letter(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("id;type;datum;pc;nr;geb\nA;huurachterstand;01-11-2026;3072AB;12-A;17-05-1984\n")
    m = parse_mapping(
        {
            "mapping_version": 1,
            "partner_kind": "housing",
            "columns": {
                "signal_id": "id",
                "signal_type": "type",
                "observed_on": "datum",
                "postcode": "pc",
                "huisnummer": "nr",
                "geboortedatum": "geb",
            },
            "date_format": "%d-%m-%Y",
            "fixed": {"purpose": "wgs-vroegsignalering"},
            "address": {"hyphen_letter": "huisletter"},
        }
    )
    [row] = list(read_signals(p, m, today=TODAY))
    assert isinstance(row, SignalRow)
    assert row.address == Address("3072AB", 12, "A")
    assert row.identity.geboortedatum == date(1984, 5, 17)
    assert row.purpose == "wgs-vroegsignalering"


def test_links() -> None:
    rows = list(
        read_export(
            Path(__file__).resolve().parents[2] / "examples/canonical/links.csv",
            ExportKind.LINKS,
            today=TODAY,
        )
    )
    assert all(isinstance(r, HouseholdLinkRow) for r in rows) and len(rows) == 4


def test_link_rejections(tmp_path: Path) -> None:
    p = tmp_path / "l.csv"
    p.write_text(
        "bsn,postcode,huisnummer,huisletter,huisnummertoevoeging,valid_from\n"
        ",3072AB,1,,,2020-01-01\n"
        "999990019,,,,,2020-01-01\n"
        "999990019,3072AB,1,,,2030-01-01\n"
        "999990019,3072AB,1,,,\n"
        "999990019,3072AB,1,a,,2020-01-01\n"
    )
    results = list(read_household_links(p, today=TODAY))
    assert [r.codes if isinstance(r, Rejection) else "ok" for r in results] == [
        ("bsn.missing",),
        ("address.missing",),
        ("valid_from.future",),
        ("valid_from.missing",),
        "ok",
    ]
    last = results[-1]
    assert isinstance(last, HouseholdLinkRow)
    assert last.canonical() == {
        "bsn": "999990019",
        "postcode": "3072AB",
        "huisnummer": "1",
        "huisletter": "A",
        "huisnummertoevoeging": "",
        "valid_from": "2020-01-01",
    }


def test_withdrawals(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text("signal_id;reason\nA-1;Resolved\nA-2;\n;error\nA-4;paid\n")
    results = list(read_withdrawals(p))
    assert results[0] == WithdrawalRow(2, "A-1", "resolved")
    assert results[1] == WithdrawalRow(3, "A-2", None)
    assert isinstance(results[2], Rejection) and results[2].codes == ("signal_id.missing",)
    assert isinstance(results[3], Rejection) and results[3].codes == ("reason.unknown",)


def test_rejection_lines() -> None:
    r = Rejection("export.csv", 14, ())
    assert r.lines() == []
    from domain.formats import FieldError

    r = Rejection("export.csv", 14, (FieldError("bsn", "bsn.elfproef", "BSN fails the elfproef"),))
    assert r.lines() == ["export.csv:14: bsn: BSN fails the elfproef"]


# --- normalisation is idempotent: the normalised file reads back to the same rows ------------

_values = st.fixed_dictionaries(
    {
        "signal_id": st.sampled_from(["A-1", "B2", "", "x y"]),
        "signal_type": st.sampled_from(
            ["huurachterstand", "ggz_crisiscontact", "schuldhulp_aanvraag", "HUUR", ""]
        ),
        "observed_on": st.sampled_from(["2026-11-01", "2026-06-01", "01-11-2026", "2027-01-01"]),
        "purpose": st.sampled_from(["", "wgs-vroegsignalering", "wams-gecoordineerde-aanpak"]),
        "bsn": st.sampled_from(["", "999990019", "99999001 9", "12345672", "123456781"]),
        "postcode": st.sampled_from(["", "3072 ab", "3072AB", "0000AA"]),
        "huisnummer": st.sampled_from(["", "12", "12a-2", "12 bis", "12-A", "5 2 hoog"]),
        "huisletter": st.sampled_from(["", "b"]),
        "huisnummertoevoeging": st.sampled_from(["", "2", "II"]),
        "geslachtsnaam": st.sampled_from(["", "Jansen", "O’Brien", "J4nsen"]),
        "voorvoegsel": st.sampled_from(["", "Van der"]),
        "voorletters": st.sampled_from(["", "jp", "Jan Pieter"]),
        "geboortedatum": st.sampled_from(["", "1984-05-17", "1970-00-00"]),
        "telefoon": st.sampled_from(["", "06-12345678", "12345"]),
        "email": st.sampled_from(["", "A@B.NL", "a@b"]),
        "contactpersoon": st.sampled_from(["", "I. de Wit"]),
        "escalated": st.sampled_from(["", "J", "true", "0", "?"]),
    }
)


@given(st.lists(_values, min_size=1, max_size=20))
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_normalised_output_reads_back_identically(
    tmp_path: Path, rows: list[dict[str, str]]
) -> None:
    columns = COLUMNS[ExportKind.SIGNALS]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(columns)
    for r in rows:
        w.writerow([r[c] for c in columns])
    src = tmp_path / "in.csv"
    src.write_text(buf.getvalue(), encoding="utf-8")
    first = list(read_signals(src, default_purpose="wams-gecoordineerde-aanpak", today=TODAY))
    assert len(first) == len([r for r in rows if any(r.values())])
    accepted = [r for r in first if isinstance(r, SignalRow)]
    out = tmp_path / "out.csv"
    with NormalisedWriter(out, ExportKind.SIGNALS) as writer:
        for r in accepted:
            writer.write(r)
    again = list(read_signals(out, today=TODAY))
    assert all(isinstance(r, SignalRow) for r in again)
    assert [r.canonical() for r in again] == [r.canonical() for r in accepted]  # type: ignore[union-attr]


def test_unknown_type_suggestion_names_only_catalogue_codes() -> None:
    result = validate_signal(
        {
            "signal_id": "x",
            "signal_type": "huurachterstnd",
            "observed_on": "2026-11-01",
            "postcode": "3072AB",
            "huisnummer": "1",
        },
        2,
        RULES,
    )
    assert isinstance(result, tuple)
    assert "did you mean huurachterstand" in result[0].reason
    assert "huurachterstnd" not in result[0].reason


@pytest.mark.parametrize("kind", list(ExportKind))
def test_read_export_dispatches(tmp_path: Path, kind: ExportKind) -> None:
    p = tmp_path / "x.csv"
    p.write_text(",".join(COLUMNS[kind]) + "\n")
    assert list(read_export(p, kind, today=TODAY)) == []


_any_text = st.text(max_size=16)


@given(st.dictionaries(st.sampled_from(COLUMNS[ExportKind.SIGNALS]), _any_text))
@settings(max_examples=300, deadline=None)
def test_no_row_crashes_signal_validation(values: dict[str, str]) -> None:
    result = validate_signal(values, 3, RULES)
    if isinstance(result, SignalRow):
        again = validate_signal(result.canonical(), 3, RULES)
        assert isinstance(again, SignalRow) and again.canonical() == result.canonical()
    else:
        assert result and all(e.reason and e.code for e in result)


@given(
    st.dictionaries(st.sampled_from(COLUMNS[ExportKind.LINKS]), _any_text),
    st.dictionaries(st.sampled_from(COLUMNS[ExportKind.WITHDRAWALS]), _any_text),
)
@settings(max_examples=300, deadline=None)
def test_no_row_crashes_link_or_withdrawal_validation(
    link: dict[str, str], withdrawal: dict[str, str]
) -> None:
    from domain.formats import validate_link, validate_withdrawal

    result = validate_link(link, 2, today=TODAY)
    if isinstance(result, HouseholdLinkRow):
        assert validate_link(result.canonical(), 2, today=TODAY) == result
    w = validate_withdrawal(withdrawal, 2)
    if isinstance(w, WithdrawalRow):
        assert validate_withdrawal(w.canonical(), 2) == w
