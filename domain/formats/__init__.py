"""Partner export formats: streaming readers, per-partner mappings, row validation, reports.

    from domain.formats import read_signals, load_mapping, Rejection
    for result in read_signals("export.csv", load_mapping("mapping.yaml"), "wgs-vroegsignalering"):
        if isinstance(result, Rejection):
            for line in result.lines(): print(line)      # export.csv:14: bsn: BSN fails ...
        else:
            use(result)                                   # a SignalRow, normalised

See docs/formats.md for the formats as a partner's data manager sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from domain.catalogue import Catalogue, PartnerKind
from domain.formats.kinds import COLUMNS, REQUIRED, ExportKind, recognise_kind
from domain.formats.links import HouseholdLinkRow, read_household_links, validate_link
from domain.formats.mapping import (
    PartnerMapping,
    bind_columns,
    iter_canonical_rows,
    load_mapping,
    parse_mapping,
)
from domain.formats.readers import RawRow, TableReader
from domain.formats.report import Counts, JsonReport, NormalisedWriter
from domain.formats.results import CanonicalRow, FieldError, Rejection
from domain.formats.signals import SignalRow, SignalRules, read_signals, validate_signal
from domain.formats.withdrawals import (
    WITHDRAWAL_REASONS,
    WithdrawalRow,
    read_withdrawals,
    validate_withdrawal,
)

__all__ = [
    "COLUMNS",
    "REQUIRED",
    "WITHDRAWAL_REASONS",
    "CanonicalRow",
    "Counts",
    "ExportKind",
    "FieldError",
    "HouseholdLinkRow",
    "JsonReport",
    "NormalisedWriter",
    "PartnerMapping",
    "RawRow",
    "Rejection",
    "SignalRow",
    "SignalRules",
    "TableReader",
    "WithdrawalRow",
    "bind_columns",
    "iter_canonical_rows",
    "load_mapping",
    "parse_mapping",
    "read_export",
    "read_household_links",
    "read_signals",
    "read_withdrawals",
    "recognise_kind",
    "validate_link",
    "validate_signal",
    "validate_withdrawal",
]

AcceptedRow = SignalRow | HouseholdLinkRow | WithdrawalRow


def read_export(
    path: Path | str,
    kind: ExportKind,
    mapping: PartnerMapping | None = None,
    *,
    default_purpose: str | None = None,
    catalogue: Catalogue | None = None,
    partner_kind: PartnerKind | None = None,
    today: date | None = None,
) -> Iterator[AcceptedRow | Rejection]:
    """Stream any export kind (dispatches to `read_signals`, `read_household_links`,
    `read_withdrawals`)."""
    if kind is ExportKind.SIGNALS:
        yield from read_signals(
            path,
            mapping,
            default_purpose,
            catalogue=catalogue,
            partner_kind=partner_kind,
            today=today,
        )
    elif kind is ExportKind.LINKS:
        yield from read_household_links(path, mapping, today=today)
    else:
        yield from read_withdrawals(path, mapping)
