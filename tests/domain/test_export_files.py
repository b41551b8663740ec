"""Real partner files: Excel workbooks, broken quotes, and files whose kind shows in their columns.

The expected values are written here or computed from what the test wrote (openpyxl's writer,
Python's csv writer), never taken from the reader under test.
"""

from __future__ import annotations

import csv
import io
import string
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import FileFormatError
from domain.formats import (
    ExportKind,
    Rejection,
    SignalRow,
    TableReader,
    parse_mapping,
    read_signals,
    read_withdrawals,
    recognise_kind,
)
from domain.formats.readers import MAX_RECORD_LINES
from tests.domain.strategies import bsn_from

TODAY = date(2026, 11, 20)
HEADER = ["signal_id", "signal_type", "observed_on", "purpose", "bsn", "escalated"]
PURPOSE = "wgs-vroegsignalering"
# 012345672 passes the elfproef and starts with a zero: a numeric cell keeps 12345672
BSN_WITH_ZERO = "012345672"


def _workbook(path: Path, rows: list[list[object]], title: str = "Blad1") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


# --- Excel workbooks ------------------------------------------------------------------------


def test_xlsx_signals_are_read_with_excel_row_numbers_and_the_sheet_name(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "export.xlsx",
        [
            HEADER,
            [
                "HA-1",
                "zorgpremie_achterstand",
                date(2026, 10, 1),
                PURPOSE,
                int(BSN_WITH_ZERO),
                "nee",
            ],
            [],  # an empty row: skipped, but Excel's numbering goes on
            ["HA-2", "zorgpremie_achterstand", "2026-10-02", PURPOSE, "123456789", False],
            ["HA-3", "zorgpremie_achterstand", datetime(2026, 10, 3), PURPOSE, 999990007.0, True],
        ],
    )
    results = list(read_signals(path, today=TODAY))
    assert [type(r) for r in results] == [SignalRow, Rejection, SignalRow]
    first, rejected, third = results
    assert isinstance(first, SignalRow) and isinstance(third, SignalRow)
    assert first.line == 2 and first.observed_on == date(2026, 10, 1)
    assert first.bsn is not None and first.bsn.value == BSN_WITH_ZERO  # leading zero restored
    assert first.escalated is False
    assert third.line == 5 and third.observed_on == date(2026, 10, 3)
    assert third.bsn is not None and third.bsn.value == "999990007"
    assert third.escalated is True
    assert isinstance(rejected, Rejection)
    assert rejected.lines() == [
        f"{path}[Blad1]:4: bsn: BSN fails the elfproef (check digit); look for a typing error"
    ]


def test_xlsx_date_cells_hold_whatever_text_format_the_mapping_gives(tmp_path: Path) -> None:
    mapping = parse_mapping(
        {
            "mapping_version": 1,
            "kind": "signals",
            "columns": {"signal_id": "Dossier", "observed_on": "Datum"},
            "date_format": "%d-%m-%Y",
            "fixed": {"signal_type": "zorgpremie_achterstand", "purpose": PURPOSE},
        }
    )
    path = _workbook(
        tmp_path / "haven.xlsx",
        [
            ["Dossier", "Datum", "bsn"],
            ["D1", date(2026, 9, 30), "123456782"],  # a date cell
            ["D2", "01-10-2026", "123456782"],  # a date typed as text, in the mapping's format
            ["D3", "2026-10-01", "123456782"],  # text, not in the mapping's format
            ["D4", 46000, "123456782"],  # a date that lost its date format: a serial number
        ],
    )
    results = list(read_signals(path, mapping, today=TODAY))
    assert [r.observed_on for r in results if isinstance(r, SignalRow)] == [
        date(2026, 9, 30),
        date(2026, 10, 1),
    ]
    rejected = [r for r in results if isinstance(r, Rejection)]
    assert [(r.line, r.codes) for r in rejected] == [
        (4, ("observed_on.format",)),
        (5, ("observed_on.format",)),
    ]
    assert "spreadsheet date number" in rejected[1].errors[0].reason


def test_xlsx_mapping_may_name_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Toelichting"
    first.append(["Dit blad is uitleg"])
    second = book.create_sheet("Intrekkingen")
    second.append(["signal_id", "reason"])
    second.append(["HA-1", "resolved"])
    book.save(path)
    mapping = parse_mapping({"mapping_version": 1, "kind": "withdrawals", "sheet": "Intrekkingen"})
    [row] = list(read_withdrawals(path, mapping))
    assert not isinstance(row, Rejection) and row.signal_id == "HA-1" and row.line == 2
    wrong = parse_mapping({"mapping_version": 1, "sheet": "Signalen"})
    with pytest.raises(FileFormatError) as err:
        list(read_withdrawals(path, wrong))
    assert str(err.value) == (
        f"{path}: the workbook has no sheet named Signalen; its sheets are: Toelichting, "
        "Intrekkingen"
    )


def test_xlsx_with_wrong_stored_dimensions_is_read_to_its_last_row(tmp_path: Path) -> None:
    """Tools other than Excel often store no or a wrong sheet size; every row still counts."""
    import re
    import zipfile

    written = _workbook(
        tmp_path / "w.xlsx", [["signal_id", "reason"], ["A-1", "resolved"], ["A-2", "moved"]]
    )
    path = tmp_path / "small-dimension.xlsx"
    with zipfile.ZipFile(written) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                small = b'<dimension ref="A1:B1"/>'
                data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', small, data)
                assert n == 1
            dst.writestr(item, data)
    assert [r.line for r in read_withdrawals(path)] == [2, 3]


def test_xlsx_value_in_a_column_without_header_is_rejected(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "w.xlsx", [["signal_id", "reason"], ["A-1", "resolved", "free text"]]
    )
    [result] = list(read_withdrawals(path))
    assert isinstance(result, Rejection) and result.codes == ("row.field_count",)
    assert result.line == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "old Excel workbook (.xls)"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "cannot be read as an Excel workbook"),
        ("renamed.csv", b"PK\x03\x04 not really a zip", "cannot be read as an Excel workbook"),
    ],
)
def test_a_file_that_is_not_a_usable_workbook_is_refused_with_the_fix(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as err:
        list(read_withdrawals(path))
    assert message in str(err.value)
    assert "PK" not in str(err.value)


_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() and not s.startswith("="))
_cells = st.one_of(
    _cell_text,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)),
    st.none(),
)


def _expected_text(value: object) -> str:
    """What a CSV export of the cell would hold; written independently of the reader."""
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return str(value)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(_cells, min_size=3, max_size=3), min_size=1, max_size=8))
def test_xlsx_round_trip_written_by_openpyxl_reads_back(
    tmp_path: Path, rows: list[list[object]]
) -> None:
    path = _workbook(tmp_path / "rt.xlsx", [["a", "b", "c"], *rows])
    with TableReader(path) as table:
        got = [(r.line, r.values, dict(r.dates)) for r in table]
    expected = []
    for number, row in enumerate(rows, start=2):
        texts = [_expected_text(v) for v in row]
        if not any(t.strip() for t in texts):
            continue
        dates = {k: v for k, v in zip("abc", row, strict=True) if isinstance(v, date)}
        expected.append((number, dict(zip("abc", texts, strict=True)), dates))
    assert got == expected
    assert table.display == f"{path}[Blad1]"


# --- quoting in CSV ---------------------------------------------------------------------------


def test_an_unclosed_quote_is_rejected_on_its_line_and_swallows_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    # row 2 opens a quote it never closes; row 4 has a properly quoted value
    path.write_text('signal_id,reason\nA-1,"resolved\nA-2,moved\nA-3,"other"\n')
    results = list(read_withdrawals(path))
    assert len(results) == 3
    first, second, third = results
    assert isinstance(first, Rejection) and first.line == 2 and first.codes == ("row.quote",)
    assert "not closed" in first.errors[0].reason
    assert not isinstance(second, Rejection) and (second.line, second.signal_id) == (3, "A-2")
    assert not isinstance(third, Rejection) and (third.line, third.reason) == (4, "other")


def test_an_unclosed_quote_at_the_end_of_the_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text('signal_id,reason\nA-1,resolved\nA-2,"moved\n')
    results = list(read_withdrawals(path))
    assert [(r.line, isinstance(r, Rejection)) for r in results] == [(2, False), (3, True)]


def test_a_quoted_value_with_line_breaks_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text('signal_id,Opmerking,reason\nA-1,"twee\nregels",moved\nA-2,,other\n')
    mapping = parse_mapping({"mapping_version": 1, "ignore": ["Opmerking"]})
    results = list(read_withdrawals(path, mapping))
    assert [(r.line, getattr(r, "signal_id", None)) for r in results] == [(2, "A-1"), (4, "A-2")]


_plain = st.text(string.ascii_letters + string.digits + " ", min_size=1, max_size=8)
_tricky = st.text(string.ascii_letters + ',;"\n ', min_size=0, max_size=10)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(_tricky, min_size=3, max_size=3), min_size=1, max_size=10))
def test_csv_written_by_the_csv_module_reads_back_with_its_line_numbers(
    tmp_path: Path, rows: list[list[str]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["a", "b", "c"])
    expected = []
    line = 2
    for row in rows:
        before = buffer.tell()
        writer.writerow(row)
        written = buffer.getvalue()[before:]
        if any(row):
            expected.append((line, dict(zip("abc", row, strict=True))))
        line += written.count("\n")
    path = tmp_path / "rt.csv"
    path.write_text(buffer.getvalue(), newline="")
    with TableReader(path) as table:
        assert [(r.line, r.values) for r in table] == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(_plain, min_size=3, max_size=3), min_size=1, max_size=70),
    data=st.data(),
)
def test_one_missing_closing_quote_costs_exactly_its_own_row(
    tmp_path: Path, rows: list[list[str]], data: st.DataObject
) -> None:
    broken = data.draw(st.integers(0, len(rows) - 1), label="broken row")
    column = data.draw(st.integers(0, 2), label="column")
    lines = [",".join(row) for row in rows]
    cells = list(rows[broken])
    cells[column] = '"' + cells[column]
    lines[broken] = ",".join(cells)
    path = tmp_path / "broken.csv"
    path.write_text("a,b,c\n" + "\n".join(lines) + "\n")
    with TableReader(path) as table:
        got = list(table)
    assert [r.line for r in got] == [n + 2 for n in range(len(rows))]
    for n, raw in enumerate(got):
        if n == broken:
            assert raw.problem is not None and raw.problem.code == "row.quote"
        else:
            assert raw.problem is None and raw.values == dict(zip("abc", rows[n], strict=True))


def test_a_runaway_quote_stops_after_max_record_lines(tmp_path: Path) -> None:
    body = ['A-0,"resolved'] + [f"A-{n},moved" for n in range(1, MAX_RECORD_LINES + 20)]
    path = tmp_path / "w.csv"
    path.write_text("signal_id,reason\n" + "\n".join(body) + '\nA-x,"other"\n')
    results = list(read_withdrawals(path))
    assert len(results) == len(body) + 1
    assert [r.line for r in results if isinstance(r, Rejection)] == [2]


# --- recognising the kind of a file ------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["signal_id", "reason"], ExportKind.WITHDRAWALS),
        (["Signal_ID"], ExportKind.WITHDRAWALS),
        (["bsn", "postcode", "huisnummer", "valid_from"], ExportKind.LINKS),
        (["bsn", "postcode", "huisnummer", "huisletter", "valid_from", ""], ExportKind.LINKS),
        (["signal_id", "signal_type", "observed_on", "bsn"], ExportKind.SIGNALS),
        (["signal_id", "reason", "bsn"], None),  # fits none
        (["Dossiernummer", "Reden"], None),  # a partner's own names: needs a mapping
    ],
)
def test_the_kind_of_a_canonical_file_shows_in_its_columns(
    columns: list[str], kind: ExportKind | None
) -> None:
    assert recognise_kind(columns) is kind


def test_bsn_from_helper_matches_the_zero_bsn_used_here() -> None:
    assert bsn_from(1234567) == BSN_WITH_ZERO


def test_a_json_escape_that_is_not_text_rejects_the_row_not_the_field(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text('{"signal_id": "A-1", "reason": "\\ud800"}\n{"signal_id": "A-2"}\n')
    first, second = list(read_withdrawals(path))
    assert isinstance(first, Rejection) and first.codes == ("row.encoding",)
    assert not isinstance(second, Rejection) and second.line == 2


def test_a_workbook_is_read_as_one_even_when_the_mapping_says_csv(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "export.csv", [["signal_id", "reason"], ["A-1", "resolved"]])
    mapping = parse_mapping({"mapping_version": 1, "format": "csv"})
    [row] = list(read_withdrawals(path, mapping))
    assert not isinstance(row, Rejection) and row.signal_id == "A-1"
