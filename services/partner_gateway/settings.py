"""The gateway's typed configuration (`gateway.yaml`), on pydantic-settings.

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
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from domain.catalogue import PartnerKind
from services.common.config import ConfigError
from services.common.tls import TlsMaterial

ENV_PREFIX = "SAMENLOOP_GATEWAY__"
DATABASE_FILE = "gateway.sqlite"

_BASE: contextvars.ContextVar[Path] = contextvars.ContextVar("gateway_config_base")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def _resolve(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError("must be a file path")
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = _BASE.get(Path.cwd()) / path
    return path.resolve()


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path} is not readable by this user")
    return path


def _private_file(path: Path) -> Path:
    _existing_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(
            f"{path} is a secret key but readable by group or others (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )
    return path


def _host_port(value: Any) -> str:
    text = str(value).strip()
    match = _HOST_PORT.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not host:port (e.g. 127.0.0.1:50052)")
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return text


PathSetting = Annotated[Path, BeforeValidator(_resolve)]
FileSetting = Annotated[Path, BeforeValidator(_resolve), AfterValidator(_existing_file)]
SecretFile = Annotated[Path, BeforeValidator(_resolve), AfterValidator(_private_file)]
HostPort = Annotated[str, BeforeValidator(_host_port)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsFiles(_Section):
    """`tls: {ca, cert, key}` — the one spelling in every service."""

    ca: FileSetting
    cert: FileSetting
    key: SecretFile

    def material(self) -> TlsMaterial:
        return TlsMaterial(ca_cert=self.ca, cert=self.cert, key=self.key)


class Limits(_Section):
    """Ceilings on disclosures, so a compromised matcher cannot drain the vault."""

    disclosures_per_day: int = Field(200, gt=0)
    per_policy_per_day: int = Field(50, gt=0)


class Retry(_Section):
    """Backoff with full jitter on UNAVAILABLE / DEADLINE_EXCEEDED."""

    attempts: int = Field(7, ge=1, le=50)
    base_seconds: float = Field(0.25, gt=0)
    max_seconds: float = Field(15.0, gt=0)
    timeout_seconds: float = Field(60.0, gt=0)


class GatewaySettings(BaseSettings):
    """Everything a partner gateway is configured with."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )

    organisation: str = Field(min_length=1, max_length=64)
    """The partner's organisation id, as in its certificate and the matcher's partner list."""
    kind: PartnerKind
    matcher: HostPort
    pseudonymiser: HostPort
    pseudonymiser_key_id: str = Field(pattern=r"^voprf:[0-9a-f]{16}$")
    """The pinned pseudonymiser key id (`samenloop pseudonymiser public-key` prints it)."""
    pseudonymiser_public_key: FileSetting | None = None
    """The pinned key itself (the `.pub` file); without it the served key must hash to the id."""
    matcher_public_key: FileSetting
    """The matcher's Ed25519 public key: reveal requests must be signed by it."""
    tls: TlsFiles
    disclosure_key: SecretFile
    """This gateway's Ed25519 key that signs every disclosure (its `.pub` is registered)."""
    vault_key: SecretFile
    """The identity vault key; keep it outside the database (and its backups)."""
    data_dir: PathSetting = Field(default_factory=lambda: _resolve("gateway-data"))
    database_url: str | None = None
    """Any SQLAlchemy URL; default SQLite `gateway.sqlite` in data_dir."""
    mapping: FileSetting | None = None
    """The mapping of this partner's signal export (docs/formats.md)."""
    link_mapping: FileSetting | None = None
    withdrawal_mapping: FileSetting | None = None
    default_purpose: str | None = None
    officer_trust: FileSetting
    controller: str | None = None
    """The controller organisation: only its officers' signed revocations count."""
    revocations: PathSetting | None = None
    """Optional folder of signed revocation statements (`*.json`) published by the controller."""
    limits: Limits = Field(default_factory=lambda: Limits.model_validate({}))
    four_eyes: bool = False
    """Every reveal request waits for a local approval (`samenloop gateway approvals`)."""
    batch_size: int = Field(1000, ge=1, le=10_000)
    retry: Retry = Field(default_factory=lambda: Retry.model_validate({}))
    deny_list: FileSetting | None = None
    log_level: str = Field("INFO", pattern=r"^(?i:debug|info|warning|error)$")
    pull_wait_seconds: float = Field(30.0, gt=0, le=60)

    @model_validator(mode="after")
    def _default_database(self) -> GatewaySettings:
        if self.database_url is None:
            url = f"sqlite:///{self.data_dir / DATABASE_FILE}"
            object.__setattr__(self, "database_url", url)
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (12-factor); secrets only ever come from files.
        return (env_settings, init_settings)

    def effective(self) -> dict[str, Any]:
        """The configuration as it will be used, for `config-check` (key files by path only)."""
        data = self.model_dump(mode="json")
        data["database_url"] = _elide_password(self.db_url)
        return data


def _elide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ()) or ()
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type) and
                        issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return list(current.model_fields)


def _describe(source: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            names = _field_names(GatewaySettings, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
            hint = f"; did you mean `{'.'.join([*map(str, loc[:-1]), close[0]])}`?" if close else (
                f"; known keys here: {', '.join(names)}" if names else "")
            lines.append(f"{source}: unknown setting `{key}`{hint}")
        elif err["type"] == "missing":
            lines.append(f"{source}: missing required setting `{key}`")
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{source}: setting `{key}`: {message}")
    return "; ".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
                          ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def load_settings(path: Path | str) -> GatewaySettings:
    """Read, type and check `gateway.yaml`; raises `ConfigError` with one line per problem."""
    source = Path(path)
    data = _read_yaml(source)
    token = _BASE.set(source.resolve().parent)
    try:
        return GatewaySettings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    finally:
        _BASE.reset(token)
