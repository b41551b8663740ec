"""What reading a row gives: an accepted row of a kind, or a `Rejection` naming what to fix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CanonicalRow", "FieldError", "Rejection"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in one field: `reason` is for people, `code` for counting. Never the value."""

    field: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not accepted, with every problem found in it."""

    path: str
    line: int
    errors: tuple[FieldError, ...]

    def lines(self) -> list[str]:
        """`path:line: field: reason`, one per problem."""
        return [f"{self.path}:{self.line}: {e.field}: {e.reason}" for e in self.errors]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.errors)


@dataclass(frozen=True, slots=True, repr=False)
class CanonicalRow:
    """A row under canonical column names, raw text still unvalidated ('' = empty)."""

    line: int
    values: dict[str, str]
    source: str = ""
    """Where the row was read, as rejections name it (`export.xlsx[Blad1]` for a workbook)."""

    def __repr__(self) -> str:
        return f"CanonicalRow(line={self.line}, <{len(self.values)} values hidden>)"
