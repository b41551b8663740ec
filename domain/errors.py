"""The exceptions of the `domain` package.

Every failure the package reports is a `DomainError`, so a caller can catch one type at its
boundary. Messages name the field, the file, the line and what is wrong; they never repeat a
personal value (no BSN, name, address or date of birth), so an error can be logged or shown to a
partner's data manager without leaking what it is about.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error raised by the `domain` package."""


class InvalidValue(DomainError, ValueError):
    """One field value cannot be accepted.

    `field` is the canonical field name (`bsn`, `postcode`, `observed_on`...), `reason` a sentence
    for people saying what is wrong and, where possible, how to fix it, and `code` a stable
    machine-readable reason (`bsn.elfproef`) used to count rejections. None of them contains the
    rejected value.
    """

    def __init__(self, field: str, reason: str, *, code: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.code = code or f"{field}.invalid"
        super().__init__(f"{field}: {reason}")


class CatalogueError(DomainError):
    """The signal catalogue file is missing, malformed, or one entry fails validation.

    The message names the file, the entry (index and code) and the field.
    """


class UnknownSignalType(DomainError, KeyError):
    """A signal type code is not in the catalogue."""

    def __init__(self, code: str, catalogue_version: str) -> None:
        self.code = code
        self.catalogue_version = catalogue_version
        super().__init__(code)

    def __str__(self) -> str:
        return (
            f"signal type {self.code!r} is not in signal catalogue version "
            f"{self.catalogue_version}"
        )


class MappingError(DomainError):
    """A partner mapping file is malformed; the message names the file and the key."""


class FileFormatError(DomainError):
    """An export file cannot be read at all (wrong header, unknown format, not a file).

    Row-level problems are never raised: they are reported as rejections and reading goes on.
    `path` and `line` say where; `line` is 0 when the problem is the file as a whole.
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
