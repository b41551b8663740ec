"""Reporting on a read export: counts, rejection lines, a streaming JSON report, and a
normalised CSV of the accepted rows.

Rejection lines are `path:line: field: reason` (what an editor or CI understands); the JSON
report has the same content for machines. Neither ever holds a personal value: reasons are
written without them, and only the line number points back into the file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from domain.formats import csv_safe
from domain.formats.kinds import COLUMNS, ExportKind
from domain.formats.results import Rejection

__all__ = ["Counts", "JsonReport", "NormalisedWriter", "Row"]


class Row(Protocol):
    """An accepted row of any kind."""

    @property
    def line(self) -> int: ...

    def canonical(self) -> dict[str, str]: ...


@dataclass
class Counts:
    """Rows read, accepted and rejected, and problems by reason code.

    A rejected row with two problems counts once in `rejected` and once for each code in
    `by_reason`.
    """

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, result: Row | Rejection) -> None:
        self.read += 1
        if isinstance(result, Rejection):
            self.rejected += 1
            self.by_reason.update(result.codes)
        else:
            self.accepted += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_reason": dict(
                sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        }

    def summary_lines(self) -> list[str]:
        lines = [
            f"read:     {self.read}",
            f"accepted: {self.accepted}",
            f"rejected: {self.rejected}",
        ]
        if self.by_reason:
            lines.append("rejected by reason:")
            width = max(len(code) for code in self.by_reason)
            for code, n in sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {code:<{width}}  {n}")
        return lines


class JsonReport:
    """A JSON report written while reading, so it needs no memory for the rejections:

        {"file": ..., "kind": ..., "catalogue_version": ..., "rejections": [
            {"line": 14, "field": "bsn", "code": "bsn.elfproef", "reason": "..."}, ...],
         "counts": {"read": ..., "accepted": ..., "rejected": ..., "rejected_by_reason": {...}}}

    One entry per problem (a row with two problems has two entries with the same line).
    """

    def __init__(self, path: Path | str, *, file: str, kind: ExportKind, meta: dict[str, Any]):
        self._fp: IO[str] = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - closed in finish()
        head = {"file": file, "kind": kind.value, **meta}
        self._fp.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "rejections": [')
        self._first = True

    def add(self, rejection: Rejection) -> None:
        for e in rejection.errors:
            entry = {"line": rejection.line, "field": e.field, "code": e.code, "reason": e.reason}
            self._fp.write(
                ("\n  " if self._first else ",\n  ") + json.dumps(entry, ensure_ascii=False)
            )
            self._first = False

    def finish(self, counts: Counts, *, complete: bool = True, error: str | None = None) -> None:
        tail: dict[str, Any] = {"counts": counts.as_dict(), "complete": complete}
        if error is not None:
            tail["error"] = error
        self._fp.write("\n], " + json.dumps(tail, ensure_ascii=False)[1:] + "\n")
        self._fp.close()

    def __enter__(self) -> JsonReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._fp.closed:
            self._fp.close()


class NormalisedWriter:
    """Writes accepted rows in canonical form (UTF-8, comma, header) to a CSV file, every
    cell escaped against formula injection (`csv_safe`; the gateway's reader undoes it)."""

    def __init__(self, path: Path | str, kind: ExportKind) -> None:
        # the writer is itself the context manager that closes the file
        self._fp: IO[str] = Path(path).open("w", encoding="utf-8", newline="")  # noqa: SIM115
        self._columns = COLUMNS[kind]
        self._writer = csv_safe.writer(self._fp, lineterminator="\n")
        self._writer.writerow(self._columns)
        self.rows = 0

    def write(self, row: Row) -> None:
        values = row.canonical()
        self._writer.writerow([values[c] for c in self._columns])
        self.rows += 1

    def close(self) -> None:
        self._fp.close()

    def __enter__(self) -> NormalisedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
