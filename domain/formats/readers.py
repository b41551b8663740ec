"""Streaming readers for partner exports: CSV and JSON Lines, with line numbers.

`TableReader` reads one row at a time (constant memory for any file size) and says for every row
on which line it starts. It is forgiving where exports are messy and reports, rather than
raises, problems in single rows:

- CSV with comma, semicolon or tab; the delimiter is taken from the header line (the one that
  splits it into the most columns) unless given; quoted values as in RFC 4180;
- UTF-8 with or without byte-order mark, or another encoding named in the mapping (Excel on a
  Dutch Windows saves "CSV" as cp1252); a row that does not decode is rejected, the rest goes on;
  a UTF-16 file (Excel's "Unicode text") is refused as a whole with the fix;
- blank lines and lines of empty values (`;;;;`, which spreadsheets append) are skipped and not
  counted;
- trailing empty columns without a name (a delimiter at the end of every line) are ignored;
- a CSV row with more or fewer values than the header, a NUL byte, a JSON line that is not an
  object, or a nested JSON value is rejected with its line number.

Values come out as text: a JSON number as its digits, `true`/`false`, `null` as empty.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from domain.errors import FileFormatError
from domain.formats.results import FieldError

__all__ = ["DELIMITERS", "Format", "RawRow", "TableReader", "detect_format"]

Format = Literal["csv", "jsonl"]
DELIMITERS = (",", ";", "\t")

_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass(frozen=True, slots=True, repr=False)
class RawRow:
    """One row as read: the line it starts on, values by the file's own column names, and a
    problem if the row could not be read properly (then `values` may be incomplete)."""

    line: int
    values: dict[str, str]
    problem: FieldError | None = None

    def __repr__(self) -> str:
        return f"RawRow(line={self.line}, <values hidden>, problem={self.problem!r})"


def detect_format(path: Path, sample: bytes) -> Format:
    """By suffix (.csv/.txt/.tsv, .jsonl/.ndjson/.json), else by the first character."""
    suffix = path.suffix.lower()
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
        self.format: Format = fmt or detect_format(self.path, sample)
        self._file: IO[str] = self.path.open(
            "r", encoding=self._encoding, errors="surrogateescape", newline=""
        )
        self.header: tuple[str, ...] | None = None
        self.delimiter: str | None = None
        self._rows: Iterator[RawRow]
        if self.format == "csv":
            self._rows = self._csv_rows(delimiter)
        else:
            self._rows = self._jsonl_rows()

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
        self._file.close()

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    # -- CSV ----------------------------------------------------------------------------------

    def _csv_rows(self, delimiter: str | None) -> Iterator[RawRow]:
        first = self._file.readline()
        if first and not first.strip():
            raise FileFormatError(self.display, 1, "the first line must be the header")
        if not first:
            raise FileFormatError(self.display, 0, "the file is empty (no header line)")
        if delimiter is None:
            counts = {d: _count_outside_quotes(first, d) for d in DELIMITERS}
            delimiter = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
        self.delimiter = delimiter
        reader = csv.reader(itertools.chain([first], self._file), delimiter=delimiter)
        try:
            raw_header = next(reader)
        except csv.Error:
            raise FileFormatError(self.display, 1, "the header line cannot be read") from None
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
        self.header = tuple(header)
        return self._csv_body(reader, self.header, reader.line_num)

    def _csv_body(
        self, reader: Any, header: tuple[str, ...], after_header: int
    ) -> Iterator[RawRow]:
        width = len(header)
        previous = after_header
        while True:
            start = previous + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                previous = reader.line_num
                yield RawRow(
                    start,
                    {},
                    FieldError(
                        "row",
                        "row.unreadable",
                        "the row cannot be read as CSV "
                        "(a NUL byte, or a quoted value that never ends)",
                    ),
                )
                continue
            previous = reader.line_num
            if not any(fields):
                continue  # blank line or ";;;;"
            if len(fields) != width:
                if len(fields) > width and not any(fields[width:]):
                    fields = fields[:width]
                else:
                    yield RawRow(
                        start,
                        {},
                        FieldError(
                            "row",
                            "row.field_count",
                            f"the row has {len(fields)} values but the header has {width} "
                            "columns (a value containing the delimiter must be in quotes)",
                        ),
                    )
                    continue
            joined = "".join(fields)
            if "\x00" in joined:
                yield RawRow(start, {}, _NUL_PROBLEM)
                continue
            if _has_surrogates((joined,)):
                yield RawRow(start, {}, _encoding_problem(self._encoding))
                continue
            yield RawRow(start, dict(zip(header, fields, strict=True)))

    # -- JSON Lines --------------------------------------------------------------------------

    def _jsonl_rows(self) -> Iterator[RawRow]:
        for number, text in enumerate(self._file, start=1):
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
            except ValueError:
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
            if problem is None and not any(values.values()):
                continue
            yield RawRow(number, values, problem)


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
