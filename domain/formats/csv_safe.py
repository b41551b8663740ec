"""The one way samenloop writes CSV: every cell escaped against formula injection (ADR 0028).

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula
(`=cmd|' /C calc'!A0`, `=HYPERLINK(...)`), and a leading tab or carriage return can hide such a
start. A partner's export is untrusted (an e-mail address `=a@b.nl` is valid), and files we
write (a normalised export, the demo's split files, a synthetic city) are opened in Excel by
people. So every CSV the project writes goes through `writer` or `DictWriter` here, and a test
refuses any other `csv.writer` in the code base.

The rule (OWASP's): a cell whose first character is one of `= + - @ TAB CR` gets a leading
apostrophe, which a spreadsheet shows as text. Plain numbers (`-2`, `+31612345678`, `1,5`) are
left alone: a number cannot run anything, and a phone number stays readable. A cell that already
starts with apostrophes before such a character gets one more, so the rule can be undone
exactly: `unescape_cell(escape_cell(v)) == v` for every text. samenloop's own CSV reader
(`domain.formats.readers`) undoes it, so a file we write reads back as the values we wrote, and
a partner value written `'+31 6 1234 5678` (a spreadsheet's text marker) reads as the number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

__all__ = ["FORMULA_STARTS", "DictWriter", "SafeWriter", "escape_cell", "unescape_cell",
           "writer"]

FORMULA_STARTS = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""

_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


def escape_cell(value: str) -> str:
    """`value` as it may stand in a CSV cell (see the module doc)."""
    if value.lstrip("'")[:1] not in FORMULA_STARTS:
        return value
    if not value.startswith("'") and _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def unescape_cell(value: str) -> str:
    """The value `escape_cell` was given, for a cell it wrote."""
    if value.startswith("'") and value.lstrip("'")[:1] in FORMULA_STARTS:
        return value[1:]
    return value


class SafeWriter:
    """`csv.writer` with every cell escaped; values are written as `str(value)`.

    Python's csv module quotes a value holding a line break only when the break is part of
    `lineterminator`, so with "\n" a lone "\r" went out unquoted and split the row on
    reading (found by fuzzing). A row with a line break in a value is written with every
    value quoted instead; a file may mix both, and every CSV reader reads it.
    """

    def __init__(self, handle: IO[str], **options: Any) -> None:
        # the one csv.writer of the project: see the module doc
        self._writer = csv.writer(handle, **options)
        self._quoted = csv.writer(handle, **{**options, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> None:
        cells = [escape_cell(str(v)) for v in row]
        breaks = any("\r" in c or "\n" in c for c in cells)
        (self._quoted if breaks else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: IO[str], **options: Any) -> SafeWriter:
    """A CSV writer on `handle` (options as for `csv.writer`) that escapes every cell."""
    return SafeWriter(handle, **options)


class DictWriter:
    """`csv.DictWriter` over `SafeWriter`: every cell (and the header) escaped."""

    def __init__(self, handle: IO[str], fieldnames: Sequence[str], restval: str = "",
                 **options: Any) -> None:
        self.fieldnames = list(fieldnames)
        self._restval = restval
        self._writer = SafeWriter(handle, **options)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, rowdict: Mapping[str, Any]) -> None:
        extra = set(rowdict) - set(self.fieldnames)
        if extra:
            raise ValueError("values for columns that are not in the header: "
                             + ", ".join(sorted(map(str, extra))))
        values = (rowdict.get(k, self._restval) for k in self.fieldnames)
        self._writer.writerow(["" if v is None else v for v in values])

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
