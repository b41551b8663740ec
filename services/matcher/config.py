"""The matcher's YAML configuration (`samenloop matcher serve --config FILE`).

Example (paths are relative to the file; see docs/matcher.md for every setting):

    bind: 127.0.0.1:50052
    data_dir: ./matcher-data            # SQLite file matcher.sqlite lives here by default
    database_url: null                  # or postgresql+psycopg://user@host/db
    municipality: GM0599
    pki_dir: ../pki                     # layout of `samenloop pki dev-setup`
    component: matcher                  # certificate and keys under <pki_dir>/<component>/
    officer_trust: ../officers.yaml
    pseudonymiser_key_ids: [voprf:0123456789abcdef]
    partners:
      woonstad-rotterdam: {kind: housing, purposes: [wgs-vroegsignalering]}
      gemeente-rotterdam: {kind: municipality, purposes: [wams-gecoordineerde-aanpak]}
    reveal_request_ttl_days: 14
    purge_interval_seconds: 3600
    inquiries: {per_minute: 10, per_day: 200}   # per-partner inquiry rate limit (the defaults)

Instead of `pki_dir`/`component`, `tls: {ca_cert, cert, key}`, `signing_key` and `hmac_key`
may name the files one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from domain.catalogue import PartnerKind
from services.common.config import ConfigError, load_yaml_config, require, resolve_path
from services.common.tls import TlsMaterial
from services.matcher.settings import InquiryLimits, MatcherSettings, PartnerEntry

DEFAULT_BIND = "127.0.0.1:50052"
MIGRATIONS = Path(__file__).parent / "migrations"

_KNOWN = {
    "bind", "data_dir", "database_url", "municipality", "pki_dir", "component", "tls",
    "signing_key", "hmac_key", "officer_trust", "pseudonymiser_key_ids", "partners",
    "reveal_request_ttl_days", "purge_interval_seconds", "alert_signal_retention_days",
    "link_retention_days", "inquiry_retention_days", "max_batch_rows", "log_level",
    "max_workers", "catalogue", "deny_list", "inquiries",
}


@dataclass(frozen=True)
class MatcherConfig:
    source: Path
    bind: str
    database_url: str
    tls: TlsMaterial
    signing_key: Path
    hmac_key: Path
    officer_trust: Path
    settings: MatcherSettings
    purge_interval_seconds: float
    log_level: str
    max_workers: int
    catalogue: Path | None
    deny_list: Path | None = None


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'matcher.sqlite'}"


def _int(data: dict[str, Any], key: str, default: int, source: Path) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{source}: setting `{key}` must be a non-negative integer")
    return value


def parse_partners(raw: Any, source: Path) -> dict[str, PartnerEntry]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: `partners` must map organisation ids to kind and purposes")
    kinds = {k.value for k in PartnerKind}
    out = {}
    for org, entry in raw.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: partners.{org} must be a mapping")
        kind = entry.get("kind")
        if kind not in kinds:
            raise ConfigError(
                f"{source}: partners.{org}.kind must be one of {', '.join(sorted(kinds))}")
        purposes = entry.get("purposes")
        if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
            raise ConfigError(f"{source}: partners.{org}.purposes must be a list of purposes")
        out[str(org)] = PartnerEntry(str(org), str(kind), frozenset(purposes))
    return out


def parse_inquiry_limits(raw: Any, source: Path) -> InquiryLimits:
    """`inquiries: {per_minute: N, per_day: N}`; each key optional, each a positive integer."""
    if raw is None:
        return InquiryLimits()
    if not isinstance(raw, dict) or set(raw) - {"per_minute", "per_day"}:
        raise ConfigError(f"{source}: `inquiries` must be a mapping with per_minute and per_day")
    default = InquiryLimits()
    values = {}
    for key in ("per_minute", "per_day"):
        value = raw.get(key, getattr(default, key))
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{source}: setting `inquiries.{key}` must be a positive integer")
        values[key] = value
    return InquiryLimits(**values)


def load_config(path: Path) -> MatcherConfig:
    source = Path(path)
    data = load_yaml_config(source)
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}")
    data_dir = resolve_path(str(data.get("data_dir", "matcher-data")), source)
    url = data.get("database_url") or default_database_url(data_dir)
    component = str(data.get("component", "matcher"))
    pki = resolve_path(str(data["pki_dir"]), source) if data.get("pki_dir") else None
    tls_raw = data.get("tls")
    if isinstance(tls_raw, dict):
        tls = TlsMaterial(
            ca_cert=resolve_path(str(require(tls_raw, "ca_cert", source)), source),
            cert=resolve_path(str(require(tls_raw, "cert", source)), source),
            key=resolve_path(str(require(tls_raw, "key", source)), source),
        )
    elif pki is not None:
        tls = TlsMaterial.from_dir(pki, component)
    else:
        raise ConfigError(f"{source}: set `pki_dir` or `tls: {{ca_cert, cert, key}}`")

    def key_path(name: str, default_file: str) -> Path:
        if data.get(name):
            return resolve_path(str(data[name]), source)
        if pki is None:
            raise ConfigError(f"{source}: missing required setting `{name}` (or `pki_dir`)")
        return pki / component / default_file

    key_ids = data.get("pseudonymiser_key_ids")
    if not isinstance(key_ids, list) or not key_ids or not all(isinstance(k, str) for k in key_ids):
        raise ConfigError(f"{source}: `pseudonymiser_key_ids` must list the accepted key ids")
    municipality = data.get("municipality")
    settings = MatcherSettings(
        partners=parse_partners(data.get("partners"), source),
        accepted_key_ids=frozenset(key_ids),
        municipality=str(municipality) if municipality else None,
        reveal_request_ttl=timedelta(days=_int(data, "reveal_request_ttl_days", 14, source)),
        alert_signal_retention_days=_int(data, "alert_signal_retention_days", 365, source),
        link_retention_days=_int(data, "link_retention_days", 400, source),
        inquiry_retention_days=_int(data, "inquiry_retention_days", 365, source),
        max_batch_rows=_int(data, "max_batch_rows", 10_000, source),
        inquiries=parse_inquiry_limits(data.get("inquiries"), source),
    )
    return MatcherConfig(
        source=source,
        bind=str(data.get("bind", DEFAULT_BIND)),
        database_url=str(url),
        tls=tls,
        signing_key=key_path("signing_key", "signing.key"),
        hmac_key=key_path("hmac_key", "hmac.key"),
        officer_trust=resolve_path(str(require(data, "officer_trust", source)), source),
        settings=settings,
        purge_interval_seconds=float(_int(data, "purge_interval_seconds", 3600, source)),
        log_level=str(data.get("log_level", "INFO")),
        max_workers=_int(data, "max_workers", 16, source) or 16,
        catalogue=resolve_path(str(data["catalogue"]), source) if data.get("catalogue") else None,
        deny_list=resolve_path(str(data["deny_list"]), source) if data.get("deny_list") else None,
    )
