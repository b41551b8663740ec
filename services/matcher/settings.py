"""What the matching logic is configured with, as plain values.

The typed, validated settings model (YAML + environment) is `config.MatcherConfig`; its
`settings` property gives this view, which tests can also build directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from crypto.devsetup import AUDIT_LOG_ORIGIN
from crypto.signing import VerifyKey

DEFAULT_BIND = "127.0.0.1:50052"
"""Where the matcher listens by default, and where its clients look for it."""


@dataclass(frozen=True)
class PartnerEntry:
    """One registered partner organisation (the organisation in its gateway's certificate)."""

    organisation: str
    kind: str
    """housing | police | mental_health | municipality (catalogue partner kinds)."""
    purposes: frozenset[str]
    """Processing purposes this partner may submit signals under."""
    disclosure_key: VerifyKey | None = None
    """The gateway's Ed25519 disclosure key: every sealed disclosure must carry its signature."""
    witness_key: VerifyKey | None = None
    """The gateway's Ed25519 witness key: AddCosignature accepts only its cosignature/v1
    (its witness name is the organisation id); None: this partner cannot cosign."""


@dataclass(frozen=True)
class InquiryLimits:
    """Per-partner inquiry rate limit (config `inquiries: {per_minute, per_day}`), counted from
    the database so it holds across matcher replicas; see `services/matcher/inquiries.py`."""

    per_minute: int = 10
    per_day: int = 200


DEFAULT_ACTIVITY_URI = "https://verwerkingsregister.invalid/verwerkingsactiviteiten/{id}"
"""Where `dpl.core.processing_activity_id` points when the deployment names no register: the
reserved `.invalid` domain (RFC 2606) can never resolve to someone else's page (ADR 0023)."""
DEFAULT_ORGANISATION_URI = "https://verwerkingsregister.invalid/organisaties/{organisation}"
"""Where `dpl.core.foreign_operation.processor` points for a calling organisation."""


@dataclass(frozen=True)
class LogboekExport:
    """An external Logboek Dataverwerkingen that receives every audit entry as an OTLP span and
    must acknowledge it before the action's transaction commits (`logboek_otlp.py`)."""

    endpoint: str
    """host:port of the OTLP/gRPC trace receiver."""
    ca: Path
    """CA certificate that signed the receiver's TLS certificate (TLS is required)."""
    cert: Path | None = None
    """Client certificate, when the receiver asks for one (mutual TLS)."""
    key: Path | None = None
    server_name: str | None = None
    """DNS name to check in the receiver's certificate (default: the endpoint's host)."""
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class LogboekSettings:
    """How audit entries name things outside the matcher (config `logboek:`, ADR 0023)."""

    processing_activity_uri: str = DEFAULT_ACTIVITY_URI
    """URI template with `{id}`: the processing activity in the controller's register."""
    organisation_uri: str = DEFAULT_ORGANISATION_URI
    """URI template with `{organisation}`: a calling organisation (foreign operation)."""
    export: LogboekExport | None = None
MIN_AUDIT_RETENTION_DAYS = 1827
"""Five years, leap days included: the database refuses to delete a younger entry."""


@dataclass(frozen=True)
class AuditLogSettings:
    """The Merkle log over the audit entries (ADR 0022; config section `audit`)."""

    origin: str = AUDIT_LOG_ORIGIN
    """The checkpoint origin line and note key name."""
    checkpoint_every_entries: int = 1000
    """A checkpoint is signed at least every this many entries ..."""
    checkpoint_interval: timedelta = field(default=timedelta(seconds=60))
    """... or this long after the last one, when entries were added since."""
    sequence_batch: int = 10_000
    """Entries sequenced per transaction."""
    retention_days: int = MIN_AUDIT_RETENTION_DAYS
    """After this, an entry's content is deleted; its leaf hash stays in the tree."""


@dataclass(frozen=True)
class MatcherSettings:
    partners: Mapping[str, PartnerEntry]
    accepted_key_ids: frozenset[str]
    """Pseudonymiser key ids whose VOPRF outputs the matcher accepts."""
    controller: str = ""
    """Organisation id (certificate O) of the controller under the Wams: the municipality
    whose college of B&W decides the processing. Only its privacy officers publish, revoke,
    simulate and read the whole audit log; empty: nobody may (deny by default)."""
    municipality: str | None = None
    """CBS code (GM....) this matcher serves; a policy for another municipality is refused."""
    reveal_request_ttl: timedelta = field(default=timedelta(days=14))
    alert_signal_retention_days: int = 365
    """A signal that contributed to an alert is kept at least this long after the alert."""
    link_retention_days: int = 400
    """A household link superseded longer ago than this is purged."""
    inquiry_retention_days: int = 365
    inquiries: InquiryLimits = field(default_factory=InquiryLimits)
    max_batch_rows: int = 10_000
    logboek: LogboekSettings = field(default_factory=LogboekSettings)
    audit_log: AuditLogSettings = field(default_factory=AuditLogSettings)
