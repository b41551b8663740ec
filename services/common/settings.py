"""One typed settings model per service: a YAML file, overridden by the environment.

Every service (pseudonymiser, matcher, and the gateway and inbox to come) declares a
`ServiceSettings` subclass. `load_settings(Model, FILE)` reads FILE, applies environment
overrides `SAMENLOOP_<SERVICE>__<KEY>` (nested with `__`: `SAMENLOOP_MATCHER__TLS__CA`), and
validates the result with pydantic (ADR 0014):

- unknown keys are refused, at any depth, with a "did you mean" suggestion: a misspelt
  `max_batch_sise` must not leave a safeguard on its default;
- values are typed: `host:port`, files that exist and can be read (relative to the config
  file), private key files only the owner can read (`chmod 600`), CBS municipality codes,
  organisation ids, positive limits;
- secrets come only from files: settings name key *files*; an environment override that holds
  key material instead of a path is refused;
- every problem becomes one line naming the file (and line), the key and the fix.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import types
import typing
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from services.common.config import ConfigError, ConfigFile, read_config_file
from services.common.tls import TlsConfigError, TlsMaterial

ENV_ROOT = "SAMENLOOP_"
_BASE_DIR: ContextVar[Path | None] = ContextVar("samenloop_config_dir", default=None)


# ---------------------------------------------------------------------------------------------
# Typed values


def _resolve(value: Path) -> Path:
    """Relative paths are relative to the configuration file's folder."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    base = _BASE_DIR.get()
    return ((base or Path.cwd()) / path).resolve()


def _readable_file(value: Path) -> Path:
    path = _resolve(value)
    if not path.exists():
        raise ValueError(f"{path} does not exist; create it or correct the path")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path} cannot be read by this user; fix its owner or permissions")
    return path


def _private_key_file(value: Path) -> Path:
    from crypto.errors import KeyFileError
    from crypto.keys import check_private_file

    path = _readable_file(value)
    try:
        check_private_file(path)
    except KeyFileError as exc:
        raise ValueError(str(exc)) from None
    return path


class Secret:
    """Marks a setting that names a secret file: its environment override must be a path."""


ReadableFile = Annotated[Path, AfterValidator(_readable_file)]
"""An existing, readable file (relative to the configuration file)."""
PrivateKeyFile = Annotated[Path, AfterValidator(_private_key_file), Secret()]
"""A private key file: exists, and only its owner may read it (`chmod 600`)."""
Directory = Annotated[Path, AfterValidator(_resolve)]
"""A folder (relative to the configuration file); created when first used."""
FilePath = Annotated[Path, AfterValidator(_resolve)]
"""A file the service creates when first used (relative to the configuration file)."""

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")


def _host_port(value: str, *, lowest: int) -> str:
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} has no port; write HOST:PORT, e.g. {text or 'localhost'}:7401")
    if not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or IP address; write HOST:PORT")
    if not port.isdigit() or not lowest <= int(port) <= 65535:
        span = "0 (any free port) to 65535" if lowest == 0 else "1 to 65535"
        raise ValueError(f"port {port!r} in {text!r} is not a number from {span}")
    return f"{host}:{int(port)}"


Address = Annotated[str, AfterValidator(lambda v: _host_port(v, lowest=1))]
"""`host:port` of a service to connect to (port 1-65535)."""
BindAddress = Annotated[str, AfterValidator(lambda v: _host_port(v, lowest=0))]
"""`host:port` to listen on; port 0 takes any free port (the `server_started` event names it)."""


def _municipality(value: str) -> str:
    if not re.fullmatch(r"GM\d{4}", value):
        raise ValueError(f"{value!r} is not a CBS municipality code; write GM and four digits, "
                         "e.g. GM0599 (Rotterdam)")
    return value


def _organisation(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", value):
        raise ValueError(f"{value!r} is not an organisation id: 1-64 lowercase letters, digits, "
                         "'-', '_' or '.', as in the organisation's certificate (O)")
    return value


MunicipalityCode = Annotated[str, AfterValidator(_municipality)]
OrganisationId = Annotated[str, AfterValidator(_organisation)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MessageBytes = Annotated[int, Field(ge=64 * 1024, le=256 * 1024 * 1024)]
"""A gRPC message size limit: 64 KiB to 256 MiB (ADR 0028)."""


class Section(BaseModel):
    """A nested group of settings: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthSettings(Section):
    """`health: {bind, metrics}`: the plaintext probe port (services/common/health_http.py).

    Off unless set. It serves /healthz and /readyz only, and /metrics when `metrics` is true;
    keep it inside the pod or host (ADR 0020).
    """

    bind: BindAddress = Field(description="host:port of the plaintext health port, e.g. "
                                          "0.0.0.0:8081 in a pod, 127.0.0.1:8081 on a host")
    metrics: bool = Field(default=False,
                          description="also serve /metrics (Prometheus text) on that port")


class TlsFiles(Section):
    """`tls: {ca, cert, key}`, the one spelling of mTLS files in every service."""

    ca: ReadableFile = Field(description="the deployment CA certificate (PEM)")
    cert: ReadableFile = Field(description="this component's certificate (PEM)")
    key: PrivateKeyFile = Field(description="this component's private key (PEM, chmod 600)")

    def material(self) -> TlsMaterial:
        return TlsMaterial(ca_cert=self.ca, cert=self.cert, key=self.key)

    @model_validator(mode="after")
    def _usable(self) -> TlsFiles:
        """Certificates parse, are within their validity, and the key belongs to the cert."""
        try:
            self.material().check()
        except TlsConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


# ---------------------------------------------------------------------------------------------
# The base model of every service


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set `SERVICE` (the env var part)."""

    SERVICE: ClassVar[str] = ""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_nested_delimiter="__", case_sensitive=False,
        env_ignore_empty=False,
    )

    deny_list: ReadableFile | None = Field(
        default=None,
        description="revoked certificate serials or SHA-256 fingerprints, one per line")
    health: HealthSettings | None = Field(
        default=None, description="`{bind, metrics}`: the plaintext probe port; off when unset")

    @classmethod
    def env_prefix(cls) -> str:
        return f"{ENV_ROOT}{cls.SERVICE.upper()}__"

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
        from pydantic_settings import EnvSettingsSource

        env = EnvSettingsSource(settings_cls, env_prefix=cls.env_prefix(),
                                env_nested_delimiter="__", case_sensitive=False)
        return (env, init_settings)

    def effective(self) -> dict[str, Any]:
        """The settings as plain values for `config-check`: paths as text, secrets elided."""
        return self.model_dump(mode="json")


S = TypeVar("S", bound=ServiceSettings)


def load_settings(model: type[S], path: Path) -> S:
    """Read `path`, apply the environment, validate. Raises `ConfigError` (one line a problem)."""
    source = read_config_file(Path(path))
    env = _environment(model)
    _refuse_bad_environment(model, env)
    token = _BASE_DIR.set(source.path.resolve().parent)
    try:
        return model(**source.data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(model, source, env, exc))) from None
    except SettingsError as exc:
        raise ConfigError(f"{source.path}: environment: {_first_line(exc)}; a nested setting "
                          "in the environment must be JSON, e.g. '{\"per_minute\": 5}'") from None
    finally:
        _BASE_DIR.reset(token)


# ---------------------------------------------------------------------------------------------
# The environment


def _environment(model: type[ServiceSettings]) -> dict[tuple[str, ...], tuple[str, str]]:
    """Env overrides for `model`: key path -> (variable name, value)."""
    prefix = model.env_prefix()
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for name, value in os.environ.items():
        if name.upper().startswith(prefix):
            key = tuple(part.lower() for part in name[len(prefix):].split("__"))
            out[key] = (name, value)
    return out


def _looks_like_key_material(value: str) -> bool:
    text = value.strip()
    return "\n" in text or text.startswith(("{", "-----BEGIN")) or len(text) > 1024


def _refuse_bad_environment(model: type[ServiceSettings],
                            env: dict[tuple[str, ...], tuple[str, str]]) -> None:
    for key, (name, value) in sorted(env.items()):
        annotation: Any = model
        for depth, part in enumerate(key):
            fields = _fields_of(annotation)
            if fields is None:
                break
            if part not in fields:
                where = ".".join(key[: depth + 1])
                raise ConfigError(f"environment variable {name}: `{where}` is not a setting"
                                  f"{_suggest(part, fields)}; unset it or correct the name")
            annotation = fields[part]
        if _is_secret(annotation) and _looks_like_key_material(value):
            raise ConfigError(
                f"environment variable {name} holds key material; secrets come only from "
                f"files: write the key to a file, `chmod 600` it and set {name} to its path")


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X; `Annotated[X, ...]` stays (its metadata marks secrets)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return annotation


def _is_secret(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    return get_origin(annotation) is Annotated and any(
        isinstance(m, Secret) for m in get_args(annotation)[1:])


def _fields_of(annotation: Any) -> dict[str, Any] | None:
    """Field name -> annotation when `annotation` is a model (through Optional/Annotated)."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        hints = typing.get_type_hints(annotation, include_extras=True)
        return {name: hints.get(name, f.annotation)
                for name, f in annotation.model_fields.items()}
    return None


def _child(annotation: Any, part: str | int) -> Any:
    """The annotation one step down `part` (a field of a model, or a dict value / list item)."""
    fields = _fields_of(annotation)
    if fields is not None:
        return fields.get(str(part))
    annotation = _unwrap(annotation)
    if get_origin(annotation) is Annotated:
        annotation = _unwrap(get_args(annotation)[0])
    origin = get_origin(annotation)
    if origin is dict:
        return get_args(annotation)[1]
    if origin in (list, tuple, frozenset, set):
        return get_args(annotation)[0]
    return None


def _suggest(word: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


# ---------------------------------------------------------------------------------------------
# Errors, one line each


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_MESSAGES = {
    "missing": "missing required setting{about}; add it",
    "int_parsing": "must be a whole number, got {input}",
    "int_type": "must be a whole number, got {input}",
    "int_from_float": "must be a whole number, got {input}",
    "float_parsing": "must be a number, got {input}",
    "float_type": "must be a number, got {input}",
    "bool_parsing": "must be true or false, got {input}",
    "bool_type": "must be true or false, got {input}",
    "string_type": "must be text, got {input}",
    "dict_type": "must be a mapping (key: value), got {input}",
    "model_type": "must be a mapping (key: value), got {input}",
    "model_attributes_type": "must be a mapping (key: value), got {input}",
    "list_type": "must be a list, got {input}",
    "greater_than": "must be greater than {gt}, got {input}",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}, got {input}",
    "enum": "must be one of {expected}, got {input}",
    "path_type": "must be a file path, got {input}",
}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


def _describe(model: type[ServiceSettings], source: ConfigFile,
              env: dict[tuple[str, ...], tuple[str, str]], exc: ValidationError) -> Iterator[str]:
    errors = exc.errors(include_url=False)
    unknown = {tuple(str(p) for p in e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    for error in errors:
        loc = tuple(str(p) for p in error["loc"])
        if error["type"] == "missing" and any(
            (*loc[:-1], old) in unknown for old, new in _RENAMED_KEYS.items() if new == loc[-1]
        ):
            continue  # "ca_cert: did you mean `ca`?" says it already
        yield f"{_where(source, env, loc)}: {_problem(model, loc, error)}"


def _where(source: ConfigFile, env: dict[tuple[str, ...], tuple[str, str]],
           loc: tuple[str, ...]) -> str:
    key = ".".join(loc)
    for end in range(len(loc), 0, -1):
        if loc[:end] in env:
            return f"{source.path}: `{key}` (environment variable {env[loc[:end]][0]})"
    line = source.line_of(loc)
    at = f"{source.path}:{line}" if line is not None else str(source.path)
    return f"{at}: `{key}`" if key else at


def _problem(model: type[ServiceSettings], loc: tuple[str, ...], error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent: Any = model
        for part in loc[:-1]:
            parent = _child(parent, part)
        fields = _fields_of(parent) or {}
        hint = _RENAMED.get(loc[-1], "") if len(loc) <= 2 else ""
        return (f"unknown setting{hint or _suggest(loc[-1], fields) or '; remove it'}"
                if fields else "unknown setting; remove it")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    template = _MESSAGES.get(kind)
    if template is None:
        return str(error["msg"])
    description = None
    if kind == "missing" and loc:
        parent = model
        for part in loc[:-1]:
            parent = _child(parent, part)
        parent = _unwrap(parent)
        if get_origin(parent) is Annotated:
            parent = get_args(parent)[0]
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            info = parent.model_fields.get(loc[-1])
            description = info.description if info is not None else None
    about = f" ({description})" if description else ""
    return template.format(input=_show(error.get("input")), about=about,
                           **{k: v for k, v in ctx.items() if k not in ("input", "about")})


_RENAMED_KEYS = {"ca_cert": "ca"}
"""Old spelling -> the setting that replaced it."""
_RENAMED = {
    "ca_cert": "; did you mean `ca`? (`tls: {ca, cert, key}` in every service)",
    "quota": "; per-partner limits are now `organisations: {ORG: {daily_elements, "
             "rate_per_second, burst}}`, and only listed organisations are served",
    "pki_dir": "; name the files: `tls: {ca, cert, key}` and each key file "
               "(`samenloop pki dev-setup` writes a complete example)",
    "component": "; name the files: `tls: {ca, cert, key}` and each key file",
}


@contextlib.contextmanager
def config_dir(directory: Path) -> Iterator[None]:
    """Resolve relative paths against `directory` while building settings in code (tests)."""
    token = _BASE_DIR.set(Path(directory))
    try:
        yield
    finally:
        _BASE_DIR.reset(token)
