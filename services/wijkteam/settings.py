"""The inbox's typed settings: a YAML file, overridden by `SAMENLOOP_INBOX__*` variables.

Same conventions as every service (issue 11): unknown keys are refused with a "did you mean",
values are typed (`host:port`, files that exist, private key files only the owner can read),
secrets come only from files, and every problem is one line naming the file, the key and the fix.

TODO(config): move onto `services/common/settings.py` (`ServiceSettings`, `load_settings`) when
the configuration helper's shared base lands on main; the field names here stay as they are.

Example (paths relative to the file; docs/inbox.md explains every key):

    team: wijkteam-feijenoord
    matcher: 127.0.0.1:7402
    tls: {ca: pki/ca/ca.crt, cert: pki/wijkteam-feijenoord/tls.crt,
          key: pki/wijkteam-feijenoord/tls.key}
    inbox_key: pki/wijkteam-feijenoord/inbox.key
    partner_keys:
      woonstad-rotterdam: pki/gateway-woonstad-rotterdam/disclosure.key.pub
    bind: 127.0.0.1:8470
    users_file: inbox-users.json
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.common.config import ConfigError
from services.common.tls import TlsMaterial

ENV_PREFIX = "SAMENLOOP_INBOX__"
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_ORG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def _readable_file(value: Path) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file; create it or fix the path")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path} cannot be read by this user; fix its owner or permissions")
    return path


def _private_file(value: Path) -> Path:
    path = _readable_file(value)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ValueError(f"{path} is readable by group or others (mode {mode:04o}); "
                         f"run: chmod 600 {path}")
    return path


def _host_port(value: str, lowest: int) -> str:
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} has no port; write HOST:PORT, e.g. 127.0.0.1:8470")
    if not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or IP address; write HOST:PORT")
    if not port.isdigit() or not lowest <= int(port) <= 65535:
        raise ValueError(f"port {port!r} in {text!r} is not a number from {lowest} to 65535")
    return f"{host}:{int(port)}"


def _organisation(value: str) -> str:
    if not _ORG.fullmatch(value):
        raise ValueError(f"{value!r} is not an organisation id: 1-64 lowercase letters, digits, "
                         "'-', '_' or '.', as in the certificate (O)")
    return value


ReadableFile = Annotated[Path, AfterValidator(_readable_file)]
PrivateKeyFile = Annotated[Path, AfterValidator(_private_file)]
Address = Annotated[str, AfterValidator(lambda v: _host_port(v, 1))]
BindAddress = Annotated[str, AfterValidator(lambda v: _host_port(v, 0))]
OrganisationId = Annotated[str, AfterValidator(_organisation)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsFiles(Section):
    """`tls: {ca, cert, key}`: the team's certificate for mTLS to the matcher."""

    ca: ReadableFile
    cert: ReadableFile
    key: PrivateKeyFile

    def material(self) -> TlsMaterial:
        return TlsMaterial(ca_cert=self.ca, cert=self.cert, key=self.key)


class AuthSettings(Section):
    """How team members log in: local accounts, or a header set by a trusted reverse proxy."""

    mode: Literal["local", "proxy"] = "local"
    proxy_header: str = Field(default="X-Remote-User", min_length=1)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    """Only requests from these addresses may carry the proxy header."""

    def model_post_init(self, _context: Any) -> None:
        for address in self.trusted_proxies:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"auth.trusted_proxies: {address!r} is not an IP address"
                                 ) from None


class LoginSettings(Section):
    """Login throttling: after `max_failures` wrong passwords, wait `lockout_seconds`."""

    max_failures: int = Field(default=5, gt=0)
    lockout_seconds: int = Field(default=300, gt=0)


class InboxSettings(BaseSettings):
    """Everything `samenloop inbox serve` and the inbox CLI need."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix=ENV_PREFIX,
                                      env_nested_delimiter="__", case_sensitive=False)

    team: OrganisationId
    """The team's organisation id, as in its certificate and in the policies' recipient."""
    matcher: Address = "127.0.0.1:7402"
    tls: TlsFiles
    inbox_key: PrivateKeyFile
    """The team's X25519 private key that opens sealed disclosures (kept in memory only)."""
    partner_keys: dict[OrganisationId, ReadableFile] = Field(default_factory=dict)
    """Each partner's published Ed25519 disclosure key; a disclosure from a partner without
    one here is never shown."""
    bind: BindAddress = "127.0.0.1:8470"
    users_file: Path = Path("inbox-users.json")
    auth: AuthSettings = AuthSettings()
    login: LoginSettings = LoginSettings()
    session_idle_minutes: int = Field(default=30, gt=0)
    language: Literal["nl", "en"] = "nl"
    deny_list: ReadableFile | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file; no .env files, no secrets directories."""
        return (env_settings, init_settings)

    @property
    def bind_host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def bind_port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    @property
    def on_loopback(self) -> bool:
        """Served on loopback only: plain HTTP is acceptable, so cookies cannot be `Secure`."""
        if self.bind_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind_host).is_loopback
        except ValueError:
            return False


_PATH_KEYS = {("tls", "ca"), ("tls", "cert"), ("tls", "key"), ("inbox_key",), ("users_file",),
              ("deny_list",)}


def load_inbox_settings(path: Path) -> InboxSettings:
    """Read `path`, apply `SAMENLOOP_INBOX__*`, validate; one line per problem (ConfigError)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    data = _resolve_paths(data, path.resolve().parent)
    try:
        return InboxSettings(**data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(path, exc))) from None


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative file paths are relative to the configuration file's folder."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            return str(base / value)
        return value

    out = dict(data)
    for key in _PATH_KEYS:
        if len(key) == 1 and key[0] in out:
            out[key[0]] = fix(out[key[0]])
        elif len(key) == 2 and isinstance(out.get(key[0]), dict) and key[1] in out[key[0]]:
            out[key[0]] = {**out[key[0]], key[1]: fix(out[key[0]][key[1]])}
    if isinstance(out.get("partner_keys"), dict):
        out["partner_keys"] = {k: fix(v) for k, v in out["partner_keys"].items()}
    return out


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = InboxSettings
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
    return list(getattr(model, "model_fields", {}))


def _describe(path: Path, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            guess = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
            hint = f"; did you mean `{guess[0]}`?" if guess else ""
            lines.append(f"{path}: unknown setting `{key}`{hint}")
        elif error["type"] == "missing":
            lines.append(f"{path}: `{key}` is required")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{path}: `{key}`: {message}")
    return lines
