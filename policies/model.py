"""The policy model: a frozen, typed view of a schema-valid policy document.

`parse_policy(document)` validates the structure against the shipped JSON Schema and builds a
`Policy`; `load_policy(path)` reads a YAML file first. Semantic checks that need the signal
catalogue (known types, domains, a trigger that can fire...) are in `policies.lint`; a `Policy`
object only guarantees the structure.

The original document is kept (as JSON text) because the digest and the signatures are over the
document as written, not over this model.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from policies.errors import PolicyInvalid
from policies.findings import LintFinding, Severity
from policies.source import SourceDocument, read_policy_file
from policies.structure import schema_findings


class PolicyMode(StrEnum):
    """The two legal modes of matching (see docs/policies.md)."""

    ON_REQUEST = "on_request"
    """Case-based: evaluated for one household when an involved professional asks (Wams)."""
    STANDING = "standing"
    """Every household, continuously; needs a standing legal basis and an independent review."""


class ApprovalRole(StrEnum):
    PRIVACY_OFFICER = "privacy_officer"
    INDEPENDENT_REVIEW = "independent_review"


@dataclass(frozen=True)
class LegalBasis:
    citation: str
    url: str | None = None
    standing: bool = False
    """The officer declares this provision allows standing processing of every household."""


@dataclass(frozen=True)
class Recipient:
    team_id: str
    name: str
    public_key: str
    """Standard base64 of the team's 32-byte X25519 public key, as written in the policy."""

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)


@dataclass(frozen=True)
class Scope:
    municipality: str
    areas: tuple[str, ...] = ()
    """PC4 areas served; empty means the whole municipality."""

    def covers(self, area: str) -> bool:
        return not self.areas or area in self.areas


@dataclass(frozen=True)
class Trigger:
    window_days: int
    min_domains: int
    min_signals: int
    required_types: frozenset[str] = frozenset()
    excluded_types: frozenset[str] = frozenset()
    min_per_domain: tuple[tuple[str, int], ...] = ()
    """(domain, minimum) pairs, sorted by domain."""

    @property
    def min_per_domain_map(self) -> dict[str, int]:
        return dict(self.min_per_domain)


@dataclass(frozen=True)
class Disclosure:
    by_partner_kind: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(partner kind, identity fields) pairs, sorted by partner kind; fields in written order."""

    def fields_for(self, partner_kind: str) -> tuple[str, ...]:
        """The identity fields a partner of this kind may disclose; () when none."""
        for kind, fields in self.by_partner_kind:
            if kind == partner_kind:
                return fields
        return ()

    @property
    def partner_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.by_partner_kind)


@dataclass(frozen=True)
class IndependentReview:
    reviewer: str
    report: str
    reviewed_on: date


@dataclass(frozen=True)
class Approval:
    """One signature over the policy digest (see `policies.approvals` for what is signed)."""

    officer_id: str
    role: ApprovalRole
    key_id: str
    signed_at: str
    """UTC, `YYYY-MM-DDTHH:MM:SSZ`, as written in the document; part of the signed message."""
    signature: str
    """Standard base64 of the 64-byte Ed25519 signature."""

    def to_document(self) -> dict[str, str]:
        return {
            "officer_id": self.officer_id,
            "role": self.role.value,
            "key_id": self.key_id,
            "signed_at": self.signed_at,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class Retention:
    alert_days: int


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    title: str
    legal_basis: tuple[LegalBasis, ...]
    purpose: str
    processing_activity_id: str
    controller: str
    mode: PolicyMode
    purposes: frozenset[str]
    recipient: Recipient
    scope: Scope
    trigger: Trigger
    disclosure: Disclosure
    cooldown_days: int
    retention: Retention
    valid_from: date
    valid_until: date
    independent_review: IndependentReview | None = None
    approvals: tuple[Approval, ...] = ()
    document_json: str = field(default="{}", compare=False, repr=False)
    """The whole document as written (with approvals), as JSON text; see `document()`."""

    def document(self) -> dict[str, Any]:
        """A fresh copy of the document as written, approvals included."""
        doc: dict[str, Any] = json.loads(self.document_json)
        return doc

    def signed_document(self) -> dict[str, Any]:
        """The document without `approvals`: what the digest covers."""
        doc = self.document()
        doc.pop("approvals", None)
        return doc

    @property
    def ref(self) -> str:
        """`id@version`, how logs and messages name a policy."""
        return f"{self.id}@{self.version}"


def parse_policy(document: Mapping[str, Any], source: SourceDocument | None = None) -> Policy:
    """Validate `document` against the policy schema and build a `Policy`.

    `document` holds JSON values; `datetime.date` values (as a plain YAML loader would produce)
    are turned into their `YYYY-MM-DD` text first, which is how they are signed. `source`, when
    given, supplies YAML lines for the findings. Raises `PolicyInvalid` with every schema
    finding; semantic checks are not made here (see `policies.lint.lint_document`).
    """
    doc = _jsonable(document)
    findings = schema_findings(doc, source)
    findings += _date_findings(doc, source)
    if findings:
        raise PolicyInvalid(findings)
    return _build(doc)


def load_policy(path: str | Path) -> Policy:
    """Read a policy YAML file and `parse_policy` it. Raises `PolicySyntaxError`/`PolicyInvalid`."""
    source = read_policy_file(path)
    return parse_policy(source.document, source)


def _build(doc: dict[str, Any]) -> Policy:
    trig = doc["trigger"]
    review = doc.get("independent_review")
    return Policy(
        id=doc["id"],
        version=int(doc["version"]),
        title=doc["title"],
        legal_basis=tuple(
            LegalBasis(b["citation"], b.get("url"), bool(b.get("standing", False)))
            for b in doc["legal_basis"]
        ),
        purpose=doc["purpose"],
        processing_activity_id=doc["processing_activity_id"],
        controller=doc["controller"],
        mode=PolicyMode(doc.get("mode", PolicyMode.ON_REQUEST.value)),
        purposes=frozenset(doc["purposes"]),
        recipient=Recipient(**doc["recipient"]),
        scope=Scope(doc["scope"]["municipality"], tuple(doc["scope"].get("areas", ()))),
        trigger=Trigger(
            window_days=int(trig["window_days"]),
            min_domains=int(trig["min_domains"]),
            min_signals=int(trig["min_signals"]),
            required_types=frozenset(trig.get("required_types", ())),
            excluded_types=frozenset(trig.get("excluded_types", ())),
            min_per_domain=tuple(
                sorted((d, int(n)) for d, n in trig.get("min_per_domain", {}).items())
            ),
        ),
        disclosure=Disclosure(
            tuple(sorted((kind, tuple(fs)) for kind, fs in doc["disclosure"].items()))
        ),
        cooldown_days=int(doc["cooldown_days"]),
        retention=Retention(int(doc["retention"]["alert_days"])),
        valid_from=date.fromisoformat(doc["valid_from"]),
        valid_until=date.fromisoformat(doc["valid_until"]),
        independent_review=(
            IndependentReview(
                review["reviewer"], review["report"], date.fromisoformat(review["reviewed_on"])
            )
            if review is not None
            else None
        ),
        approvals=tuple(
            Approval(
                officer_id=a["officer_id"],
                role=ApprovalRole(a["role"]),
                key_id=a["key_id"],
                signed_at=a["signed_at"],
                signature=a["signature"],
            )
            for a in doc.get("approvals", ())
        ),
        document_json=json.dumps(doc, ensure_ascii=False, sort_keys=True),
    )


def _date_findings(doc: dict[str, Any], source: SourceDocument | None) -> list[LintFinding]:
    """Dates that match the YYYY-MM-DD pattern but are not calendar dates (2025-02-30)."""
    out: list[LintFinding] = []
    candidates: list[tuple[tuple[str | int, ...], Any]] = [
        (("valid_from",), doc.get("valid_from")),
        (("valid_until",), doc.get("valid_until")),
    ]
    review = doc.get("independent_review")
    if isinstance(review, dict):
        candidates.append((("independent_review", "reviewed_on"), review.get("reviewed_on")))
    for path, value in candidates:
        if not isinstance(value, str):
            continue
        try:
            date.fromisoformat(value)
        except ValueError:
            line = source.line_of(path) if source is not None else None
            name = ".".join(str(p) for p in path)
            out.append(
                LintFinding(Severity.ERROR, name, line, f"{name}: {value!r} is not a calendar date")
            )
    return out


def _jsonable(value: Any) -> Any:
    """Copy `value` as JSON values; dates become ISO text. Other types are left for the schema."""
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
