"""Row validation of submitted signals and links: pure functions, one reason per rejection.

Reasons name the field and the rule, never a value a partner might have filled with personal
data. The reason codes are part of the API (proto RowResult.reason_code) and listed in
docs/matcher.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from domain.catalogue import Catalogue, Subject
from services.matcher.settings import PartnerEntry

VOPRF_OUTPUT_BYTES = 64
MAX_ID_LENGTH = 128
_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
_AREA = re.compile(r"^[1-9][0-9]{3}$")


@dataclass(frozen=True)
class Rejection:
    code: str
    reason: str


@dataclass(frozen=True)
class PseudonymIn:
    voprf_output: bytes
    key_id: str


@dataclass(frozen=True)
class SignalIn:
    """A submitted signal as the servicer parsed it from protobuf (still unvalidated)."""

    signal_id: str
    signal_type: str
    observed_on: str
    purpose: str
    household: PseudonymIn | None
    person: PseudonymIn | None
    escalated: bool
    area_code: str
    catalogue_version: str


@dataclass(frozen=True)
class ValidSignal:
    signal_id: str
    signal_type: str
    observed_on: date
    purpose: str
    household: PseudonymIn | None
    person: PseudonymIn | None
    escalated: bool
    area_code: str | None
    domains: frozenset[str]
    expires_on: date
    catalogue_version: str


@dataclass(frozen=True)
class LinkIn:
    link_id: str
    person: PseudonymIn | None
    household: PseudonymIn | None
    valid_from: str
    area_code: str


@dataclass(frozen=True)
class ValidLink:
    link_id: str
    person: PseudonymIn
    household: PseudonymIn
    valid_from: date
    area_code: str | None


def check_id(value: str, what: str) -> Rejection | None:
    if not value:
        return Rejection(f"missing_{what}", f"{what} is required")
    if not _ID.match(value):
        return Rejection(
            f"invalid_{what}",
            f"{what} must be 1-{MAX_ID_LENGTH} printable ASCII characters without spaces",
        )
    return None


def check_pseudonym(p: PseudonymIn, what: str, accepted: frozenset[str]) -> Rejection | None:
    if len(p.voprf_output) != VOPRF_OUTPUT_BYTES:
        return Rejection(
            "invalid_pseudonym",
            f"{what}.voprf_output must be {VOPRF_OUTPUT_BYTES} bytes, got {len(p.voprf_output)}",
        )
    if p.key_id not in accepted:
        return Rejection(
            "unknown_pseudonymiser_key",
            f"{what}.key_id {p.key_id!r} is not a pseudonymiser key this matcher accepts",
        )
    return None


def check_area(area: str) -> Rejection | None:
    if area and not _AREA.match(area):
        return Rejection("invalid_area_code", "area_code must be a 4-digit PC4 code or empty")
    return None


def parse_date(value: str, what: str) -> date | Rejection:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        return Rejection("invalid_date", f"{what} must be an ISO date YYYY-MM-DD")


def validate_signal(
    row: SignalIn,
    partner: PartnerEntry,
    catalogue: Catalogue,
    accepted_key_ids: frozenset[str],
    today: date,
) -> ValidSignal | Rejection:
    """Check one signal against the catalogue and the partner's registration."""
    bad = check_id(row.signal_id, "signal_id")
    if bad:
        return bad
    if row.signal_type not in catalogue:
        return Rejection(
            "unknown_signal_type",
            f"signal_type {row.signal_type[:64]!r} is not in catalogue {catalogue.version}",
        )
    stype = catalogue.get(row.signal_type)
    if not stype.may_be_sent_by(partner.kind):
        return Rejection(
            "type_not_allowed_for_partner_kind",
            f"a {partner.kind} partner may not submit {stype.code} "
            f"(allowed: {', '.join(sorted(stype.partner_kinds))})",
        )
    if row.purpose not in partner.purposes:
        return Rejection(
            "purpose_not_allowed",
            f"purpose {row.purpose[:64]!r} is not registered for partner {partner.organisation}",
        )
    if not stype.allows_purpose(row.purpose):
        return Rejection(
            "purpose_not_allowed_for_type",
            f"{stype.code} may not be collected under purpose {row.purpose}",
        )
    observed = parse_date(row.observed_on, "observed_on")
    if isinstance(observed, Rejection):
        return observed
    if observed > today:
        return Rejection("observed_in_future", "observed_on is after today")
    expires_on = date.fromordinal(observed.toordinal() + stype.retention_days)
    if expires_on < today:
        return Rejection(
            "expired",
            f"observed_on is older than the {stype.retention_days}-day retention of {stype.code}",
        )
    if row.household is None and row.person is None:
        return Rejection("missing_pseudonym", "a household or a person pseudonym is required")
    if stype.subject is Subject.PERSON and row.person is None:
        return Rejection("missing_pseudonym", f"{stype.code} concerns a person: person is required")
    if stype.subject is Subject.HOUSEHOLD and row.household is None:
        return Rejection(
            "missing_pseudonym", f"{stype.code} concerns a household: household is required"
        )
    for what, p in (("household", row.household), ("person", row.person)):
        if p is not None:
            bad = check_pseudonym(p, what, accepted_key_ids)
            if bad:
                return bad
    bad = check_area(row.area_code)
    if bad:
        return bad
    return ValidSignal(
        signal_id=row.signal_id,
        signal_type=stype.code,
        observed_on=observed,
        purpose=row.purpose,
        household=row.household,
        person=row.person,
        escalated=row.escalated,
        area_code=row.area_code or None,
        domains=frozenset(str(d) for d in stype.domains),
        expires_on=expires_on,
        catalogue_version=row.catalogue_version or catalogue.version,
    )


def validate_link(row: LinkIn, accepted_key_ids: frozenset[str]) -> ValidLink | Rejection:
    bad = check_id(row.link_id, "link_id")
    if bad:
        return bad
    if row.person is None or row.household is None:
        return Rejection("missing_pseudonym", "a link needs both person and household")
    for what, p in (("person", row.person), ("household", row.household)):
        bad = check_pseudonym(p, what, accepted_key_ids)
        if bad:
            return bad
    valid_from = parse_date(row.valid_from, "valid_from")
    if isinstance(valid_from, Rejection):
        return valid_from
    bad = check_area(row.area_code)
    if bad:
        return bad
    return ValidLink(row.link_id, row.person, row.household, valid_from, row.area_code or None)
