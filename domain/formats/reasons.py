"""Every reason code a rejected export row can carry (`bsn.elfproef`), in one registry.

A code (`bsn.elfproef`) is what the counts, the JSON report and a helpdesk work with; the
sentence next to it in a rejection is for the data manager. docs/formats.md lists the same
codes with what to do about each, and tests/domain/test_reason_codes.py checks that the table,
this registry and what the readers actually emit agree: a new rule that rejects rows must be
added here and documented there.

Identity fields (names, phone, e-mail) and dates share their rules, so several fields carry the
same suffix (`telefoon.length`, `email.length`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["REASON_CODES"]

_DATE_RULES = {
    "missing": "the date is empty",
    "format": "not a date in the expected form (or a spreadsheet serial number)",
    "invalid": "not an existing date (2026-02-30)",
    "incomplete": "a BRP date with 00 for the day or month",
}

_NAME_RULES = {
    "characters": "a character a name cannot hold (digits, symbols, control characters)",
    "length": "longer than the field allows",
}

_CODES: dict[str, str] = {
    # the row as a whole (readers)
    "row.unreadable": "the row cannot be read (a NUL byte: not a text file)",
    "row.quote": "a quoted value is not closed; the lines after it are read on their own",
    "row.too_long": "a value longer than 131072 characters (usually a quote that is missing)",
    "row.field_count": "more or fewer values than the header has columns",
    "row.encoding": "the row is not valid text in the file's encoding",
    "row.json": "a JSON Lines line that is not a JSON object",
    "row.nested": "a JSON Lines value that is a list or an object",
    "row.columns": "a JSON Lines line with unknown keys or without a required one",
    "row.unnamed_column": "a value in a column that has no name in the header",
    # signal id, type, purpose, date
    "signal_id.missing": "the signal_id is empty",
    "signal_id.format": "the signal_id has spaces or other characters it may not hold",
    "signal_id.personal": "the signal_id is a valid BSN",
    "signal_type.missing": "the signal_type is empty",
    "signal_type.unknown": "not a code of the signal catalogue",
    "signal_type.partner_kind": "this kind of partner may not send this type",
    "purpose.missing": "no purpose in the row, the mapping or the gateway's default",
    "purpose.unknown": "not a purpose of the catalogue",
    "purpose.not_allowed": "the type may not be collected under this purpose",
    **{f"observed_on.{k}": v for k, v in _DATE_RULES.items()},
    "observed_on.future": "observed_on lies in the future",
    "observed_on.expired": "older than the type's retention: it would be deleted at once",
    "escalated.invalid": "not a yes/no value",
    # identifiers
    "identifier.missing": "the type needs a BSN or an address and the row has neither",
    "bsn.missing": "the type (or a household link) needs a BSN and the row has none",
    "bsn.characters": "the BSN holds something other than digits, spaces and dots",
    "bsn.length": "not 9 digits (8 is read as a dropped leading zero)",
    "bsn.elfproef": "the BSN fails the check digit",
    "bsn.zero": "the BSN is all zeros",
    "bsn.scientific": "the spreadsheet wrote the BSN in scientific notation",
    "bsn.decimal": "the spreadsheet wrote the BSN with decimals",
    "address.missing": "the type (or a household link) needs an address and the row has none",
    "postcode.missing": "an address without a postcode",
    "postcode.format": "not 4 digits and 2 letters, or starting with 0",
    "postcode.letters": "letters that no postcode has (SA, SD, SS)",
    "huisnummer.missing": "an address without a huisnummer",
    "huisnummer.format": "not a house number (with letter or addition)",
    "huisnummer.characters": "a character a house number cannot hold",
    "huisnummer.range": "outside 1 to 99999",
    "huisnummer.ambiguous": "can be read in two ways (12-A, 12 A2)",
    "huisnummer.floor": "a floor (12 hoog) instead of a BAG addition",
    "huisnummer.toevoeging_length": "the addition in the huisnummer is longer than 4 characters",
    "huisnummer.conflict": "a letter or addition given in huisnummer and in its own column",
    "huisletter.format": "not one letter",
    "huisnummertoevoeging.format": "not a BAG addition (1 to 4 letters or digits)",
    "huisnummertoevoeging.characters": "a character an addition cannot hold",
    "huisnummertoevoeging.toevoeging_length": "the addition is longer than 4 characters",
    # identity (kept in the gateway's vault)
    **{f"geslachtsnaam.{k}": v for k, v in _NAME_RULES.items()},
    **{f"voorvoegsel.{k}": v for k, v in _NAME_RULES.items()},
    **{f"voorletters.{k}": v for k, v in _NAME_RULES.items()},
    **{f"contactpersoon.{k}": v for k, v in _NAME_RULES.items()},
    **{f"geboortedatum.{k}": v for k, v in _DATE_RULES.items() if k != "missing"},
    "geboortedatum.future": "the date of birth lies in the future",
    "geboortedatum.range": "a date of birth before 1880",
    "telefoon.characters": "a character a phone number cannot hold",
    "telefoon.format": "not a Dutch or international (+..) phone number",
    "telefoon.length": "too many or too few digits",
    "email.characters": "a character an e-mail address cannot hold",
    "email.format": "not an e-mail address (name@domain)",
    "email.domain": "the part after @ is not a domain name",
    "email.length": "longer than 254 characters",
    # household links and withdrawals
    **{f"valid_from.{k}": v for k, v in _DATE_RULES.items()},
    "valid_from.future": "valid_from lies in the future",
    "reason.unknown": "not one of the withdrawal reasons",
}

REASON_CODES: Mapping[str, str] = MappingProxyType(dict(sorted(_CODES.items())))
"""Reason code -> what it means, for every code a reader can put on a rejected row."""
