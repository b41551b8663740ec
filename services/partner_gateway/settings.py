"""The gateway's typed configuration (`gateway.yaml`), on the shared settings base (ADR 0014).

One YAML file, every setting overridable from the environment as `SAMENLOOP_GATEWAY__<KEY>`
(nested with `__`, e.g. `SAMENLOOP_GATEWAY__LIMITS__DISCLOSURES_PER_DAY`).
Secrets come only from files: the TLS key, the disclosure key and the vault key are named by
path and refused when group- or world-readable. Relative paths are relative to the YAML file.
Unknown keys are refused with a "did you mean". Every error names the file, the key and the fix.

Example (what `samenloop pki dev-setup` writes for a housing corporation):

    organisation: woonstad-rotterdam
    kind: housing
    matcher: 127.0.0.1:50052
    pseudonymiser: 127.0.0.1:50051
    pseudonymiser_key_id: voprf:0123456789abcdef
    pseudonymiser_public_key: ../pki/pseudonymiser/voprf.key.pub
    matcher_public_key: ../pki/matcher/signing.key.pub
    tls: {ca: ../pki/ca/ca.crt, cert: ../pki/gateway-woonstad-rotterdam/tls.crt,
          key: ../pki/gateway-woonstad-rotterdam/tls.key}
    disclosure_key: ../pki/gateway-woonstad-rotterdam/disclosure.key
    vault_key: ../pki/gateway-woonstad-rotterdam/vault.key
    data_dir: ./gateway-data
    mapping: ./mapping.yaml
    officer_trust: ../pki/officers.yaml
    controller: gemeente-rotterdam
    limits: {disclosures_per_day: 200, per_policy_per_day: 50}
    four_eyes: false
    batch_size: 1000
    max_file_bytes: 1073741824          # exports larger than 1 GiB are refused
    checkpoint_vkey: samenloop.local/audit+1a2b3c4d+AXb...   # the matcher's note_vkey
    witness_key: ../pki/gateway-woonstad-rotterdam/witness.key
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, model_validator

from domain.catalogue import PartnerKind
from services.common.settings import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Address,
    Directory,
    MessageBytes,
    OrganisationId,
    PositiveFloat,
    PositiveInt,
    PrivateKeyFile,
    ReadableFile,
    Section,
    ServiceSettings,
    TlsFiles,
)
from services.common.settings import load_settings as _load

DATABASE_FILE = "gateway.sqlite"
DEFAULT_MAX_FILE_BYTES = 1024**3
"""1 GiB: about ten million rows of a canonical export (ADR 0028)."""


def _voprf_key_id(value: str) -> str:
    if not re.fullmatch(r"voprf:[0-9a-f]{16}", value):
        raise ValueError(f"{value!r} is not a pseudonymiser key id; write voprf: and 16 hex "
                         "digits, as `samenloop pseudonymiser public-key` prints it")
    return value


VoprfKeyId = Annotated[str, AfterValidator(_voprf_key_id)]


def _note_vkey(value: str) -> str:
    from crypto.checkpoint import NoteVerifier
    from crypto.errors import CheckpointError

    try:
        NoteVerifier.from_vkey(value)
    except CheckpointError as exc:
        raise ValueError(f"not a signed-note verifier key ({exc}); copy the matcher's "
                         "`note_vkey` (pki manifest.json, matcher keys.checkpoint)") from None
    return value.strip()


NoteVkey = Annotated[str, AfterValidator(_note_vkey)]


class Limits(Section):
    """Ceilings on disclosures, so a compromised matcher cannot drain the vault."""

    disclosures_per_day: PositiveInt = Field(200, description="disclosures per UTC day")
    per_policy_per_day: PositiveInt = Field(50, description="disclosures per policy per day")


class Retry(Section):
    """Backoff with full jitter on UNAVAILABLE / DEADLINE_EXCEEDED."""

    attempts: int = Field(7, ge=1, le=50)
    base_seconds: PositiveFloat = 0.25
    max_seconds: PositiveFloat = 15.0
    timeout_seconds: PositiveFloat = 60.0


class GatewaySettings(ServiceSettings):
    """Everything a partner gateway is configured with."""

    SERVICE: ClassVar[str] = "gateway"

    organisation: OrganisationId = Field(
        description="the partner's organisation id, as in its certificate and the matcher's "
        "partner list")
    kind: PartnerKind = Field(description="housing | police | mental_health | municipality")
    matcher: Address = Field(description="host:port of the matcher")
    pseudonymiser: Address = Field(description="host:port of the pseudonymiser")
    pseudonymiser_key_id: VoprfKeyId = Field(
        description="the pinned pseudonymiser key id (`samenloop pseudonymiser public-key`)")
    pseudonymiser_public_key: ReadableFile | None = Field(
        default=None, description="the pinned key itself (its .pub file); without it the "
        "served key must hash to the pinned id")
    matcher_public_key: ReadableFile = Field(
        description="the matcher's Ed25519 public key: reveal requests must be signed by it")
    tls: TlsFiles = Field(description="`{ca, cert, key}`: the mTLS files")
    disclosure_key: PrivateKeyFile = Field(
        description="this gateway's Ed25519 key that signs every disclosure (its .pub is "
        "registered with the matcher and published to the teams)")
    vault_key: PrivateKeyFile = Field(
        description="the identity-vault key; keep it outside the database and its backups")
    data_dir: Directory = Field(Path("gateway-data"), description="where the SQLite file lives")
    database_url: str | None = Field(
        default=None, description="any SQLAlchemy URL; default SQLite gateway.sqlite in data_dir")
    mapping: ReadableFile | None = Field(default=None,
                                         description="the mapping of the signal export")
    link_mapping: ReadableFile | None = None
    withdrawal_mapping: ReadableFile | None = None
    default_purpose: str | None = None
    officer_trust: ReadableFile = Field(description="the officer trust file")
    controller: OrganisationId | None = Field(
        default=None, description="the controller organisation: only its officers' signed "
        "revocations count")
    revocations: Directory | None = Field(
        default=None, description="a folder of signed revocation statements (*.json)")
    limits: Limits = Field(default_factory=lambda: Limits.model_validate({}))
    four_eyes: bool = Field(False, description="every reveal request waits for a local "
                            "approval (`samenloop gateway approvals`)")
    batch_size: int = Field(1000, ge=1, le=10_000)
    max_file_bytes: int = Field(
        DEFAULT_MAX_FILE_BYTES, ge=1024, description="the largest export ingested (bytes; a "
        "workbook counts uncompressed); a larger file is refused before any row is read")
    max_message_bytes: MessageBytes = Field(
        DEFAULT_MAX_MESSAGE_BYTES, description="the largest gRPC message this gateway sends "
        "or accepts from the matcher and the pseudonymiser (ADR 0028)")
    retry: Retry = Field(default_factory=lambda: Retry.model_validate({}))
    log_level: str = Field("INFO", pattern=r"^(?i:debug|info|warning|error)$")
    pull_wait_seconds: float = Field(30.0, gt=0, le=60)
    checkpoint_vkey: NoteVkey | None = Field(
        default=None, description="the matcher's pinned checkpoint key as a signed-note vkey "
        "(`<origin>+<key id>+<key>`): every checkpoint of the central audit log must carry its "
        "signature; without it this gateway does not witness the log (ADR 0024)")
    witness_key: PrivateKeyFile | None = Field(
        default=None, description="this gateway's Ed25519 witness key: it cosigns "
        "(cosignature/v1) each checkpoint it verified; its public key is registered with the "
        "matcher (`partners.<org>.witness_key`). Without it the gateway verifies but does not "
        "cosign")
    witness_interval_seconds: PositiveFloat = Field(
        60.0, description="seconds between two looks at the central log's latest checkpoint")

    @model_validator(mode="after")
    def _default_database(self) -> GatewaySettings:
        if self.database_url is None:
            url = f"sqlite:///{Path(self.data_dir).resolve() / DATABASE_FILE}"
            object.__setattr__(self, "database_url", url)
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    def effective(self) -> dict[str, Any]:
        """The configuration as it will be used, for `config-check` (key files by path only)."""
        data = super().effective()
        data["database_url"] = re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", self.db_url)
        return data


def load_settings(path: Path | str) -> GatewaySettings:
    """Read, type and check `gateway.yaml`; raises `ConfigError` with one line per problem."""
    return _load(GatewaySettings, Path(path))
