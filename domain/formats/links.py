"""The household-link export of the municipality (from the BRP).

Columns: bsn, postcode, huisnummer, huisletter, huisnummertoevoeging, valid_from. Each row says
that the person with this BSN lives at this address from `valid_from` on, so that signals about
a person land on the right household. All of bsn, the address and valid_from are required;
valid_from may not lie in the future.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from domain.formats.fields import collect_address, collect_bsn, collect_date
from domain.formats.kinds import ExportKind
from domain.formats.mapping import PartnerMapping, iter_canonical_rows
from domain.formats.results import FieldError, Rejection
from domain.identifiers.address import Address, HyphenLetter
from domain.identifiers.bsn import Bsn

__all__ = ["HouseholdLinkRow", "read_household_links", "validate_link"]


@dataclass(frozen=True, slots=True)
class HouseholdLinkRow:
    """An accepted household link. `repr()` hides the BSN and the address."""

    line: int
    bsn: Bsn
    address: Address
    valid_from: date

    def canonical(self) -> dict[str, str]:
        return {
            "bsn": self.bsn.value,
            "postcode": self.address.postcode,
            "huisnummer": str(self.address.huisnummer),
            "huisletter": self.address.huisletter,
            "huisnummertoevoeging": self.address.toevoeging,
            "valid_from": self.valid_from.isoformat(),
        }


def validate_link(
    values: Mapping[str, str],
    line: int,
    *,
    date_formats: Mapping[str, str] | None = None,
    hyphen_letter: HyphenLetter = "reject",
    today: date | None = None,
) -> HouseholdLinkRow | tuple[FieldError, ...]:
    errors: list[FieldError] = []
    if not values.get("bsn", "").strip():
        errors.append(FieldError("bsn", "bsn.missing", "a household link needs a BSN"))
    bsn = collect_bsn(values.get("bsn", ""), errors)
    address = collect_address(values, hyphen_letter, errors)
    if address is None and not any(e.field in ("postcode", "huisnummer") for e in errors):
        errors.append(
            FieldError(
                "postcode",
                "address.missing",
                "a household link needs an address (postcode and huisnummer)",
            )
        )
    valid_from = collect_date(
        values.get("valid_from", ""), "valid_from", date_formats or {}, errors
    )
    if valid_from is not None and valid_from > (today or date.today()):
        errors.append(
            FieldError("valid_from", "valid_from.future", "valid_from lies in the future")
        )
    if errors or bsn is None or address is None or valid_from is None:
        return tuple(errors)
    return HouseholdLinkRow(line, bsn, address, valid_from)


def read_household_links(
    path: Path | str, mapping: PartnerMapping | None = None, *, today: date | None = None
) -> Iterator[HouseholdLinkRow | Rejection]:
    """Stream a household-link export; rows become `HouseholdLinkRow`s or `Rejection`s."""
    m = mapping or PartnerMapping()
    display = str(path)
    for item in iter_canonical_rows(path, ExportKind.LINKS, m):
        if isinstance(item, Rejection):
            yield item
            continue
        result = validate_link(
            item.values,
            item.line,
            date_formats=m.date_formats,
            hyphen_letter=m.hyphen_letter,
            today=today,
        )
        yield (
            result
            if isinstance(result, HouseholdLinkRow)
            else Rejection(item.source or display, item.line, result)
        )
