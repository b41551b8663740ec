"""Partner mapping files: validation with clear errors, column binding, value translation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.catalogue import PartnerKind
from domain.errors import FileFormatError, MappingError
from domain.formats import CanonicalRow, ExportKind, Rejection, iter_canonical_rows
from domain.formats.mapping import PartnerMapping, bind_columns, load_mapping, parse_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _m(**kw: Any) -> PartnerMapping:
    return parse_mapping({"mapping_version": 1, **kw}, source="m.yaml")


def test_every_example_mapping_loads() -> None:
    paths = sorted(EXAMPLES.glob("partners/*/*mapping.yaml"))
    assert len(paths) >= 5
    kinds = {load_mapping(p).partner_kind for p in paths}
    assert kinds == set(PartnerKind)


def test_a_full_mapping() -> None:
    m = _m(
        partner="Woonstichting",
        partner_kind="housing",
        kind="signals",
        encoding="cp1252",
        delimiter=";",
        columns={"signal_id": "Dossiernr", "observed_on": "Datum"},
        ignore=["Opmerking"],
        date_format="%d-%m-%Y",
        dates={"geboortedatum": "%Y%m%d"},
        values={"signal_type": {"HA2": "huurachterstand"}, "escalated": {"J": True, "N": False}},
        fixed={"purpose": "wgs-vroegsignalering"},
        address={"hyphen_letter": "huisletter"},
    )
    assert m.partner_kind is PartnerKind.HOUSING and m.kind is ExportKind.SIGNALS
    assert m.date_formats == {"observed_on": "%d-%m-%Y", "geboortedatum": "%Y%m%d"}
    assert m.translate("signal_type", " ha2 ") == "huurachterstand"
    assert m.translate("signal_type", "other") == "other"
    assert m.translate("escalated", "j") == "true"
    assert m.ignore == frozenset({"opmerking"})
    assert m.hyphen_letter == "huisletter"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"mapping_version": 2}, "mapping_version"),
        ({"mapping_version": 1, "colums": {}}, "colums"),
        ({"mapping_version": 1, "partner_kind": "bank"}, "partner_kind"),
        ({"mapping_version": 1, "kind": "alerts"}, "kind"),
        ({"mapping_version": 1, "encoding": "klingon"}, "encoding"),
        ({"mapping_version": 1, "delimiter": "|"}, "delimiter"),
        ({"mapping_version": 1, "format": "xls"}, "format"),
        ({"mapping_version": 1, "columns": {"naam": "Naam"}}, "columns.naam"),
        (
            {"mapping_version": 1, "kind": "links", "columns": {"signal_id": "x"}},
            "columns.signal_id",
        ),
        ({"mapping_version": 1, "columns": {"bsn": ""}}, "columns.bsn"),
        ({"mapping_version": 1, "columns": {"bsn": "X", "email": "x"}}, "columns.email"),
        ({"mapping_version": 1, "columns": {"bsn": "X"}, "ignore": ["x"]}, "ignore"),
        ({"mapping_version": 1, "ignore": "Opmerking"}, "ignore"),
        ({"mapping_version": 1, "date_format": "%d-%m"}, "date_format"),
        ({"mapping_version": 1, "date_format": "%Q"}, "date_format"),
        ({"mapping_version": 1, "dates": {"signal_id": "%d-%m-%Y"}}, "dates.signal_id"),
        ({"mapping_version": 1, "values": {"signal_type": {}}}, "values.signal_type"),
        (
            {"mapping_version": 1, "values": {"signal_type": {"a": "x", "A": "y"}}},
            "values.signal_type",
        ),
        ({"mapping_version": 1, "fixed": {"bsn": "123456782"}}, "fixed.bsn"),
        (
            {"mapping_version": 1, "fixed": {"purpose": "x"}, "columns": {"purpose": "D"}},
            "fixed.purpose",
        ),
        ({"mapping_version": 1, "address": {"hyphen_letter": "guess"}}, "address.hyphen_letter"),
        ({"mapping_version": 1, "address": {"colour": 1}}, "address.colour"),
    ],
)
def test_mapping_errors_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_mapping(data, source="m.yaml")
    assert str(err.value).startswith(f"m.yaml: {key}:")


def test_mapping_file_errors(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    bad.write_text("- a\n", encoding="utf-8")
    with pytest.raises(MappingError, match="YAML mapping"):
        load_mapping(bad)


def test_binding_maps_ignores_and_refuses() -> None:
    m = _m(columns={"signal_id": "Dossiernr"}, ignore=["Opmerking"])
    binding, problems = bind_columns(
        ["Dossiernr", "SIGNAL_TYPE", "observed_on", "bsn", "opmerking", ""], ExportKind.SIGNALS, m
    )
    assert problems == []
    assert binding.pairs == (
        ("Dossiernr", "signal_id"),
        ("SIGNAL_TYPE", "signal_type"),
        ("observed_on", "observed_on"),
        ("bsn", "bsn"),
    )
    assert binding.unnamed == ("",)


def test_binding_problems() -> None:
    m = _m(columns={"signal_id": "Dossiernr"}, fixed={"purpose": "wgs-vroegsignalering"})
    _, problems = bind_columns(
        ["signal_id", "Naam klant", "purpose", "bsn", "BSN"], ExportKind.SIGNALS, m
    )
    text = " | ".join(problems)
    assert "'signal_id'" in text and "'Naam klant'" in text and "ignore" in text
    assert "fixes" in text  # purpose column while the mapping fixes purpose
    assert "both bsn" in text
    assert "signal_type" in text and "observed_on" in text  # required, missing
    assert "'Dossiernr'" in text  # the mapping expected this column


def test_signals_need_an_identifier_column() -> None:
    _, problems = bind_columns(
        ["signal_id", "signal_type", "observed_on"], ExportKind.SIGNALS, PartnerMapping()
    )
    assert any("bsn column or postcode and huisnummer" in p for p in problems)


def test_unknown_column_fails_the_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("signal_id,signal_type,observed_on,bsn,opmerking\nA,b,c,d,vrije tekst\n")
    with pytest.raises(FileFormatError) as err:
        list(iter_canonical_rows(p, ExportKind.SIGNALS))
    assert err.value.line == 1 and "'opmerking'" in str(err.value)
    assert "vrije tekst" not in str(err.value)
    ok = list(iter_canonical_rows(p, ExportKind.SIGNALS, _m(ignore=["Opmerking"])))
    assert isinstance(ok[0], CanonicalRow) and "opmerking" not in ok[0].values


def test_fixed_and_translated_values_reach_the_row(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("id;code;datum;bsn;x\nA;ha2;01-02-2026;1;\n")
    m = _m(
        columns={"signal_id": "id", "signal_type": "code", "observed_on": "datum"},
        values={"signal_type": {"HA2": "huurachterstand"}},
        fixed={"purpose": "wgs-vroegsignalering"},
        ignore=["x"],
    )
    [row] = list(iter_canonical_rows(p, ExportKind.SIGNALS, m))
    assert isinstance(row, CanonicalRow)
    assert row.values == {
        "purpose": "wgs-vroegsignalering",
        "signal_id": "A",
        "signal_type": "huurachterstand",
        "observed_on": "01-02-2026",
        "bsn": "1",
    }
    assert "A" not in repr(row) and "huurachterstand" not in repr(row)


def test_kind_mismatch(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("signal_id\nA\n")
    with pytest.raises(FileFormatError, match="is for links"):
        list(iter_canonical_rows(p, ExportKind.WITHDRAWALS, _m(kind="links")))


def test_jsonl_rows_bind_one_by_one(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(
        '{"signal_id": "A"}\n{"signal_id": "B", "opmerking": "vrij"}\n{"reason": "error"}\n'
        '{"signal_id": "C", "": "x"}\n'
    )
    results = list(iter_canonical_rows(p, ExportKind.WITHDRAWALS))
    assert isinstance(results[0], CanonicalRow)
    assert isinstance(results[1], Rejection) and results[1].codes == ("row.columns",)
    assert isinstance(results[2], Rejection) and "signal_id" in results[2].errors[0].reason
    assert isinstance(results[3], Rejection) and results[3].codes == ("row.unnamed_column",)
    assert "vrij" not in repr(results)
