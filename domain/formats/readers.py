"""Streaming readers for partner exports: CSV, JSON Lines and Excel (.xlsx), with line numbers.

`TableReader` reads one row at a time (constant memory for any file size) and says for every row
on which line it starts. It is forgiving where exports are messy and reports, rather than
raises, problems in single rows:

- CSV with comma, semicolon or tab; the delimiter is taken from the header line (the one that
  splits it into the most columns) unless given; quoted values as in RFC 4180. A quote that is
  not closed properly is reported on the line where the row starts, and the lines after it are
  read as rows of their own (a missing quote does not swallow the rows that follow);
- Excel workbooks (.xlsx), the first sheet or the mapping's `sheet`, with Excel's row numbers
  (see `domain.formats.xlsx`); an old .xls workbook is refused with the fix;
- UTF-8 with or without byte-order mark, or another encoding named in the mapping (Excel on a
  Dutch Windows saves "CSV" as cp1252); a row that does not decode is rejected, the rest goes on;
  a UTF-16 file (Excel's "Unicode text") is refused as a whole with the fix;
- blank lines and lines of empty values (`;;;;`, which spreadsheets append) are skipped and not
  counted;
- trailing empty columns without a name (a delimiter at the end of every line) are ignored;
- a CSV row with more or fewer values than the header, a NUL byte, a JSON line that is not an
  object, or a nested JSON value is rejected with its line number;
- a CSV cell escaped against formula injection (`'=...`, `domain.formats.csv_safe`) reads as
  the value before escaping, so every CSV samenloop writes reads back as written.

Values come out as text: a JSON number as its digits, `true`/`false`, `null` as empty.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from domain.errors import FileFormatError
from domain.formats.csv_safe import unescape_cell
from domain.formats.results import FieldError
from domain.formats.xlsx import XlsxSheet, uncompressed_size

__all__ = ["DELIMITERS", "FORMATS", "MAX_RECORD_LINES", "Format", "RawRow", "TableReader",
           "detect_format", "reading_size"]

Format = Literal["csv", "jsonl", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "xlsx")
DELIMITERS = (",", ";", "\t")
MAX_RECORD_LINES = 50
"""A quoted value may run over lines (a comment with line breaks), but not over more than this:
beyond it the quote is taken to be missing."""

_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True, slots=True, repr=False)
class RawRow:
    """One row as read: the line it starts on, values by the file's own column names, and a
    problem if the row could not be read properly (then `values` may be incomplete)."""

    line: int
    values: dict[str, str]
    problem: FieldError | None = None
    dates: Mapping[str, date] = field(default_factory=dict)
    """Columns whose value was a date cell of a workbook (the value is its ISO text)."""

    def __repr__(self) -> str:
        return f"RawRow(line={self.line}, <values hidden>, problem={self.problem!r})"


def reading_size(path: Path | str) -> int:
    """What reading `path` costs in bytes: its size, or a workbook's size unzipped (a small
    .xlsx can unzip to gigabytes). Raises OSError when the file cannot be read."""
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as probe:
        zipped = probe.read(4) == _ZIP_MAGIC
    if zipped:
        unzipped = uncompressed_size(p)
        if unzipped is not None:
            return max(size, unzipped)
    return size


def detect_format(path: Path, sample: bytes) -> Format:
    """By content for workbooks (a zip file is .xlsx whatever its name), else by suffix
    (.csv/.txt/.tsv, .jsonl/.ndjson/.json), else by the first character."""
    suffix = path.suffix.lower()
    if sample.startswith(_ZIP_MAGIC) or suffix in _XLSX_SUFFIXES:
        return "xlsx"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    return "jsonl" if sample.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def _python_encoding(name: str) -> str:
    codec = codecs.lookup(name).name
    return "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec


class TableReader:
    """Iterate over the rows of a CSV or JSON Lines export, one at a time.

    Requires `path` to be a readable file. Raises `FileFormatError` (with the path) when the file
    cannot be read at all: missing, a directory, UTF-16, no header, duplicate column names.
    Use as a context manager, or call `close()`.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        fmt: Format | None = None,
        encoding: str = "utf-8",
        delimiter: str | None = None,
        sheet: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.display = str(path)
        try:
            self._encoding = _python_encoding(encoding)
        except LookupError:
            raise FileFormatError(self.display, 0, f"unknown encoding {encoding!r}") from None
        try:
            with self.path.open("rb") as probe:
                sample = probe.read(4096)
        except IsADirectoryError:
            raise FileFormatError(self.display, 0, "is a directory, not a file") from None
        except OSError as exc:
            raise FileFormatError(self.display, 0, f"cannot read: {exc.strerror}") from None
        if sample.startswith(_OLE_MAGIC) or (
            self.path.suffix.lower() == ".xls" and not sample.startswith(_ZIP_MAGIC)
        ):
            raise FileFormatError(
                self.display,
                0,
                "the file is an old Excel workbook (.xls); save it as 'Excel Workbook (.xlsx)' "
                "or as 'CSV UTF-8'",
            )
        # a zip file is a workbook whatever the mapping or the name says: never read it as text
        zipped = sample.startswith(_ZIP_MAGIC)
        self.format: Format = "xlsx" if zipped else (fmt or detect_format(self.path, sample))
        self.header: tuple[str, ...] | None = None
        self.delimiter: str | None = None
        self._rows: Iterator[RawRow]
        self._sheet: XlsxSheet | None = None
        self._file: IO[str] | None = None
        if self.format == "xlsx":
            self._sheet = XlsxSheet(self.path, self.display, sheet)
            self.display = f"{self.display}[{self._sheet.name}]"
            try:
                self._rows = self._xlsx_rows(self._sheet)
            except BaseException:
                self._sheet.close()
                raise
            return
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileFormatError(
                self.display,
                0,
                "the file is UTF-16 (Excel 'Unicode text'); save it as 'CSV UTF-8' instead",
            )
        if sample.startswith(codecs.BOM_UTF8) and self._encoding != "utf-8-sig":
            raise FileFormatError(
                self.display,
                0,
                f"the file is UTF-8 (it starts with a byte-order mark) but the encoding is set to "
                f"{encoding}; remove 'encoding' from the mapping",
            )
        self._file = self.path.open(
            "r", encoding=self._encoding, errors="surrogateescape", newline=""
        )
        try:
            if self.format == "csv":
                self._rows = self._csv_rows(self._file, delimiter)
            else:
                self._rows = self._jsonl_rows(self._file)
        except BaseException:
            self._file.close()
            raise

    # -- context manager / iterator --------------------------------------------------------------

    def __enter__(self) -> TableReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sheet is not None:
            self._sheet.close()

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    # -- CSV ----------------------------------------------------------------------------------

    def _csv_rows(self, file: IO[str], delimiter: str | None) -> Iterator[RawRow]:
        first = file.readline()
        if first and not first.strip():
            raise FileFormatError(self.display, 1, "the first line must be the header")
        if not first:
            raise FileFormatError(self.display, 0, "the file is empty (no header line)")
        if delimiter is None:
            counts = {d: _count_outside_quotes(first, d) for d in DELIMITERS}
            delimiter = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
        self.delimiter = delimiter
        try:
            raw_header = next(csv.reader([first], delimiter=delimiter, strict=True))
        except (csv.Error, StopIteration):
            raise FileFormatError(
                self.display, 1, "the header line cannot be read (check its quotes)"
            ) from None
        self.header = self._check_header(raw_header)
        return _CsvBody(file, delimiter, self.header, self._encoding).rows()

    def _check_header(self, raw_header: list[str]) -> tuple[str, ...]:
        header = [h.strip().lstrip("\ufeff").strip() for h in raw_header]
        if _has_surrogates(header):
            raise FileFormatError(
                self.display,
                1,
                "the header is not valid text in the expected encoding "
                "(save the file as 'CSV UTF-8' or set encoding in the mapping)",
            )
        while header and not header[-1]:
            header.pop()  # trailing delimiters
        if not header:
            raise FileFormatError(self.display, 1, "the header line has no column names")
        seen: set[str] = set()
        for name in header:
            key = name.casefold()
            if key and key in seen:
                raise FileFormatError(self.display, 1, f"column {name!r} appears twice")
            seen.add(key)
        return tuple(header)

    # -- Excel --------------------------------------------------------------------------------

    def _xlsx_rows(self, sheet: XlsxSheet) -> Iterator[RawRow]:
        rows = sheet.rows()
        first = next(rows, None)
        if first is None or not any(first[1]):
            raise FileFormatError(
                self.display, 1, "the first row of the sheet must be the header"
            )
        number, raw_header, _ = first
        if number != 1:
            raise FileFormatError(
                self.display, 1, "the first row of the sheet must be the header"
            )
        self.header = self._check_header(raw_header)
        return self._xlsx_body(rows, self.header)

    @staticmethod
    def _xlsx_body(
        rows: Iterator[tuple[int, list[str], dict[int, date]]], header: tuple[str, ...]
    ) -> Iterator[RawRow]:
        width = len(header)
        for number, values, dates in rows:
            if not any(v.strip() for v in values):
                continue
            if len(values) > width:
                if any(v.strip() for v in values[width:]):
                    yield RawRow(number, {}, _width_problem(len(values), width, xlsx=True))
                    continue
                values = values[:width]
            values = values + [""] * (width - len(values))
            if "\x00" in "".join(values):
                yield RawRow(number, {}, _NUL_PROBLEM)
                continue
            yield RawRow(
                number,
                dict(zip(header, values, strict=True)),
                dates={header[i]: d for i, d in dates.items() if i < width},
            )

    # -- JSON Lines --------------------------------------------------------------------------

    def _jsonl_rows(self, file: IO[str]) -> Iterator[RawRow]:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            if "\x00" in text:
                yield RawRow(number, {}, _NUL_PROBLEM)
                continue
            if _has_surrogates((text,)):
                yield RawRow(number, {}, _encoding_problem(self._encoding))
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: "[[[[..." thousands deep
                obj = None
            if not isinstance(obj, dict):
                yield RawRow(
                    number,
                    {},
                    FieldError("row", "row.json", "the line is not a JSON object ({...})"),
                )
                continue
            values: dict[str, str] = {}
            problem: FieldError | None = None
            for key, value in obj.items():
                if isinstance(value, str):
                    values[key] = value
                elif value is None:
                    values[key] = ""
                elif isinstance(value, bool):
                    values[key] = "true" if value else "false"
                elif isinstance(value, int | float):
                    values[key] = str(value)
                else:
                    problem = FieldError(
                        str(key)[:64], "row.nested", "a list or object is not allowed as a value"
                    )
                    break
            if problem is None and _has_surrogates(values.values()):
                problem = _encoding_problem(self._encoding)  # a "\ud800" escape in the JSON
            if problem is None and not any(values.values()):
                continue
            yield RawRow(number, values, problem)


class _CsvBody:
    """The data rows of a CSV file, with recovery from a quote that does not close.

    Python's csv module, given an opening quote without its closing one, reads on over the
    following lines as one value and so swallows rows. Here the reader is strict about quotes
    and sees every physical line it consumes; when a row cannot be read (or a quoted value runs
    over more than `MAX_RECORD_LINES` lines, or a value with line breaks leaves the row with the
    wrong number of values), that row is rejected on the line where it starts, and the lines it
    swallowed are read again as rows of their own.
    """

    def __init__(self, file: IO[str], delimiter: str, header: tuple[str, ...], encoding: str):
        self._source = iter(file)
        self._delimiter = delimiter
        self._header = header
        self._encoding = encoding
        self._pending: deque[str] = deque()
        self._consumed: list[str] = []
        self._next_line = 2  # the header is line 1

    def _feed(self) -> Iterator[str]:
        while True:
            if self._pending:
                line = self._pending.popleft()
            else:
                try:
                    line = next(self._source)
                except StopIteration:
                    return
            self._consumed.append(line)
            if len(self._consumed) > MAX_RECORD_LINES:
                raise _RunawayQuote
            yield line

    def _reader(self) -> Iterator[list[str]]:
        return csv.reader(self._feed(), delimiter=self._delimiter, strict=True)

    def rows(self) -> Iterator[RawRow]:
        width = len(self._header)
        reader = self._reader()
        while True:
            start = self._next_line
            self._consumed = []
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (csv.Error, _RunawayQuote) as exc:
                yield RawRow(start, {}, self._unreadable(self._consumed, exc))
                self._restart_after_first_line()
                reader = self._reader()
                continue
            lines = len(self._consumed)
            if not any(fields):
                self._next_line += lines
                continue  # blank line or ";;;;"
            if len(fields) != width:
                if len(fields) > width and not any(fields[width:]):
                    fields = fields[:width]
                elif lines > 1:
                    # a value with line breaks and the wrong number of values: a quote that
                    # closed only on a later row
                    yield RawRow(start, {}, _QUOTE_PROBLEM)
                    self._restart_after_first_line()
                    reader = self._reader()
                    continue
                else:
                    self._next_line += lines
                    yield RawRow(start, {}, _width_problem(len(fields), width, xlsx=False))
                    continue
            self._next_line += lines
            joined = "".join(fields)
            if "\x00" in joined:
                yield RawRow(start, {}, _NUL_PROBLEM)
                continue
            if _has_surrogates((joined,)):
                yield RawRow(start, {}, _encoding_problem(self._encoding))
                continue
            if "'" in joined:  # a cell escaped against formula injection (csv_safe)
                fields = [unescape_cell(f) for f in fields]
            yield RawRow(start, dict(zip(self._header, fields, strict=True)))

    def _unreadable(self, consumed: list[str], exc: Exception) -> FieldError:
        if consumed and "\x00" in consumed[0]:
            return _NUL_PROBLEM
        if "field larger than field limit" in str(exc):
            return _LONG_VALUE_PROBLEM
        return _QUOTE_PROBLEM

    def _restart_after_first_line(self) -> None:
        """Reject the row's first line only; read the lines it swallowed again."""
        self._pending.extendleft(reversed(self._consumed[1:]))
        self._consumed = []
        self._next_line += 1


class _RunawayQuote(Exception):
    """A quoted value ran over more than MAX_RECORD_LINES lines."""


def _width_problem(got: int, width: int, *, xlsx: bool) -> FieldError:
    hint = (
        "(values stand in columns without a name in the header row)"
        if xlsx
        else "(a value containing the delimiter must be in quotes)"
    )
    return FieldError(
        "row",
        "row.field_count",
        f"the row has {got} values but the header has {width} columns {hint}",
    )


_QUOTE_PROBLEM = FieldError(
    "row",
    "row.quote",
    'a quoted value on this line is not closed properly: a value in quotes must end with a " '
    'and a " inside it is written twice (""); the lines after it are read as rows of their own',
)

_LONG_VALUE_PROBLEM = FieldError(
    "row", "row.too_long",
    f"a value on this line is longer than {csv.field_size_limit()} characters (is a quote "
    "missing?); the lines after it are read as rows of their own",
)

_NUL_PROBLEM = FieldError(
    "row", "row.unreadable", "the row contains a NUL byte (is the file really text?)"
)


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == delimiter and not quoted:
            count += 1
    return count


def _has_surrogates(values: Any) -> bool:
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encoding_problem(encoding: str) -> FieldError:
    name = "UTF-8" if encoding == "utf-8-sig" else encoding
    return FieldError(
        "row",
        "row.encoding",
        f"the row is not valid {name} text; save the file as 'CSV UTF-8' or set the "
        "encoding in the mapping",
    )
