"""What every PartnerService batch does first: validate each row and drop a repeat of an id
within the batch. Shared by signals (`signal_steps`) and household links (`link_steps`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from services.matcher.validation import Rejection
from services.matcher.views import DUPLICATE, REJECTED, RowOutcome

V = TypeVar("V")


def validate(
    rows: Sequence[Any], check: Callable[[Any], V | Rejection], id_field: str
) -> tuple[list[RowOutcome | None], list[tuple[int, V]]]:
    """Per-row outcomes for rejected rows and repeats of an id (`id_field`, e.g. `signal_id`)
    within the batch; the valid rows by position."""
    results: list[RowOutcome | None] = [None] * len(rows)
    valid: list[tuple[int, V]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        checked = check(row)
        row_id = getattr(row, id_field)
        if isinstance(checked, Rejection):
            results[i] = RowOutcome(row_id, REJECTED, checked.code, checked.reason)
        elif getattr(checked, id_field) in seen:
            results[i] = RowOutcome(
                row_id, DUPLICATE, "duplicate_in_batch",
                f"the same {id_field} appears earlier in this batch",
            )
        else:
            seen.add(getattr(checked, id_field))
            valid.append((i, checked))
    return results, valid
