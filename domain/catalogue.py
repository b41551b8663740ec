"""The signal catalogue: which signal types exist, who may send them, what they bear on.

The catalogue is a versioned YAML file (`domain/catalogue.yaml`) validated when it is loaded;
every problem is reported with the file, the entry and the field, so a broken catalogue stops a
service at start-up instead of half-working. `load_catalogue()` without a path returns the shipped
catalogue, parsed once per process.

Usage:

    cat = load_catalogue()
    t = cat.get("huurachterstand")          # raises UnknownSignalType for an unknown code
    PartnerKind.HOUSING in t.partner_kinds  # True
    LifeDomain.FINANCIEN in t.domains       # True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from domain import safe_yaml
from domain.errors import CatalogueError, UnknownSignalType
from domain.text_files import TextInputError, decode_utf8

__all__ = [
    "DEFAULT_CATALOGUE_PATH",
    "KNOWN_PURPOSES",
    "LIFE_DOMAINS",
    "Catalogue",
    "LifeDomain",
    "PartnerKind",
    "Purpose",
    "SignalType",
    "Subject",
    "load_catalogue",
    "parse_catalogue",
]

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")


class PartnerKind(StrEnum):
    """The kinds of partner organisation that run a gateway."""

    HOUSING = "housing"
    """woningcorporatie"""
    POLICE = "police"
    """politie"""
    MENTAL_HEALTH = "mental_health"
    """GGZ-instelling"""
    MUNICIPALITY = "municipality"
    """gemeente (also forwards the Wgs signals of energy, water and health-insurance companies)"""


class LifeDomain(StrEnum):
    """The 13 life domains (leefgebieden) of the Zelfredzaamheid-Matrix (ZRM), in ZRM order."""

    FINANCIEN = "financien"
    WERK_OPLEIDING = "werk_opleiding"
    TIJDSBESTEDING = "tijdsbesteding"
    HUISVESTING = "huisvesting"
    HUISELIJKE_RELATIES = "huiselijke_relaties"
    GEESTELIJKE_GEZONDHEID = "geestelijke_gezondheid"
    LICHAMELIJKE_GEZONDHEID = "lichamelijke_gezondheid"
    MIDDELENGEBRUIK = "middelengebruik"
    BASALE_ADL = "basale_adl"
    INSTRUMENTELE_ADL = "instrumentele_adl"
    SOCIAAL_NETWERK = "sociaal_netwerk"
    MAATSCHAPPELIJKE_PARTICIPATIE = "maatschappelijke_participatie"
    JUSTITIE = "justitie"


LIFE_DOMAINS: tuple[LifeDomain, ...] = tuple(LifeDomain)
"""The 13 ZRM life domains, in ZRM order."""


class Subject(StrEnum):
    """What a signal is about, and so which identifier a row must carry.

    `person`: a BSN is required, an address is optional. `household`: a full address is
    required, a BSN is optional. `either`: at least one of the two.
    """

    PERSON = "person"
    HOUSEHOLD = "household"
    EITHER = "either"


KNOWN_PURPOSES: frozenset[str] = frozenset({"wgs-vroegsignalering", "wams-gecoordineerde-aanpak"})
"""The processing purposes (verwerkingsdoelen) of the shipped catalogue.

A catalogue file declares its own purposes; a test keeps this constant equal to the shipped
file's, so code that needs the list without loading a file can use it.
"""

_CODE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_PURPOSE_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_VERSION_RE = re.compile(r"^[0-9]{4}\.[0-9]+$")
_MAX_RETENTION_DAYS = 5 * 366


@dataclass(frozen=True, slots=True)
class Purpose:
    """A processing purpose signals may be collected under, with its legal basis."""

    code: str
    label_nl: str
    label_en: str
    legal_basis: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignalType:
    """One entry of the catalogue."""

    code: str
    label_nl: str
    label_en: str
    partner_kinds: frozenset[PartnerKind]
    domains: frozenset[LifeDomain]
    subject: Subject
    retention_days: int
    purposes: frozenset[str]
    description: str = ""

    def may_be_sent_by(self, kind: PartnerKind | str) -> bool:
        """True if a partner of `kind` may emit this type."""
        return kind in self.partner_kinds

    def allows_purpose(self, purpose: str) -> bool:
        """True if this type may be collected under `purpose`."""
        return purpose in self.purposes

    @property
    def needs_bsn(self) -> bool:
        """A row of this type must carry a BSN."""
        return self.subject is Subject.PERSON

    @property
    def needs_address(self) -> bool:
        """A row of this type must carry a full address."""
        return self.subject is Subject.HOUSEHOLD

    @property
    def domains_sorted(self) -> tuple[LifeDomain, ...]:
        """The domains in ZRM order (for stable output)."""
        return tuple(d for d in LIFE_DOMAINS if d in self.domains)


@dataclass(frozen=True)
class Catalogue:
    """A loaded, validated catalogue. Immutable; `types` is keyed by code in file order."""

    version: str
    types: Mapping[str, SignalType]
    purposes: Mapping[str, Purpose]
    digest: str
    """SHA-256 (hex) of the file's bytes, so a policy or an audit entry can pin the exact file."""
    source: str = field(default="<memory>")

    def get(self, code: str) -> SignalType:
        """The type with this code; raises `UnknownSignalType` if there is none."""
        try:
            return self.types[code]
        except KeyError:
            raise UnknownSignalType(code, self.version) from None

    def __contains__(self, code: object) -> bool:
        return code in self.types

    def __iter__(self) -> Iterator[SignalType]:
        return iter(self.types.values())

    def __len__(self) -> int:
        return len(self.types)

    def for_partner(self, kind: PartnerKind | str) -> tuple[SignalType, ...]:
        """The types a partner of `kind` may emit, in file order."""
        return tuple(t for t in self.types.values() if kind in t.partner_kinds)

    def in_domain(self, domain: LifeDomain | str) -> tuple[SignalType, ...]:
        """The types that bear on `domain`, in file order."""
        return tuple(t for t in self.types.values() if domain in t.domains)


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate a catalogue file; without `path`, the shipped one (cached).

    Raises `CatalogueError` naming the file, the entry and the field for any problem.
    """
    if path is None:
        return _default_catalogue()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return _load(DEFAULT_CATALOGUE_PATH)


def _load(path: Path) -> Catalogue:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc.strerror}") from None
    try:
        data = safe_yaml.safe_load(decode_utf8(raw))
    except TextInputError as exc:
        raise CatalogueError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise CatalogueError(f"{path}{where}: not valid YAML"
                             + (f" ({problem})" if problem else "")) from None
    return parse_catalogue(data, source=str(path), digest=hashlib.sha256(raw).hexdigest())


def parse_catalogue(data: Any, *, source: str = "<memory>", digest: str = "") -> Catalogue:
    """Validate an already-parsed catalogue document (the YAML as Python data)."""
    if not isinstance(data, dict):
        raise CatalogueError(
            f"{source}: the catalogue must be a mapping with version, purposes and types"
        )
    _only_keys(data, {"version", "purposes", "types"}, source, "top level")
    version = data.get("version")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise CatalogueError(
            f"{source}: field 'version': must be a string like \"2025.1\" (year.revision)"
        )
    purposes = _parse_purposes(data.get("purposes"), source)
    raw_types = data.get("types")
    if not isinstance(raw_types, list) or not raw_types:
        raise CatalogueError(f"{source}: field 'types': must be a non-empty list")
    types: dict[str, SignalType] = {}
    for index, entry in enumerate(raw_types):
        t = _parse_type(entry, index, source, purposes)
        if t.code in types:
            raise CatalogueError(f"{source}: types[{index}] ({t.code}): duplicate code")
        types[t.code] = t
    unused = sorted(set(purposes) - {p for t in types.values() for p in t.purposes})
    if unused:
        raise CatalogueError(f"{source}: purposes {unused} are declared but no type uses them")
    return Catalogue(
        version=version,
        types=MappingProxyType(types),
        purposes=MappingProxyType(purposes),
        digest=digest,
        source=source,
    )


def _only_keys(entry: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise CatalogueError(
            f"{source}: {where}: unknown field(s) {', '.join(extra)}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )


def _parse_purposes(raw: Any, source: str) -> dict[str, Purpose]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{source}: field 'purposes': must be a non-empty list")
    out: dict[str, Purpose] = {}
    for index, entry in enumerate(raw):
        where = f"purposes[{index}]"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{source}: {where}: must be a mapping")
        _only_keys(entry, {"code", "label_nl", "label_en", "legal_basis"}, source, where)
        code = entry.get("code")
        if not isinstance(code, str) or not _PURPOSE_RE.match(code):
            raise CatalogueError(
                f"{source}: {where}: field 'code': must be lowercase words joined by '-'"
            )
        where = f"purposes[{index}] ({code})"
        if code in out:
            raise CatalogueError(f"{source}: {where}: duplicate code")
        basis = entry.get("legal_basis")
        if (
            not isinstance(basis, list)
            or not basis
            or not all(isinstance(b, str) and b.strip() for b in basis)
        ):
            raise CatalogueError(
                f"{source}: {where}: field 'legal_basis': must be a non-empty list of citations"
            )
        out[code] = Purpose(
            code=code,
            label_nl=_text(entry, "label_nl", source, where),
            label_en=_text(entry, "label_en", source, where),
            legal_basis=tuple(b.strip() for b in basis),
        )
    return out


_TYPE_FIELDS = {
    "code",
    "label_nl",
    "label_en",
    "description",
    "partner_kinds",
    "domains",
    "subject",
    "retention_days",
    "purposes",
}


def _parse_type(
    entry: Any, index: int, source: str, purposes: Mapping[str, Purpose]
) -> SignalType:
    where = f"types[{index}]"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{source}: {where}: must be a mapping")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code) or len(code) > 64:
        raise CatalogueError(
            f"{source}: {where}: field 'code': must be snake_case (a-z, 0-9, _), at most 64 chars"
        )
    where = f"types[{index}] ({code})"
    _only_keys(entry, _TYPE_FIELDS, source, where)
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise CatalogueError(f"{source}: {where}: field 'description': must be text")
    retention = entry.get("retention_days")
    if (
        not isinstance(retention, int)
        or isinstance(retention, bool)
        or not 1 <= retention <= _MAX_RETENTION_DAYS
    ):
        raise CatalogueError(
            f"{source}: {where}: field 'retention_days': must be a whole number of days "
            f"from 1 to {_MAX_RETENTION_DAYS}"
        )
    subject_raw = entry.get("subject")
    try:
        subject = Subject(str(subject_raw))
    except ValueError:
        raise CatalogueError(
            f"{source}: {where}: field 'subject': must be one of "
            f"{[s.value for s in Subject]}"
        ) from None
    kinds = _enum_set(entry, "partner_kinds", PartnerKind, source, where)
    domains = _enum_set(entry, "domains", LifeDomain, source, where)
    type_purposes = _str_list(entry, "purposes", source, where)
    for p in type_purposes:
        if p not in purposes:
            raise CatalogueError(
                f"{source}: {where}: field 'purposes': {p!r} is not declared under 'purposes' "
                f"(declared: {', '.join(sorted(purposes))})"
            )
    return SignalType(
        code=code,
        label_nl=_text(entry, "label_nl", source, where),
        label_en=_text(entry, "label_en", source, where),
        partner_kinds=frozenset(kinds),
        domains=frozenset(domains),
        subject=subject,
        retention_days=retention,
        purposes=frozenset(type_purposes),
        description=" ".join(description.split()),
    )


def _text(entry: Mapping[str, Any], name: str, source: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{source}: {where}: field {name!r}: must be non-empty text")
    return value.strip()


def _str_list(entry: Mapping[str, Any], name: str, source: str, where: str) -> list[str]:
    value = entry.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{source}: {where}: field {name!r}: must be a non-empty list")
    if len(set(value)) != len(value):
        raise CatalogueError(f"{source}: {where}: field {name!r}: lists a value twice")
    return list(value)


def _enum_set(
    entry: Mapping[str, Any],
    name: str,
    enum: type[PartnerKind] | type[LifeDomain],
    source: str,
    where: str,
) -> list[Any]:
    values = _str_list(entry, name, source, where)
    out: list[Any] = []
    for v in values:
        try:
            out.append(enum(v))
        except ValueError:
            raise CatalogueError(
                f"{source}: {where}: field {name!r}: {v!r} is not one of "
                f"{[e.value for e in enum]}"
            ) from None
    return out


def render_markdown(catalogue: Catalogue) -> str:
    """The catalogue as the Markdown table of docs/catalogue.md (kept in sync by a test)."""
    lines = [
        f"<!-- generated from domain/catalogue.yaml version {catalogue.version}: "
        "python -m domain catalogue-markdown -->",
        "",
        f"Catalogue version **{catalogue.version}**, {len(catalogue)} signal types.",
        "",
        "| code | label (nl) | label (en) | partner kinds | life domains | subject | retention "
        "(days) | purposes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in catalogue:
        kinds = ", ".join(k.value for k in PartnerKind if k in t.partner_kinds)
        lines.append(
            f"| `{t.code}` | {t.label_nl} | {t.label_en} | {kinds} | "
            f"{', '.join(d.value for d in t.domains_sorted)} | {t.subject.value} | "
            f"{t.retention_days} | {', '.join(sorted(t.purposes))} |"
        )
    lines += ["", "### When each type is registered", ""]
    for t in catalogue:
        lines.append(f"- `{t.code}` ({t.label_en}): {t.description}")
    lines += ["", "### Purposes", ""]
    for p in catalogue.purposes.values():
        lines.append(f"- `{p.code}`: {p.label_nl} ({p.label_en}); legal basis: "
                     + "; ".join(p.legal_basis))
    return "\n".join(lines) + "\n"
