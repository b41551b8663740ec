"""Reading an Excel workbook (.xlsx) as a table, streaming, with the row numbers Excel shows.

A partner's data manager lives in Excel, so an export saved as a workbook is read directly
instead of asking for a CSV. openpyxl's read-only mode keeps memory flat for any row count.

Cells become the same text a CSV export of the sheet would hold, so one set of field rules
serves both:

- text as it is; an empty cell as '';
- a whole number as its digits (`12345672`: a BSN stored as a number has lost its leading zero,
  and the BSN rules restore it exactly as they do for a CSV); a number with decimals as written
  (`1.5`); `true`/`false` for a logical cell;
- a date cell is kept as a date (`RawRow.dates`), so it is read correctly whatever text format
  the mapping gives for the column; a date typed as text is read like any CSV date.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from domain.errors import FileFormatError

__all__ = ["XlsxSheet", "cell_text", "uncompressed_size"]


_RESAVE = "open it in Excel and save it again as 'Excel Workbook' or as 'CSV UTF-8'"
_DAMAGED = f"cannot be read as an Excel workbook (.xlsx); {_RESAVE}"


def uncompressed_size(path: Path) -> int | None:
    """The bytes a workbook holds once unzipped (what reading it costs), or None when `path`
    is not a zip file. A zip file of a few kB can hold gigabytes (a zip bomb); the sizes in its
    directory are the ones Python's zipfile enforces while reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(max(0, info.file_size) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV export would hold (dates: ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


class XlsxSheet:
    """One worksheet of a workbook, read row by row: `rows()` yields (row number, values, date
    cells by column index). Raises `FileFormatError` when the workbook cannot be opened or the
    sheet does not exist."""

    def __init__(self, path: Path, display: str, sheet: str | None = None) -> None:
        import openpyxl

        # a file object, not the path: openpyxl refuses a workbook whose name does not end in
        # .xlsx, and an export saved as "export.csv" by mistake is still a workbook
        self._file = path.open("rb")
        self._display = display
        try:
            self._book = openpyxl.load_workbook(
                self._file, read_only=True, data_only=True, keep_links=False
            )
        except Exception:  # openpyxl raises anything on a damaged file: XML
            # ParseError (a SyntaxError), KeyError, IndexError, TypeError, zipfile errors...
            self._file.close()
            raise FileFormatError(display, 0, _DAMAGED) from None
        names = list(self._book.sheetnames)
        if not names:
            self.close()
            raise FileFormatError(display, 0, _DAMAGED)
        if sheet is None:
            self.name = names[0]
        elif sheet in names:
            self.name = sheet
        else:
            self.close()
            raise FileFormatError(
                display,
                0,
                f"the workbook has no sheet named {sheet}; its sheets are: {', '.join(names)}",
            )
        self._display = f"{display}[{self.name}]"
        try:
            self._sheet = self._book[self.name]
            # the stored dimensions are often missing or wrong in files written by other tools
            self._sheet.reset_dimensions()  # type: ignore[union-attr]
        except Exception:  # a damaged sheet part, as above
            self.close()
            raise FileFormatError(display, 0, _DAMAGED) from None

    def rows(self) -> Iterator[tuple[int, list[str], dict[int, date]]]:
        """Rows in sheet order; `FileFormatError` at the first damaged row (a broken XML part
        stops the sheet: what follows cannot be trusted to be the rows Excel shows)."""
        number = 0
        cells_of = iter(self._sheet.iter_rows())
        while True:
            try:
                cells = next(cells_of)
            except StopIteration:
                return
            except Exception:  # XML ParseError and the like from openpyxl
                raise FileFormatError(
                    self._display, number + 1,
                    f"the sheet is damaged after row {number}; {_RESAVE}") from None
            number += 1
            for cell in cells:
                row = getattr(cell, "row", None)
                if row is not None:
                    number = row
                    break
            values: list[str] = []
            dates: dict[int, date] = {}
            for index, cell in enumerate(cells):
                value = getattr(cell, "value", None)
                if isinstance(value, datetime) and value.time() == time(0):
                    dates[index] = value.date()
                elif isinstance(value, date) and not isinstance(value, datetime):
                    dates[index] = value
                values.append(cell_text(value))
            yield number, values, dates

    def close(self) -> None:
        self._book.close()
        self._file.close()
