"""Small-cell suppression for everything a policy report shows (k = 5).

Primary suppression: every count below `K` (0 included) is shown as "<5", never as a number.

Complementary (secondary) suppression: when a table's cells add up to a total that is shown (or
can be derived elsewhere), one suppressed cell could be computed by subtraction. So within a
table, as long as suppressed cells exist and either only one is suppressed or the suppressed
cells together hold fewer than `K`, the smallest shown cell is suppressed as well (ties broken by
label, so the result is deterministic). Afterwards nobody can compute a suppressed cell exactly,
and the suppressed cells together hold at least `K` (unless the whole table is suppressed, in
which case its total is below `K` and is itself suppressed).

Known limit: suppression protects one report. Many simulations of slightly different policies
can still be differenced; that is why every simulation is logged with the officer who ran it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

K = 5
SUPPRESSED_DISPLAY = f"<{K}"

L = TypeVar("L", bound=Hashable)


@dataclass(frozen=True)
class Count:
    """A count as shown: the number, or suppressed. `value` is 0 when suppressed."""

    value: int
    suppressed: bool

    @property
    def display(self) -> str:
        return SUPPRESSED_DISPLAY if self.suppressed else str(self.value)

    @classmethod
    def shown(cls, n: int) -> Count:
        return cls(n, False)

    @classmethod
    def hidden(cls) -> Count:
        return cls(0, True)


def suppress_total(n: int) -> Count:
    """A single count with primary suppression only."""
    if n < 0:
        raise ValueError("a count cannot be negative")
    return Count.hidden() if n < K else Count.shown(n)


def suppress_table(cells: Mapping[L, int], *, sort_key: object = None) -> dict[L, Count]:
    """Primary and complementary suppression of one additive table (`label -> count`).

    Requires every count >= 0. The returned mapping has the same labels.
    """
    if any(n < 0 for n in cells.values()):
        raise ValueError("a count cannot be negative")
    hidden = {label for label, n in cells.items() if n < K}

    def hidden_sum() -> int:
        return sum(cells[label] for label in hidden)

    while hidden and (len(hidden) == 1 or hidden_sum() < K):
        candidates = [label for label in cells if label not in hidden]
        if not candidates:
            break
        smallest = min(candidates, key=lambda label: (cells[label], repr(label)))
        hidden.add(smallest)
    return {
        label: Count.hidden() if label in hidden else Count.shown(n) for label, n in cells.items()
    }
