"""Placeholders a template leaves for the author: lint refuses a policy until they are filled.

`samenloop policy new` writes a template whose blanks are written `<like this>`. A policy still
carrying one must not be signed: `controller: ... gemeente <naam gemeente>` passes the schema,
and so would a standalone `...` (the older templates' blank) or the municipality code `GM0000`
(no municipality has it). Each is an error at its field and line, and it replaces the schema's
complaint about the same field, which would only say that `<...>` does not match a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from policies.findings import LintFinding, Severity, format_path
from policies.source import Path_, SourceDocument

PLACEHOLDER: Final = re.compile(r"<[^<>\n]{1,120}>|(?<!\S)(?:\.\.\.|…)(?!\S)")
"""A blank in the template: `<what goes here>`, or a standalone ellipsis."""

NO_MUNICIPALITY: Final = "GM0000"
"""The CBS code the older templates used as a blank; no municipality has it."""


def _strings(value: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if path or key != "approvals":
                yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def placeholder_findings(source: SourceDocument) -> list[LintFinding]:
    """One error per field that still holds a template blank."""
    findings = []
    for path, text in _strings(source.document, ()):
        match = PLACEHOLDER.search(text)
        if match is not None:
            message = (
                f"`{match.group(0)}` is a blank from the template: fill it in (the comment "
                "above the field says what goes here)"
            )
        elif NO_MUNICIPALITY in text:
            message = (
                f"{NO_MUNICIPALITY} is the template's blank, not a municipality: write your "
                "CBS municipality code (e.g. GM0599 for Rotterdam)"
            )
        else:
            continue
        findings.append(
            LintFinding(Severity.ERROR, format_path(path), source.line_of(path), message)
        )
    return findings
