"""Fairness monitoring: is one neighbourhood flagged out of proportion?

For one policy, per area: the signals the policy can see and the alerts it raised. The relative
rate of an area is (alerts / signals in the area) / (alerts / signals overall): 1.0 means the
area is flagged in proportion to its signals, 2.0 twice as often. Pure; the matcher supplies
the counts.

Counts are suppressed per column (`policies.suppression`, k = 5, complementary cells included).
A relative rate is shown only when both counts of the area are shown. The overall rate (all
areas) can be recovered from any shown row; it is one equation in the hidden alerts and hidden
signals together, so with complementary suppression no single hidden cell can be computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policies.suppression import Count, suppress_table

DISPROPORTION_THRESHOLD = 1.5
"""A reading aid, not a verdict: areas at or above this relative rate are marked in the CLI."""


@dataclass(frozen=True)
class FairnessRow:
    area_code: str
    signals: Count
    alerts: Count
    relative_rate: float | None
    """None when suppressed or undefined (no signals anywhere)."""

    @property
    def disproportionate(self) -> bool:
        return self.relative_rate is not None and self.relative_rate >= DISPROPORTION_THRESHOLD


@dataclass(frozen=True)
class FairnessReport:
    policy_id: str
    rows: tuple[FairnessRow, ...]
    """Sorted by area code."""


def fairness_report(
    policy_id: str, signals_per_area: Mapping[str, int], alerts_per_area: Mapping[str, int]
) -> FairnessReport:
    """Build the suppressed fairness report. Areas missing from one mapping count 0 there."""
    areas = sorted(set(signals_per_area) | set(alerts_per_area))
    signals = {a: signals_per_area.get(a, 0) for a in areas}
    alerts = {a: alerts_per_area.get(a, 0) for a in areas}
    total_signals = sum(signals.values())
    total_alerts = sum(alerts.values())
    overall = total_alerts / total_signals if total_signals else None
    shown_signals = suppress_table(signals)
    shown_alerts = suppress_table(alerts)
    rows = []
    for a in areas:
        s, al = shown_signals[a], shown_alerts[a]
        rate: float | None = None
        if not s.suppressed and not al.suppressed and overall and signals[a]:
            rate = round((alerts[a] / signals[a]) / overall, 2)
        rows.append(FairnessRow(a, s, al, rate))
    return FairnessReport(policy_id, tuple(rows))
