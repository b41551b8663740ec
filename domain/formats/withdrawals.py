"""Withdrawals: signals a partner takes back (arrears paid, report retracted, registered in
error), by `signal_id`, with an optional reason code from a closed list (no free text)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from domain.codes import load_codes
from domain.errors import InvalidValue
from domain.formats.fields import parse_signal_id
from domain.formats.kinds import ExportKind
from domain.formats.mapping import PartnerMapping, iter_canonical_rows
from domain.formats.results import FieldError, Rejection

__all__ = ["WITHDRAWAL_REASONS", "WithdrawalRow", "read_withdrawals", "validate_withdrawal"]

WITHDRAWAL_REASONS: Mapping[str, str] = MappingProxyType(
    {c.code: c.label_en for c in load_codes().withdrawal_reason.codes.values()})
"""Reason codes of a withdrawal and what they mean (the `withdrawal_reason` list of
`domain/codes.yaml`, the one the matcher checks too)."""


@dataclass(frozen=True, slots=True)
class WithdrawalRow:
    line: int
    signal_id: str
    reason: str | None = None

    def canonical(self) -> dict[str, str]:
        return {"signal_id": self.signal_id, "reason": self.reason or ""}


def validate_withdrawal(
    values: Mapping[str, str], line: int
) -> WithdrawalRow | tuple[FieldError, ...]:
    errors: list[FieldError] = []
    signal_id = ""
    try:
        signal_id = parse_signal_id(values.get("signal_id", ""))
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))
    reason = values.get("reason", "").strip().casefold() or None
    if reason is not None and reason not in WITHDRAWAL_REASONS:
        errors.append(
            FieldError(
                "reason",
                "reason.unknown",
                f"reason must be empty or one of: {', '.join(WITHDRAWAL_REASONS)}",
            )
        )
    if errors:
        return tuple(errors)
    return WithdrawalRow(line, signal_id, reason)


def read_withdrawals(
    path: Path | str, mapping: PartnerMapping | None = None
) -> Iterator[WithdrawalRow | Rejection]:
    """Stream a withdrawals file; rows become `WithdrawalRow`s or `Rejection`s."""
    display = str(path)
    for item in iter_canonical_rows(path, ExportKind.WITHDRAWALS, mapping):
        if isinstance(item, Rejection):
            yield item
            continue
        result = validate_withdrawal(item.values, item.line)
        yield (
            result
            if isinstance(result, WithdrawalRow)
            else Rejection(item.source or display, item.line, result)
        )
