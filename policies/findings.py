"""What a check reports: a finding with its severity, where (field path and YAML line), and what.

Messages are written for a privacy officer: what is wrong, where, and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    """The policy must not be signed or published."""
    WARNING = "warning"
    """Allowed, but probably not what the author meant; read it before signing."""


@dataclass(frozen=True)
class LintFinding:
    """One problem in a policy document.

    `path` is the dotted field path (`trigger.min_domains`, `legal_basis[0].citation`); empty for
    the document as a whole. `line` is the 1-based YAML line when known.
    """

    severity: Severity
    path: str
    line: int | None
    message: str

    def render(self, filename: str = "") -> str:
        where = filename
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        field = f" [{self.path}]" if self.path else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity.value}{field}: {self.message}"


def format_path(path: tuple[str | int, ...]) -> str:
    """Render a field path as `a.b[0].c`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def has_errors(findings: list[LintFinding] | tuple[LintFinding, ...]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
