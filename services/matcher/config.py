"""The matcher's settings (`samenloop matcher serve --config FILE`; ADR 0014).

Example (paths are relative to the file; docs/matcher.md lists every setting):

    bind: 127.0.0.1:50052
    data_dir: ./matcher-data            # SQLite file matcher.sqlite lives here by default
    database_url: null                  # or postgresql+psycopg://user@host/db
    municipality: GM0599
    controller: gemeente-rotterdam      # the municipality whose officers publish policies
    tls: {ca: pki/ca/ca.crt, cert: pki/matcher/tls.crt, key: pki/matcher/tls.key}
    signing_key: pki/matcher/signing.key
    hmac_key: pki/matcher/hmac.key
    officer_trust: officers.yaml
    pseudonymiser_key_ids: [voprf:0123456789abcdef]
    partners:
      woonstad-rotterdam: {kind: housing, purposes: [wgs-vroegsignalering],
                           disclosure_key: pki/gateway-woonstad-rotterdam/disclosure.key.pub,
                           witness_key: pki/gateway-woonstad-rotterdam/witness.key.pub}
      gemeente-rotterdam: {kind: municipality, purposes: [wams-gecoordineerde-aanpak]}
    audit: {checkpoint_key: pki/matcher/checkpoint.key, origin: samenloop.local/audit,
            checkpoint_every_entries: 1000, checkpoint_interval_seconds: 60}
    inquiries: {per_minute: 10, per_day: 200}
    logboek:                            # Logboek Dataverwerkingen (ADR 0023)
      processing_activity_uri: https://register.example.nl/verwerkingsactiviteiten/{id}
      organisation_uri: https://register.example.nl/organisaties/{organisation}
      export: {endpoint: logboek.example.nl:4317, ca: pki/logboek-ca.crt}   # optional OTLP
    reveal_request_ttl_days: 14
    purge_interval_seconds: 3600
    max_batch_rows: 10000               # rows per SubmitSignals / WithdrawSignals / links batch
    max_message_bytes: 16777216         # gRPC messages; larger requests are refused and logged

Every setting can be overridden from the environment: `SAMENLOOP_MATCHER__DATABASE_URL`,
`SAMENLOOP_MATCHER__INQUIRIES__PER_DAY`, ...
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from crypto.checkpoint import NoteSigner
from crypto.devsetup import AUDIT_LOG_ORIGIN
from crypto.keys import load_signing_key, load_verify_key
from crypto.signing import VerifyKey
from services.common.settings import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Address,
    BindAddress,
    Directory,
    MessageBytes,
    MunicipalityCode,
    NonNegativeInt,
    OrganisationId,
    PositiveFloat,
    PositiveInt,
    PrivateKeyFile,
    ReadableFile,
    Section,
    ServiceSettings,
    TlsFiles,
    load_settings,
)
from services.common.tls import TlsMaterial
from services.matcher.settings import (
    DEFAULT_ACTIVITY_URI,
    DEFAULT_BIND,
    DEFAULT_ORGANISATION_URI,
    MIN_AUDIT_RETENTION_DAYS,
    AuditLogSettings,
    InquiryLimits,
    LogboekExport,
    LogboekSettings,
    MatcherSettings,
    PartnerEntry,
)

MIGRATIONS = Path(__file__).parent / "migrations"
SUPPORTED_DATABASES = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'matcher.sqlite'}"


def _database_url(value: str) -> str:
    """SQLite or PostgreSQL (psycopg 3); no password in the URL (secrets come from files)."""
    try:
        url = sa.make_url(value)
    except sa.exc.ArgumentError:
        raise ValueError(f"{value!r} is not a database URL; use {SUPPORTED_DATABASES}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ValueError(f"the {driver} driver is not installed; write "
                             "postgresql+psycopg://… (psycopg 3)")
        url = url.set(drivername="postgresql+psycopg")
        if url.password:
            raise ValueError(
                "the database URL holds a password; secrets come only from files: put it in "
                "a libpq password file (~/.pgpass or $PGPASSFILE, chmod 600) and drop it here")
        return url.render_as_string(hide_password=False)
    if backend == "sqlite":
        return value
    raise ValueError(f"unsupported database {backend!r}; use {SUPPORTED_DATABASES}")


def _key_id(value: str) -> str:
    if not re.fullmatch(r"voprf:[0-9a-f]{16}", value):
        raise ValueError(f"{value!r} is not a pseudonymiser key id (voprf: and 16 hex digits); "
                         "`samenloop pseudonymiser public-key` prints it")
    return value


def _uri_template(placeholder: str) -> Any:
    """An absolute http(s) URI with `{placeholder}` exactly once (and no other braces)."""

    def check(value: str) -> str:
        slot = "{" + placeholder + "}"
        probe = value.replace(slot, "x")
        if value.count(slot) != 1 or "{" in probe or "}" in probe:
            raise ValueError(f"{value!r} must contain {slot} exactly once, e.g. "
                             f"https://register.example.nl/verwerkingsactiviteiten/{slot}")
        parts = urlsplit(probe)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"{value!r} is not an absolute http(s) URI; audit entries point "
                             "into the processing register with it")
        return value

    return AfterValidator(check)


DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
KeyId = Annotated[str, AfterValidator(_key_id)]
ActivityUri = Annotated[str, _uri_template("id")]
OrganisationUri = Annotated[str, _uri_template("organisation")]


class PartnerSettings(Section):
    kind: Literal["housing", "police", "mental_health", "municipality"] = Field(
        description="housing | police | mental_health | municipality")
    purposes: list[str] = Field(min_length=1,
                                description="processing purposes this partner may submit under")
    disclosure_key: ReadableFile | None = Field(
        default=None, description="the gateway's Ed25519 disclosure public key (.pub): sealed "
        "disclosures must carry its signature (ADR 0017)")

    witness_key: ReadableFile | None = Field(
        default=None, description="the gateway's Ed25519 witness public key (.pub): it may "
        "cosign the audit log's checkpoints (C2SP cosignature/v1, ADR 0022)")

    @model_validator(mode="after")
    def _key_loads(self) -> PartnerSettings:
        from crypto.errors import CryptoError

        for path in (self.disclosure_key, self.witness_key):
            if path is not None:
                try:
                    load_verify_key(path)
                except CryptoError as exc:
                    raise ValueError(str(exc)) from None
        return self

    def verify_key(self) -> VerifyKey | None:
        return None if self.disclosure_key is None else load_verify_key(self.disclosure_key)

    def witness_verify_key(self) -> VerifyKey | None:
        return None if self.witness_key is None else load_verify_key(self.witness_key)


def _note_name(value: str) -> str:
    if not value or "+" in value or any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not a checkpoint origin: one word without spaces or "
                         "'+', e.g. samenloop.example-gemeente.nl/audit")
    return value


class AuditLogConfig(Section):
    """The Merkle log over the audit entries (ADR 0022)."""

    checkpoint_key: PrivateKeyFile = Field(
        description="Ed25519 key that signs the audit log's checkpoints")
    origin: Annotated[str, AfterValidator(_note_name)] = Field(
        default=AUDIT_LOG_ORIGIN, description="the log's name: checkpoint origin and key name")
    checkpoint_every_entries: PositiveInt = AuditLogSettings.checkpoint_every_entries
    checkpoint_interval_seconds: PositiveInt = 60
    sequence_interval_seconds: PositiveFloat = Field(
        default=1.0, description="how often the server appends new entries to the tree")
    retention_days: int = Field(
        default=MIN_AUDIT_RETENTION_DAYS, ge=MIN_AUDIT_RETENTION_DAYS,
        description="after this an entry's content is deleted, its leaf hash kept; at least "
                    "five years (the database refuses a younger entry)")

    @model_validator(mode="after")
    def _key_loads(self) -> AuditLogConfig:
        from crypto.errors import CryptoError

        try:
            load_signing_key(self.checkpoint_key)
        except CryptoError as exc:
            raise ValueError(str(exc)) from None
        return self

    def settings(self) -> AuditLogSettings:
        return AuditLogSettings(
            origin=self.origin, checkpoint_every_entries=self.checkpoint_every_entries,
            checkpoint_interval=timedelta(seconds=self.checkpoint_interval_seconds),
            retention_days=self.retention_days)

    def signer(self) -> NoteSigner:
        return NoteSigner(self.origin, load_signing_key(self.checkpoint_key))


class InquirySettings(Section):
    """Per-partner rate limit on CreateInquiry (a sweep of addresses is refused)."""

    per_minute: PositiveInt = InquiryLimits.per_minute
    per_day: PositiveInt = InquiryLimits.per_day


class LogboekExportSettings(Section):
    """`logboek.export`: an external Logboek (OTLP/gRPC over TLS) that must acknowledge every
    audit entry before the action that wrote it commits (ADR 0023)."""

    endpoint: Address = Field(description="host:port of the Logboek's OTLP/gRPC receiver")
    ca: ReadableFile = Field(description="CA certificate of the receiver's TLS certificate")
    cert: ReadableFile | None = Field(default=None, description="client certificate (mTLS)")
    key: PrivateKeyFile | None = Field(default=None, description="its private key (chmod 600)")
    server_name: str | None = Field(default=None, description="DNS name to check in the "
                                    "receiver's certificate (default: the endpoint's host)")
    timeout_seconds: PositiveFloat = Field(default=5.0, description="wait this long for the "
                                           "acknowledgement; then the action fails")

    @model_validator(mode="after")
    def _pair(self) -> LogboekExportSettings:
        if (self.cert is None) != (self.key is None):
            raise ValueError("give both `cert` and `key` for a client certificate, or neither")
        return self


class LogboekSection(Section):
    """`logboek`: how audit entries point into the processing register; optional export."""

    processing_activity_uri: ActivityUri = DEFAULT_ACTIVITY_URI
    organisation_uri: OrganisationUri = DEFAULT_ORGANISATION_URI
    export: LogboekExportSettings | None = None

    def plain(self) -> LogboekSettings:
        e = self.export
        return LogboekSettings(
            processing_activity_uri=self.processing_activity_uri,
            organisation_uri=self.organisation_uri,
            export=None if e is None else LogboekExport(
                e.endpoint, e.ca, e.cert, e.key, e.server_name, e.timeout_seconds))


class MatcherConfig(ServiceSettings):
    SERVICE: ClassVar[str] = "matcher"

    bind: BindAddress = DEFAULT_BIND
    data_dir: Directory = Field(default=Path("matcher-data"), validate_default=True)
    database_url: DatabaseUrl | None = Field(
        default=None, description="default: SQLite file matcher.sqlite in data_dir")
    municipality: MunicipalityCode | None = None
    controller: OrganisationId = Field(
        description="the organisation id of the municipality whose college of B&W is the "
                    "controller; its officers publish and revoke policies")
    tls: TlsFiles = Field(description="`{ca, cert, key}`: the mTLS files")
    signing_key: PrivateKeyFile = Field(description="Ed25519 key that signs reveal requests")
    hmac_key: PrivateKeyFile = Field(description="the pseudonym HMAC key file")
    officer_trust: ReadableFile = Field(description="the officer trust file")
    pseudonymiser_key_ids: list[KeyId] = Field(
        min_length=1, description="VOPRF key ids whose outputs are accepted")
    partners: dict[OrganisationId, PartnerSettings] = Field(
        min_length=1, description="organisation id -> {kind, purposes}")
    audit: AuditLogConfig = Field(
        description="`{checkpoint_key, origin, checkpoint_every_entries, "
                    "checkpoint_interval_seconds, sequence_interval_seconds, retention_days}`")
    inquiries: InquirySettings = InquirySettings()
    logboek: LogboekSection = LogboekSection()
    reveal_request_ttl_days: PositiveInt = 14
    purge_interval_seconds: NonNegativeInt = 3600
    alert_signal_retention_days: NonNegativeInt = 365
    link_retention_days: NonNegativeInt = 400
    inquiry_retention_days: NonNegativeInt = 365
    max_batch_rows: PositiveInt = 10_000
    max_message_bytes: MessageBytes = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES,
        description="the largest gRPC message received or sent; a larger request is refused "
                    "(RESOURCE_EXHAUSTED) and logged (ADR 0028)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_workers: PositiveInt = 16
    catalogue: ReadableFile | None = None

    _source: Path = PrivateAttr(default=Path("matcher.yaml"))

    @model_validator(mode="after")
    def _default_database(self) -> MatcherConfig:
        if self.database_url is None:
            object.__setattr__(self, "database_url", default_database_url(self.data_dir))
        return self

    @property
    def source(self) -> Path:
        """The configuration file these settings came from."""
        return self._source

    @property
    def url(self) -> str:
        assert self.database_url is not None  # set by _default_database
        return self.database_url

    @property
    def tls_material(self) -> TlsMaterial:
        return self.tls.material()

    @property
    def settings(self) -> MatcherSettings:
        """The values the matching logic needs (plain, constructible without files)."""
        return MatcherSettings(
            partners={org: PartnerEntry(org, p.kind, frozenset(p.purposes), p.verify_key(),
                                        p.witness_verify_key())
                      for org, p in self.partners.items()},
            accepted_key_ids=frozenset(self.pseudonymiser_key_ids),
            municipality=self.municipality,
            controller=self.controller,
            inquiries=InquiryLimits(self.inquiries.per_minute, self.inquiries.per_day),
            reveal_request_ttl=timedelta(days=self.reveal_request_ttl_days),
            alert_signal_retention_days=self.alert_signal_retention_days,
            link_retention_days=self.link_retention_days,
            inquiry_retention_days=self.inquiry_retention_days,
            max_batch_rows=self.max_batch_rows,
            logboek=self.logboek.plain(),
            audit_log=self.audit.settings(),
        )

    def partners_without_disclosure_key(self) -> list[str]:
        """Partners that can never disclose: their sealed boxes are refused (ADR 0029)."""
        return sorted(org for org, p in self.partners.items() if p.disclosure_key is None)

    def warnings(self) -> list[str]:
        """Settings that load but leave something not working (`config-check` says them)."""
        return [f"partners.{org}: no disclosure_key, so every sealed disclosure from it is "
                "refused (FAILED_PRECONDITION, DISCLOSURE_KEY_NOT_REGISTERED); register the "
                f"gateway's disclosure.key.pub as partners.{org}.disclosure_key"
                for org in self.partners_without_disclosure_key()]

    def effective(self) -> dict[str, Any]:
        out = super().effective()
        out["database_url"] = sa.make_url(self.url).render_as_string(hide_password=True)
        return out


def load_config(path: Path) -> MatcherConfig:
    """Read and validate the matcher configuration; `ConfigError` says what is wrong."""
    config = load_settings(MatcherConfig, path)
    config._source = Path(path)
    return config
