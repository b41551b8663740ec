"""Fuzz targets: one function per reader of hostile input, bytes in, an AssertionError out when
the reader breaks its contract (ADR 0028).

The contract everywhere: no crash (only the reader's own documented error type escapes), no
hang, and a rejected input gets an error for people: one line, naming where. The same targets
run bounded under hypothesis in `make test` (tests/hostile/test_fuzz_files.py) and for minutes
under atheris in `make fuzz` (`python -m fuzz`).
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path

from domain.catalogue import PartnerKind, load_catalogue
from domain.errors import FileFormatError, InvalidValue, MappingError
from domain.formats import ExportKind, Rejection, load_mapping, read_export
from domain.formats.csv_safe import FORMULA_STARTS, escape_cell, unescape_cell
from domain.formats.readers import TableReader
from domain.formats.reasons import REASON_CODES
from domain.identifiers import (
    parse_address,
    parse_bsn,
    parse_contactpersoon,
    parse_date,
    parse_email,
    parse_geboortedatum,
    parse_geslachtsnaam,
    parse_telefoon,
    parse_voorletters,
    parse_voorvoegsel,
)
from policies.errors import PolicyError, TrustFileError
from policies.lint import lint_source
from policies.model import parse_policy
from policies.source import read_policy_file
from policies.trust import load_trust
from services.common.config import ConfigError, read_config_file

TODAY = date(2026, 11, 20)


@cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="samenloop-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _file(name: str, data: bytes) -> Path:
    path = _workdir() / name
    path.write_bytes(data)
    return path


def _one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


# -- partner exports ---------------------------------------------------------------------------


def _read_all(path: Path) -> None:
    for kind in ExportKind:
        try:
            results = list(read_export(path, kind, None, catalogue=load_catalogue(),
                                       partner_kind=PartnerKind.HOUSING, today=TODAY,
                                       default_purpose="wgs-vroegsignalering"))
        except FileFormatError as exc:
            _one_line(str(exc))
            assert str(path) in str(exc)
            continue
        for result in results:
            if isinstance(result, Rejection):
                assert result.line >= 1
                assert set(result.codes) <= set(REASON_CODES), result.codes
                for line in result.lines():
                    _one_line(line)
            else:
                assert all(isinstance(v, str) for v in result.canonical().values())


def export_csv(data: bytes) -> None:
    _read_all(_file("export.csv", data))


def export_jsonl(data: bytes) -> None:
    _read_all(_file("export.jsonl", data))


@cache
def _base_workbook() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["signal_id", "signal_type", "observed_on", "purpose", "postcode",
                  "huisnummer", "reason", "bsn", "valid_from"])
    sheet.append(["A-1", "huurachterstand", date(2026, 11, 1), "wgs-vroegsignalering",
                  "3072AB", 12, "resolved", 123456782, "2026-10-01"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_xlsx(data: bytes) -> None:
    """A real workbook with one of its parts replaced or damaged by `data`, so the fuzzer
    reaches openpyxl's XML parsing instead of stopping at "not a zip file"."""
    base = zipfile.ZipFile(io.BytesIO(_base_workbook()))
    names = base.namelist()
    if not data:
        _read_all(_file("export.xlsx", _base_workbook()))
        return
    target = names[data[0] % len(names)]
    original = base.read(target)
    if len(data) > 1 and data[1] % 2 and original:
        # flip bytes of the original part at positions the input names
        damaged = bytearray(original)
        for i in range(2, len(data) - 1, 2):
            damaged[(data[i] * 256 + data[i + 1]) % len(damaged)] ^= 0xFF
        content = bytes(damaged)
    else:
        content = data[2:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rebuilt:
        for name in names:
            rebuilt.writestr(name, content if name == target else base.read(name))
    _read_all(_file("export.xlsx", out.getvalue()))


def export_any(data: bytes) -> None:
    """Any bytes under a workbook's name (a zip or not)."""
    _read_all(_file("raw.xlsx", data))


# -- YAML and JSON files people write ----------------------------------------------------------


def mapping_yaml(data: bytes) -> None:
    path = _file("mapping.yaml", data)
    try:
        load_mapping(path)
    except MappingError as exc:
        _one_line(str(exc))
        assert str(path) in str(exc)


def policy_yaml(data: bytes) -> None:
    path = _file("policy.yaml", data)
    try:
        source = read_policy_file(path)
    except PolicyError as exc:
        _one_line(str(exc))
        return
    report = lint_source(source, today=TODAY)  # never raises: problems become findings
    for finding in report.findings:
        _one_line(finding.render())
    try:
        parse_policy(source.document, source)
    except PolicyError as exc:
        _one_line(str(exc))


def config_yaml(data: bytes) -> None:
    path = _file("config.yaml", data)
    try:
        read_config_file(path)
    except ConfigError as exc:
        _one_line(str(exc))
        assert str(path) in str(exc)


def trust_file(data: bytes) -> None:
    for name in ("officers.yaml", "officers.json"):
        path = _file(name, data)
        try:
            load_trust(path)
        except TrustFileError as exc:
            _one_line(str(exc))


# -- normalisers ------------------------------------------------------------------------------


def _fields(data: bytes, n: int) -> list[str]:
    parts = data.decode("utf-8", "replace").split("\x1f")
    return (parts + [""] * n)[:n]


def normalisers(data: bytes) -> None:
    """Every identifier parser on text from `data`; only InvalidValue may escape, and its
    reason never repeats the value (errors are logged and shown to data managers)."""
    text, postcode, number, letter, toev = _fields(data, 5)
    checks: list[Callable[[], object]] = [
        lambda: parse_bsn(text),
        lambda: parse_address(postcode, number, letter or None, toev or None),
        lambda: parse_address(postcode, number, hyphen_letter="huisletter"),
        lambda: parse_geboortedatum(text, today=TODAY),
        lambda: parse_date(text, "observed_on"),
        lambda: parse_date(text, "observed_on", "%d-%m-%Y"),
        *[(lambda parse=parse: parse(text)) for parse in (  # type: ignore[misc]
            parse_geslachtsnaam, parse_voorvoegsel, parse_voorletters, parse_contactpersoon,
            parse_telefoon, parse_email)],
    ]
    for check in checks:
        try:
            check()
        except InvalidValue as exc:
            _one_line(str(exc))
            assert exc.code and exc.reason
            if len(text) >= 8 and any(c.isdigit() for c in text):
                assert text not in exc.reason, "a rejected value is repeated in the reason"


# -- CSV the project writes --------------------------------------------------------------------


def csv_cells(data: bytes) -> None:
    """Cells from `data`: escaped, none starts a formula, and the project's reader gives back
    exactly what was written."""
    from domain.formats import csv_safe

    cells = data.decode("utf-8", "replace").replace("\x00", "").split("\x1f")[:8]
    for cell in cells:
        escaped = escape_cell(cell)
        assert unescape_cell(escaped) == cell
        if escaped[:1] in FORMULA_STARTS:
            assert escaped.lstrip("+-")[:1].isdigit(), escaped  # a plain number only
    buffer = io.StringIO()
    csv_safe.writer(buffer, lineterminator="\n").writerows(
        [[f"c{i}" for i in range(len(cells))], cells])
    path = _file("written.csv", buffer.getvalue().encode("utf-8", "surrogatepass"))
    try:
        with TableReader(path, delimiter=",") as table:
            rows = list(table)
    except FileFormatError:
        return  # e.g. every cell empty after the header: nothing to compare
    if len(rows) == 1 and rows[0].problem is None:
        assert list(rows[0].values.values()) == cells


TARGETS: dict[str, Callable[[bytes], None]] = {
    "export_csv": export_csv,
    "export_jsonl": export_jsonl,
    "export_xlsx": export_xlsx,
    "export_any": export_any,
    "mapping_yaml": mapping_yaml,
    "policy_yaml": policy_yaml,
    "config_yaml": config_yaml,
    "trust_file": trust_file,
    "normalisers": normalisers,
    "csv_cells": csv_cells,
}
"""Every file and value target by name (`python -m fuzz NAME`); gRPC targets: fuzz/grpc.py."""
