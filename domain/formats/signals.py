"""The canonical signal export: row model, validation, and the streaming reader.

Columns (see docs/formats.md): signal_id, signal_type, observed_on, purpose (optional), bsn,
postcode, huisnummer, huisletter, huisnummertoevoeging, geslachtsnaam, voorvoegsel, voorletters,
geboortedatum, telefoon, email, contactpersoon, escalated (optional).

A row is accepted when every present field is valid and:

- signal_type is in the catalogue and the partner's kind may send it;
- the purpose (the row's, else the mapping's fixed one, else the gateway's default) is one the
  type may be collected under;
- observed_on is not in the future and not so old that the type's retention has already passed
  (such a signal would be purged at once: it is not sent);
- it carries what the type's subject needs: `person` a BSN, `household` a full address,
  `either` at least one (the other may be present too).

The identity fields (names, date of birth, phone, e-mail, contact person) go to the gateway's
vault only; `SignalRow.identity` keeps them apart from what is pseudonymised and sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from domain.catalogue import Catalogue, PartnerKind, Subject, load_catalogue
from domain.errors import InvalidValue
from domain.formats.fields import (
    collect_address,
    collect_bsn,
    collect_date,
    parse_signal_id,
    parse_yes_no,
)
from domain.formats.kinds import COLUMNS, ExportKind
from domain.formats.mapping import PartnerMapping, iter_canonical_rows
from domain.formats.results import FieldError, Rejection
from domain.identifiers.address import Address, HyphenLetter
from domain.identifiers.bsn import Bsn
from domain.identifiers.person import (
    PersonIdentity,
    parse_contactpersoon,
    parse_email,
    parse_geboortedatum,
    parse_geslachtsnaam,
    parse_telefoon,
    parse_voorletters,
    parse_voorvoegsel,
)

__all__ = ["SignalRow", "SignalRules", "read_signals", "validate_signal"]


@dataclass(frozen=True, slots=True)
class SignalRow:
    """An accepted, normalised signal row. `repr()` hides the BSN, address and identity."""

    line: int
    signal_id: str
    signal_type: str
    observed_on: date
    purpose: str
    bsn: Bsn | None
    address: Address | None
    identity: PersonIdentity
    escalated: bool = False

    def canonical(self) -> dict[str, str]:
        """The row in the canonical columns (BSN 9 digits, ISO dates), for a normalised file."""
        a = self.address
        out = {
            "signal_id": self.signal_id,
            "signal_type": self.signal_type,
            "observed_on": self.observed_on.isoformat(),
            "purpose": self.purpose,
            "bsn": self.bsn.value if self.bsn else "",
            "postcode": a.postcode if a else "",
            "huisnummer": str(a.huisnummer) if a else "",
            "huisletter": a.huisletter if a else "",
            "huisnummertoevoeging": a.toevoeging if a else "",
            **self.identity.as_strings(),
            "escalated": "true" if self.escalated else "false",
        }
        return {c: out[c] for c in COLUMNS[ExportKind.SIGNALS]}


@dataclass(frozen=True)
class SignalRules:
    """What a signal row is checked against."""

    catalogue: Catalogue
    partner_kind: PartnerKind | None = None
    """None: the partner kind is not checked (a file checked without a mapping)."""
    default_purpose: str | None = None
    date_formats: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hyphen_letter: HyphenLetter = "reject"
    today: date = field(default_factory=date.today)


_IDENTITY_PARSERS = (
    ("geslachtsnaam", parse_geslachtsnaam),
    ("voorvoegsel", parse_voorvoegsel),
    ("voorletters", parse_voorletters),
    ("telefoon", parse_telefoon),
    ("email", parse_email),
    ("contactpersoon", parse_contactpersoon),
)


def validate_signal(
    values: Mapping[str, str], line: int, rules: SignalRules
) -> SignalRow | tuple[FieldError, ...]:
    """Validate one row given under canonical column names; all problems are returned."""
    errors: list[FieldError] = []
    cat = rules.catalogue

    signal_id = ""
    try:
        signal_id = parse_signal_id(values.get("signal_id", ""))
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))

    type_code = values.get("signal_type", "").strip()
    stype = cat.types.get(type_code)
    if not type_code:
        errors.append(FieldError("signal_type", "signal_type.missing", "signal_type is empty"))
    elif stype is None:
        errors.append(_unknown_type(type_code, cat))
    elif rules.partner_kind is not None and rules.partner_kind not in stype.partner_kinds:
        allowed = ", ".join(sorted(k.value for k in stype.partner_kinds))
        errors.append(
            FieldError(
                "signal_type",
                "signal_type.partner_kind",
                f"signal type {stype.code} may not be sent by a {rules.partner_kind.value} "
                f"partner (only by: {allowed})",
            )
        )

    observed = collect_date(
        values.get("observed_on", ""), "observed_on", rules.date_formats, errors
    )
    if observed is not None:
        if observed > rules.today:
            errors.append(
                FieldError("observed_on", "observed_on.future", "observed_on lies in the future")
            )
        elif stype is not None and (rules.today - observed).days > stype.retention_days:
            errors.append(
                FieldError(
                    "observed_on",
                    "observed_on.expired",
                    f"observed_on is older than the retention of {stype.code} "
                    f"({stype.retention_days} days); the signal would be deleted at once, so it "
                    "is not sent",
                )
            )

    purpose = values.get("purpose", "").strip() or rules.default_purpose or ""
    if not purpose:
        errors.append(
            FieldError(
                "purpose",
                "purpose.missing",
                "no purpose in the row, the mapping or the gateway's default purpose",
            )
        )
    elif purpose not in cat.purposes:
        errors.append(
            FieldError(
                "purpose",
                "purpose.unknown",
                f"purpose is not one of the catalogue's purposes ({', '.join(cat.purposes)})",
            )
        )
    elif stype is not None and purpose not in stype.purposes:
        errors.append(
            FieldError(
                "purpose",
                "purpose.not_allowed",
                f"signal type {stype.code} may not be collected under purpose {purpose} "
                f"(only: {', '.join(sorted(stype.purposes))})",
            )
        )

    bsn = collect_bsn(values.get("bsn", ""), errors)
    address = collect_address(values, rules.hyphen_letter, errors)
    if stype is not None:
        bsn_given = bool(values.get("bsn", "").strip())
        addr_given = any(
            values.get(c, "").strip()
            for c in ("postcode", "huisnummer", "huisletter", "huisnummertoevoeging")
        )
        if stype.subject is Subject.PERSON and not bsn_given:
            errors.append(
                FieldError(
                    "bsn",
                    "bsn.missing",
                    f"signal type {stype.code} concerns a person: a BSN is required",
                )
            )
        elif stype.subject is Subject.HOUSEHOLD and not addr_given:
            errors.append(
                FieldError(
                    "postcode",
                    "address.missing",
                    f"signal type {stype.code} concerns a household: postcode and huisnummer "
                    "are required",
                )
            )
        elif stype.subject is Subject.EITHER and not (bsn_given or addr_given):
            errors.append(
                FieldError(
                    "bsn",
                    "identifier.missing",
                    f"signal type {stype.code} needs a BSN or an address (postcode and "
                    "huisnummer), or both",
                )
            )

    identity_values: dict[str, object] = {}
    for name, parse in _IDENTITY_PARSERS:
        raw = values.get(name, "")
        if raw.strip():
            try:
                identity_values[name] = parse(raw)
            except InvalidValue as exc:
                errors.append(FieldError(exc.field, exc.code, exc.reason))
    raw_born = values.get("geboortedatum", "")
    if raw_born.strip():
        try:
            identity_values["geboortedatum"] = parse_geboortedatum(
                raw_born, rules.date_formats.get("geboortedatum"), today=rules.today
            )
        except InvalidValue as exc:
            errors.append(FieldError(exc.field, exc.code, exc.reason))

    escalated = False
    try:
        escalated = parse_yes_no(values.get("escalated", ""), "escalated")
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))

    if errors or observed is None or stype is None:
        return tuple(errors)
    return SignalRow(
        line=line,
        signal_id=signal_id,
        signal_type=stype.code,
        observed_on=observed,
        purpose=purpose,
        bsn=bsn,
        address=address,
        identity=PersonIdentity(**identity_values),  # type: ignore[arg-type]
        escalated=escalated,
    )


def _unknown_type(code: str, cat: Catalogue) -> FieldError:
    close = difflib.get_close_matches(code.casefold(), list(cat.types), n=1, cutoff=0.8)
    hint = f"; did you mean {close[0]}?" if close else ""
    return FieldError(
        "signal_type",
        "signal_type.unknown",
        f"signal type is not in signal catalogue {cat.version}{hint} (a partner's own codes are "
        "translated under values.signal_type in the mapping)",
    )


def read_signals(
    path: Path | str,
    mapping: PartnerMapping | None = None,
    default_purpose: str | None = None,
    *,
    catalogue: Catalogue | None = None,
    partner_kind: PartnerKind | None = None,
    today: date | None = None,
) -> Iterator[SignalRow | Rejection]:
    """Stream a signal export: every row becomes a `SignalRow` or a `Rejection`, in file order.

    `partner_kind` overrides the mapping's; with neither, the partner kind is not checked.
    Raises `FileFormatError` on the first `next()` if the file cannot be read at all.
    """
    m = mapping or PartnerMapping()
    rules = SignalRules(
        catalogue=catalogue or load_catalogue(),
        partner_kind=partner_kind or m.partner_kind,
        default_purpose=default_purpose,
        date_formats=m.date_formats,
        hyphen_letter=m.hyphen_letter,
        today=today or date.today(),
    )
    display = str(path)
    for item in iter_canonical_rows(path, ExportKind.SIGNALS, m):
        if isinstance(item, Rejection):
            yield item
            continue
        result = validate_signal(item.values, item.line, rules)
        yield (
            result
            if isinstance(result, SignalRow)
            else Rejection(item.source or display, item.line, result)
        )
