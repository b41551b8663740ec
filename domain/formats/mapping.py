"""Per-partner mapping files: from a partner's own export to the canonical format.

A mapping is a small YAML file the partner's data manager writes once (examples under
examples/mappings/). It says which of the partner's columns is which canonical column, which
columns to drop on purpose, the date formats, how the partner's own codes translate into
catalogue codes, and values that are the same for every row:

    mapping_version: 1
    partner: Woonstichting De Haven     # a label for people; not sent anywhere
    partner_kind: housing               # housing | police | mental_health | municipality
    kind: signals                       # signals | links | withdrawals
    encoding: cp1252                    # default utf-8 (with or without BOM)
    delimiter: ";"                      # default: taken from the header line
    format: csv                         # csv | jsonl | xlsx; default: from the file itself
    sheet: Signalen                     # xlsx: the sheet to read (default: the first one)
    columns:                            # canonical column: partner's column
      signal_id: Dossiernr
      observed_on: Datum signaal
    ignore: [Opmerking, Behandelaar]    # partner columns dropped on purpose (free text!)
    date_format: "%d-%m-%Y"             # for every date column ...
    dates: {geboortedatum: "%d%m%Y"}    # ... or per column
    values:                             # partner value -> canonical value, per column
      signal_type: {HA2: huurachterstand, ONTR: ontruiming_aangezegd}
      escalated: {J: true, N: false}
    fixed: {purpose: wgs-vroegsignalering}   # the same for every row
    address: {hyphen_letter: huisletter}     # what "12-A" means in this partner's system

A column of the file that is neither mapped, nor canonical, nor ignored makes the whole file
fail: free text must not slip through because nobody looked at it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import yaml

from domain import safe_yaml
from domain.catalogue import PartnerKind
from domain.errors import FileFormatError, MappingError
from domain.formats.kinds import COLUMNS, DATE_FIELDS, REQUIRED, ExportKind
from domain.formats.readers import DELIMITERS, FORMATS, Format, TableReader
from domain.formats.results import CanonicalRow, FieldError, Rejection
from domain.identifiers.address import HyphenLetter
from domain.text_files import TextInputError, read_utf8

__all__ = [
    "FIXABLE_FIELDS",
    "Binding",
    "PartnerMapping",
    "bind_columns",
    "iter_canonical_rows",
    "load_mapping",
    "parse_mapping",
]

FIXABLE_FIELDS = frozenset({"signal_type", "purpose", "escalated", "reason"})
"""Canonical fields a mapping may fix for every row (never an identifier or a personal field)."""

_ALL_COLUMNS = frozenset(c for cols in COLUMNS.values() for c in cols)
_TOP_KEYS = {
    "mapping_version",
    "partner",
    "partner_kind",
    "kind",
    "format",
    "sheet",
    "encoding",
    "delimiter",
    "columns",
    "ignore",
    "date_format",
    "dates",
    "values",
    "fixed",
    "address",
}
_HYPHEN_MODES = ("reject", "huisletter", "toevoeging")
_PROBE_DATE = date(2024, 12, 31)


@dataclass(frozen=True)
class PartnerMapping:
    """A validated mapping; `PartnerMapping()` is the identity mapping (canonical files)."""

    source: str = "<none>"
    partner: str | None = None
    partner_kind: PartnerKind | None = None
    kind: ExportKind | None = None
    format: Format | None = None
    sheet: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """canonical column -> the partner's column name."""
    ignore: frozenset[str] = frozenset()
    """casefolded partner column names dropped on purpose."""
    date_formats: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    values: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """canonical column -> {partner value (casefolded, trimmed): canonical value}."""
    fixed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hyphen_letter: HyphenLetter = "reject"

    def translate(self, column: str, value: str) -> str:
        """Apply the value codes of `column` to one trimmed value (unknown values pass)."""
        table = self.values.get(column)
        if not table:
            return value
        return table.get(value.strip().casefold(), value)


def load_mapping(path: Path | str) -> PartnerMapping:
    """Read and validate a mapping file; raises `MappingError` naming the file and the key."""
    p = Path(path)
    try:
        text = read_utf8(p, max_bytes=safe_yaml.MAX_YAML_BYTES)
    except TextInputError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise MappingError(f"{p}{where}: cannot read the mapping: {exc}") from None
    except OSError as exc:
        raise MappingError(f"{p}: cannot read the mapping: {exc.strerror}") from None
    try:
        data = safe_yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise MappingError(f"{p}{where}: the mapping is not valid YAML"
                           + (f" ({problem})" if problem else "")) from None
    return parse_mapping(data, source=str(p))


def parse_mapping(data: Any, *, source: str = "<memory>") -> PartnerMapping:
    """Validate an already-parsed mapping document."""

    def fail(key: str, message: str) -> MappingError:
        return MappingError(f"{source}: {key}: {message}")

    if not isinstance(data, dict):
        raise MappingError(f"{source}: a mapping file must be a YAML mapping (key: value)")
    extra = sorted(set(map(str, data)) - _TOP_KEYS)
    if extra:
        raise fail(extra[0], f"unknown key; allowed keys are {', '.join(sorted(_TOP_KEYS))}")
    if data.get("mapping_version") != 1:
        raise fail("mapping_version", "must be 1")

    partner = data.get("partner")
    if partner is not None and not isinstance(partner, str):
        raise fail("partner", "must be text")
    partner_kind = _enum(data, "partner_kind", PartnerKind, fail)
    kind = _enum(data, "kind", ExportKind, fail)
    fmt = data.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise fail("format", f"must be one of {', '.join(FORMATS)}")
    sheet = data.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not sheet.strip()):
        raise fail("sheet", "must be the name of a sheet in the workbook")
    encoding = data.get("encoding", "utf-8")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise fail("encoding", "unknown encoding (use utf-8, cp1252 or iso-8859-15)") from None
    delimiter = data.get("delimiter")
    if delimiter is not None and delimiter not in DELIMITERS:
        raise fail("delimiter", "must be ',', ';' or a tab")

    allowed = frozenset(COLUMNS[kind]) if kind is not None else _ALL_COLUMNS
    kind_name = f"the {kind.value} format" if kind is not None else "any export format"

    columns_raw = _dict(data, "columns", fail)
    columns: dict[str, str] = {}
    taken: dict[str, str] = {}
    for canonical, partner_col in columns_raw.items():
        if canonical not in allowed:
            raise fail(f"columns.{canonical}", f"is not a column of {kind_name}")
        if not isinstance(partner_col, str) or not partner_col.strip():
            raise fail(f"columns.{canonical}", "must name one of the partner's columns")
        key = partner_col.strip().casefold()
        if key in taken:
            raise fail(
                f"columns.{canonical}", f"the partner column is already mapped to {taken[key]}"
            )
        taken[key] = canonical
        columns[canonical] = partner_col.strip()

    ignore_raw = data.get("ignore", [])
    if not isinstance(ignore_raw, list) or not all(isinstance(i, str) for i in ignore_raw):
        raise fail("ignore", "must be a list of column names")
    ignore = frozenset(i.strip().casefold() for i in ignore_raw)
    both = sorted(ignore & set(taken))
    if both:
        raise fail("ignore", "a column cannot be both mapped and ignored")

    date_formats: dict[str, str] = {}
    default_fmt = data.get("date_format")
    if default_fmt is not None:
        _check_date_format(default_fmt, "date_format", fail)
        date_formats = dict.fromkeys(sorted(DATE_FIELDS & allowed), str(default_fmt))
    for name, fmt_value in _dict(data, "dates", fail).items():
        if name not in DATE_FIELDS & allowed:
            raise fail(f"dates.{name}", f"is not a date column of {kind_name}")
        _check_date_format(fmt_value, f"dates.{name}", fail)
        date_formats[name] = fmt_value

    values: dict[str, Mapping[str, str]] = {}
    for name, table in _dict(data, "values", fail).items():
        if name not in allowed:
            raise fail(f"values.{name}", f"is not a column of {kind_name}")
        if not isinstance(table, dict) or not table:
            raise fail(f"values.{name}", "must map the partner's values to canonical values")
        converted: dict[str, str] = {}
        for partner_value, canonical_value in table.items():
            key = _scalar(partner_value).strip().casefold()
            if not key:
                raise fail(f"values.{name}", "an empty value cannot be mapped")
            if key in converted:
                raise fail(f"values.{name}", "a partner value is listed twice (case ignored)")
            converted[key] = _scalar(canonical_value)
        values[name] = MappingProxyType(converted)

    fixed: dict[str, str] = {}
    for name, fixed_value in _dict(data, "fixed", fail).items():
        if name not in FIXABLE_FIELDS or name not in allowed:
            raise fail(
                f"fixed.{name}",
                f"only {', '.join(sorted(FIXABLE_FIELDS & allowed))} can be fixed for {kind_name}",
            )
        if name in columns:
            raise fail(f"fixed.{name}", "is mapped to a column too; choose one")
        fixed[name] = _scalar(fixed_value)

    address = _dict(data, "address", fail)
    extra = sorted(set(address) - {"hyphen_letter"})
    if extra:
        raise fail(f"address.{extra[0]}", "unknown key; only hyphen_letter is allowed")
    hyphen = address.get("hyphen_letter", "reject")
    if hyphen not in _HYPHEN_MODES:
        raise fail("address.hyphen_letter", f"must be one of {', '.join(_HYPHEN_MODES)}")

    return PartnerMapping(
        source=source,
        partner=partner,
        partner_kind=partner_kind,
        kind=kind,
        format=cast("Format | None", fmt),
        sheet=sheet,
        encoding=str(encoding),
        delimiter=delimiter,
        columns=MappingProxyType(columns),
        ignore=ignore,
        date_formats=MappingProxyType(date_formats),
        values=MappingProxyType(values),
        fixed=MappingProxyType(fixed),
        hyphen_letter=cast("HyphenLetter", hyphen),
    )


def _enum(data: Mapping[str, Any], key: str, enum: Any, fail: Any) -> Any:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        raise fail(key, f"must be one of {', '.join(e.value for e in enum)}") from None


def _dict(data: Mapping[str, Any], key: str, fail: Any) -> dict[str, Any]:
    raw = data.get(key, {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail(key, "must be a mapping (key: value)")
    return {str(k): v for k, v in raw.items()}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _check_date_format(fmt: Any, key: str, fail: Any) -> None:
    if not isinstance(fmt, str) or not fmt:
        raise fail(key, "must be a strptime format like %d-%m-%Y")
    directives = set(re.findall(r"%(.)", fmt))
    has_month = bool(directives & {"m", "b", "B"})
    has_year = bool(directives & {"y", "Y"})
    if directives - set("dmyYbBHMSpIf%") or "d" not in directives or not has_month or not has_year:
        raise fail(key, "must be a strptime format with day (%d), month (%m) and year (%Y)")
    try:
        parsed = datetime.strptime(_PROBE_DATE.strftime(fmt), fmt).date()
    except ValueError:
        parsed = None
    if parsed != _PROBE_DATE:
        raise fail(key, "does not read back the dates it writes; check the format")


# --- binding a mapping to a file ---------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """How the columns of one file map onto canonical columns."""

    pairs: tuple[tuple[str, str], ...]
    """(file column, canonical column) for the columns that are read."""
    unnamed: tuple[str, ...] = ()
    """file columns without a name: their values must be empty."""


def bind_columns(
    columns: Sequence[str], kind: ExportKind, mapping: PartnerMapping
) -> tuple[Binding, list[str]]:
    """Match a file's column names to canonical columns; returns the binding and the problems.

    A file column is read as the canonical column it is mapped to, else as the canonical column
    of the same name (case ignored); ignored columns are dropped; anything else is a problem. So
    are missing required columns and a canonical column given twice.
    """
    wanted = COLUMNS[kind]
    by_partner = {v.casefold(): k for k, v in mapping.columns.items()}
    mapped_targets = set(mapping.columns)
    problems: list[str] = []
    pairs: list[tuple[str, str]] = []
    unnamed: list[str] = []
    unknown: list[str] = []
    bound: dict[str, str] = {}
    for name in columns:
        key = name.strip().casefold()
        if not key:
            unnamed.append(name)
            continue
        if key in by_partner:
            canonical = by_partner[key]
        elif key in mapping.ignore:
            continue
        elif key in wanted and key not in mapped_targets:
            canonical = key
        else:
            unknown.append(name)
            continue
        if canonical in mapping.fixed:
            problems.append(
                f"column {name!r} is {canonical}, which the mapping fixes for every row"
            )
            continue
        if canonical in bound:
            problems.append(f"columns {bound[canonical]!r} and {name!r} are both {canonical}")
            continue
        bound[canonical] = name
        pairs.append((name, canonical))
    if unknown:
        listed = ", ".join(repr(u[:60]) for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        problems.append(
            f"column(s) {listed}{more} are not part of the {kind.value} format; map them to a "
            "canonical column in the mapping, or list them under 'ignore' to drop them"
        )
    missing = sorted(REQUIRED[kind] - set(bound) - set(mapping.fixed))
    if missing:
        expected = [repr(mapping.columns[c]) for c in missing if c in mapping.columns]
        hint = f" (the mapping expects {', '.join(expected)})" if expected else ""
        problems.append(f"required column(s) {', '.join(missing)} missing{hint}")
    if (
        kind is ExportKind.SIGNALS
        and "bsn" not in bound
        and not {
            "postcode",
            "huisnummer",
        }
        <= set(bound)
    ):
        problems.append("a signals file needs a bsn column or postcode and huisnummer columns")
    return Binding(tuple(pairs), tuple(unnamed)), problems


def iter_canonical_rows(
    path: Path | str, kind: ExportKind, mapping: PartnerMapping | None = None
) -> Iterator[CanonicalRow | Rejection]:
    """Stream a file's rows under canonical column names, with value codes and fixed values of
    the mapping applied; rows that cannot be read become `Rejection`s.

    Raises `FileFormatError` (on the first `next()`) when the file as a whole cannot be read
    with this mapping: unknown or missing columns in a CSV header, unreadable file.
    """
    m = mapping or PartnerMapping()
    if m.kind is not None and m.kind is not kind:
        raise FileFormatError(
            str(path), 0, f"the mapping {m.source} is for {m.kind.value}, not {kind.value}"
        )
    with TableReader(
        path, fmt=m.format, encoding=m.encoding, delimiter=m.delimiter, sheet=m.sheet
    ) as table:
        display = table.display
        fixed = dict(m.fixed)
        translated = frozenset(m.values)
        binding: Binding | None = None
        if table.header is not None:
            binding, problems = bind_columns(table.header, kind, m)
            if problems:
                raise FileFormatError(display, 1, "; ".join(problems))
        cache: dict[tuple[str, ...], tuple[Binding, list[str]]] = {}
        for raw in table:
            if raw.problem is not None:
                yield Rejection(display, raw.line, (raw.problem,))
                continue
            row_binding = binding
            if row_binding is None:  # JSON Lines: every row names its own keys
                keys = tuple(raw.values)
                if keys not in cache:
                    if len(cache) > 64:
                        cache.clear()
                    cache[keys] = bind_columns(keys, kind, m)
                row_binding, problems = cache[keys]
                if problems:
                    yield Rejection(
                        display,
                        raw.line,
                        tuple(FieldError("row", "row.columns", p) for p in problems),
                    )
                    continue
            src = raw.values
            values = dict(fixed)
            for source_col, canonical in row_binding.pairs:
                value = src[source_col]
                cell_date = raw.dates.get(source_col) if raw.dates else None
                if cell_date is not None and canonical in DATE_FIELDS:
                    # a date cell is a date whatever text format the mapping expects
                    fmt_text = m.date_formats.get(canonical)
                    value = cell_date.strftime(fmt_text) if fmt_text else cell_date.isoformat()
                if canonical in translated:
                    value = m.translate(canonical, value)
                values[canonical] = value
            for source_col in row_binding.unnamed:
                if src.get(source_col, "").strip():
                    yield Rejection(
                        display,
                        raw.line,
                        (
                            FieldError(
                                "row",
                                "row.unnamed_column",
                                "a value stands in a column without a name in the header",
                            ),
                        ),
                    )
                    break
            else:
                yield CanonicalRow(raw.line, values, display)
