"""Coded values instead of free text: the versioned code lists of `domain/codes.yaml`.

The matcher's audit log is append-only and kept five years, so nothing typed by a person may
reach it: a name or a diagnosis in a "reason" would be there for good. Every value that used to be
free text (an inquiry's reason and requester role, a withdrawal reason, a review reason, a
closing outcome) is now a code from one of these lists, and a regisseur is a team-local user id
that matches `REGISSEUR_PATTERN` (never a name).

Usage:

    codes = load_codes()                       # the shipped lists, parsed once per process
    codes.inquiry_reason.check(value, "inquiry.reason")   # -> value, or raises UnknownCode
    check_regisseur(value, "regisseur")        # -> value, or raises InvalidValue

Error messages name the field and list the valid codes; they never repeat the rejected value,
which may be exactly the personal text the lists exist to keep out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from domain import safe_yaml
from domain.errors import DomainError, InvalidValue
from domain.text_files import TextInputError, read_utf8

__all__ = [
    "CODE_LISTS",
    "DEFAULT_CODES_PATH",
    "REGISSEUR_PATTERN",
    "Code",
    "CodeList",
    "Codes",
    "CodesError",
    "UnknownCode",
    "check_regisseur",
    "load_codes",
]

DEFAULT_CODES_PATH = Path(__file__).with_name("codes.yaml")
FORMAT = "samenloop-codes/v1"
CODE_LISTS = (
    "inquiry_reason",
    "requester_role",
    "withdrawal_reason",
    "review_decision_reason",
    "closure_outcome",
    "revocation_reason",
    "view_reason",
)
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")

REGISSEUR_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
"""A regisseur is named by a user id that is local to the team (e.g. `r-17`, `u0412`): lower-case
letters, digits, `.`, `_` and `-`, at most 32 characters. The team keeps the mapping to a person;
the matcher and its audit log never see a name."""


class CodesError(DomainError):
    """The code list file is missing or malformed (names the file and the entry)."""


class UnknownCode(DomainError, ValueError):
    """A value is not a code of the list it must come from."""

    def __init__(self, field: str, codes: CodeList) -> None:
        self.field = field
        self.list_name = codes.name
        super().__init__(
            f"{field} must be a code from the list `{codes.name}` (codes version "
            f"{codes.version}): {', '.join(codes)}; free text is not accepted")


@dataclass(frozen=True)
class Code:
    code: str
    label_nl: str
    label_en: str


@dataclass(frozen=True)
class CodeList:
    """One named, ordered list of codes."""

    name: str
    version: str
    codes: Mapping[str, Code]

    def __contains__(self, value: object) -> bool:
        return value in self.codes

    def __iter__(self) -> Iterator[str]:
        return iter(self.codes)

    def check(self, value: str, field: str) -> str:
        """`value` if it is a code of this list; otherwise UnknownCode naming `field`."""
        if value not in self.codes:
            raise UnknownCode(field, self)
        return value


@dataclass(frozen=True)
class Codes:
    version: str
    inquiry_reason: CodeList
    requester_role: CodeList
    withdrawal_reason: CodeList
    review_decision_reason: CodeList
    closure_outcome: CodeList
    revocation_reason: CodeList
    view_reason: CodeList


def check_regisseur(value: str, field: str = "regisseur") -> str:
    """`value` if it is a team-local user id (`REGISSEUR_PATTERN`); never echoes the value."""
    if not REGISSEUR_PATTERN.fullmatch(value):
        raise InvalidValue(
            field,
            "must be the regisseur's team-local user id (1-32 characters: lower-case letters, "
            "digits, '.', '_', '-'; starting with a letter or digit), never a name",
            code=f"{field}.pattern")
    return value


def load_codes(path: Path | str | None = None) -> Codes:
    """Load and validate a code list file; without `path`, the shipped one (cached)."""
    if path is None:
        return _default_codes()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _default_codes() -> Codes:
    return _load(DEFAULT_CODES_PATH)


def _load(path: Path) -> Codes:
    try:
        data = safe_yaml.safe_load(read_utf8(path, max_bytes=safe_yaml.MAX_YAML_BYTES))
    except OSError as exc:
        raise CodesError(f"{path}: cannot read the code lists: {exc.strerror}") from None
    except TextInputError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise CodesError(f"{path}{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise CodesError(f"{path}{where}: not valid YAML"
                         + (f" ({problem})" if problem else "")) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CodesError(f"{path}: not a code list file (expected `format: {FORMAT}`)")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise CodesError(f"{path}: `version` must be a string such as \"2026.1\"")
    unknown = sorted(set(data) - {"format", "version", *CODE_LISTS})
    if unknown:
        raise CodesError(f"{path}: unknown key(s) {', '.join(unknown)}")
    lists = {name: _code_list(path, name, version, data.get(name)) for name in CODE_LISTS}
    return Codes(version=version, **lists)


def _code_list(path: Path, name: str, version: str, raw: Any) -> CodeList:
    if not isinstance(raw, list) or not raw:
        raise CodesError(f"{path}: `{name}` must be a non-empty list of codes")
    out: dict[str, Code] = {}
    for i, entry in enumerate(raw):
        where = f"{path}: {name}[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"code", "nl", "en"}:
            raise CodesError(f"{where}: an entry has exactly `code`, `nl` and `en`")
        code, nl, en = entry["code"], entry["nl"], entry["en"]
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise CodesError(f"{where}: `code` must be lower-case snake_case, at most 64")
        if code in out:
            raise CodesError(f"{where}: code {code!r} appears twice")
        if not (isinstance(nl, str) and nl.strip() and isinstance(en, str) and en.strip()):
            raise CodesError(f"{where}: `nl` and `en` labels are required")
        out[code] = Code(code, nl.strip(), en.strip())
    return CodeList(name, version, MappingProxyType(out))
