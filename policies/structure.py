"""Validate a policy document against the shipped JSON Schema (structure only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from policies.findings import LintFinding, Severity, format_path
from policies.source import SourceDocument

SCHEMA_RESOURCE = "schema/policy.schema.json"


@cache
def policy_schema() -> dict[str, Any]:
    """The policy JSON Schema (2020-12) shipped in `policies/schema/`."""
    text = resources.files("policies").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(policy_schema())


def schema_findings(
    document: Mapping[str, Any], source: SourceDocument | None = None
) -> list[LintFinding]:
    """Every schema violation in `document`, as findings ordered by line, then path."""
    findings: list[LintFinding] = []
    for error in _validator().iter_errors(document):
        path: tuple[str | int, ...] = tuple(error.absolute_path)
        line = source.line_of(path) if source is not None else None
        findings.append(LintFinding(Severity.ERROR, format_path(path), line, _message(error, path)))
    findings.sort(key=lambda f: (f.line or 0, f.path, f.message))
    return findings


def _message(error: jsonschema.ValidationError, path: tuple[str | int, ...]) -> str:
    """Turn a jsonschema error into a sentence a privacy officer can act on."""
    v = error.validator
    where = format_path(path) or "the policy"
    if v == "required":
        missing = [m for m in error.validator_value if m not in error.instance]
        names = ", ".join(missing)
        return f"{where} is missing required field(s): {names}; see docs/policies.md"
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return (
            f"unknown field(s) {', '.join(extra)} in {where} (a typo?); "
            f"allowed: {', '.join(allowed)}"
        )
    if v == "type":
        return f"{where} must be of type {error.validator_value}, found {error.instance!r}"
    if v == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        return f"{where} must be one of: {options}; found {error.instance!r}"
    if v == "pattern":
        hint = _PATTERN_HINTS.get(_field_name(path), "")
        return f"{where}: {error.instance!r} is not in the expected form{hint}"
    if v in {"minimum", "maximum"}:
        word = "at least" if v == "minimum" else "at most"
        return f"{where} must be {word} {error.validator_value}, found {error.instance!r}"
    if v == "minItems":
        return f"{where} needs at least {error.validator_value} entry(ies)"
    if v in {"minLength", "maxLength"}:
        word = "at least" if v == "minLength" else "at most"
        return f"{where} must be {word} {error.validator_value} characters long"
    if v == "uniqueItems":
        return f"{where} lists the same entry twice; keep one"
    if v == "propertyNames":
        return f"{where}: a name in this section is not in the expected form ({error.message})"
    return f"{where}: {error.message}"


def _field_name(path: tuple[str | int, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return ""


_PATTERN_HINTS = {
    "id": " (lower case letters, digits, hyphens; 3-64 characters)",
    "valid_from": " (a date written YYYY-MM-DD)",
    "valid_until": " (a date written YYYY-MM-DD)",
    "reviewed_on": " (a date written YYYY-MM-DD)",
    "public_key": " (standard base64 of a 32-byte X25519 public key, 44 characters ending in =)",
    "municipality": " (a CBS municipality code like GM0363)",
    "areas": " (a four-digit postcode area like 1011)",
    "signed_at": " (UTC time written YYYY-MM-DDTHH:MM:SSZ)",
    "signature": " (standard base64 of a 64-byte Ed25519 signature)",
    "url": " (an https:// address)",
    "team_id": " (lower case letters, digits, hyphens, e.g. wijkteam-noord)",
    "purposes": " (a catalogue purpose such as wams-gecoordineerde-aanpak)",
    "processing_activity_id": " (letters, digits and . _ : / -, e.g. GM0363/wams-01)",
    "officer_id": " (lower case letters, digits and . _ -)",
    "reviewer": " (the reviewer's officer id in the trust file)",
    "required_types": " (a signal type code from the catalogue)",
    "excluded_types": " (a signal type code from the catalogue)",
}
