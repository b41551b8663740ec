"""The three export kinds and their canonical columns."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = [
    "ADDRESS_COLUMNS",
    "COLUMNS",
    "DATE_FIELDS",
    "IDENTITY_COLUMNS",
    "REQUIRED",
    "ExportKind",
    "recognise_kind",
]


class ExportKind(StrEnum):
    """What an export file holds."""

    SIGNALS = "signals"
    """Signals: one row per observed signal (all partners)."""
    LINKS = "links"
    """Household links from the BRP: person -> address, with a date (municipality only)."""
    WITHDRAWALS = "withdrawals"
    """Withdrawals of earlier signals by their signal_id."""


ADDRESS_COLUMNS = ("postcode", "huisnummer", "huisletter", "huisnummertoevoeging")
IDENTITY_COLUMNS = (
    "geslachtsnaam",
    "voorvoegsel",
    "voorletters",
    "geboortedatum",
    "telefoon",
    "email",
    "contactpersoon",
)

COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.SIGNALS: (
        "signal_id",
        "signal_type",
        "observed_on",
        "purpose",
        "bsn",
        *ADDRESS_COLUMNS,
        *IDENTITY_COLUMNS,
        "escalated",
    ),
    ExportKind.LINKS: ("bsn", *ADDRESS_COLUMNS, "valid_from"),
    ExportKind.WITHDRAWALS: ("signal_id", "reason"),
}
"""The canonical columns of each kind, in the order of a normalised file."""

REQUIRED: dict[ExportKind, frozenset[str]] = {
    ExportKind.SIGNALS: frozenset({"signal_id", "signal_type", "observed_on"}),
    ExportKind.LINKS: frozenset({"bsn", "postcode", "huisnummer", "valid_from"}),
    ExportKind.WITHDRAWALS: frozenset({"signal_id"}),
}
"""Columns a file of each kind must have (as a column, or as a fixed value in the mapping)."""

DATE_FIELDS = frozenset({"observed_on", "geboortedatum", "valid_from"})
"""Fields read as dates; a mapping may give their format."""


def recognise_kind(columns: Iterable[str]) -> ExportKind | None:
    """The one kind whose canonical columns a header uses: every required column of the kind is
    there and no column is foreign to it (case ignored, unnamed columns skipped). None when no
    kind, or more than one, fits (then the caller must be told, e.g. with --kind)."""
    names = {c.strip().casefold() for c in columns} - {""}
    fits = [k for k in ExportKind if REQUIRED[k] <= names <= set(COLUMNS[k])]
    return fits[0] if len(fits) == 1 else None
