"""Identifier normalisation: BSN, address (BAG parts), and the identity-vault person fields.

Pure functions; each raises `domain.errors.InvalidValue(field, reason, code=...)` and never puts
the value into the reason.
"""

from domain.identifiers.address import (
    Address,
    HyphenLetter,
    parse_address,
    parse_huisletter,
    parse_huisnummer,
    parse_postcode,
    parse_toevoeging,
)
from domain.identifiers.bsn import Bsn, elfproef, parse_bsn
from domain.identifiers.person import (
    PersonIdentity,
    normalise_text,
    parse_contactpersoon,
    parse_date,
    parse_email,
    parse_geboortedatum,
    parse_geslachtsnaam,
    parse_telefoon,
    parse_voorletters,
    parse_voorvoegsel,
)

__all__ = [
    "Address",
    "Bsn",
    "HyphenLetter",
    "PersonIdentity",
    "elfproef",
    "normalise_text",
    "parse_address",
    "parse_bsn",
    "parse_contactpersoon",
    "parse_date",
    "parse_email",
    "parse_geboortedatum",
    "parse_geslachtsnaam",
    "parse_huisletter",
    "parse_huisnummer",
    "parse_postcode",
    "parse_telefoon",
    "parse_toevoeging",
    "parse_voorletters",
    "parse_voorvoegsel",
]
