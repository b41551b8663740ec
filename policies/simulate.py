"""What a policy would do on today's data: the aggregation behind `samenloop policy simulate`.

Pure: the matcher evaluates the policy for every household in scope with the same
`evaluate_trigger` it uses for live matching, and passes each outcome with the household's
coarse area code (PC4, which the matcher keeps per household; it is not personal data on its
own). This module only counts, and suppresses small cells (`policies.suppression`): every count
below 5 is "<5", and complementary cells are suppressed where a total would reveal one.

Two tables, each over the flagged households:
- by combination of life domains (the sorted union of the counted signals' domains);
- by area.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from policies.model import Policy
from policies.suppression import Count, suppress_table, suppress_total
from policies.trigger import TriggerOutcome


@dataclass(frozen=True)
class DomainCell:
    domains: tuple[str, ...]
    households: Count


@dataclass(frozen=True)
class AreaCell:
    area_code: str
    households: Count


@dataclass(frozen=True)
class SimulationReport:
    policy_id: str
    evaluate_on: date
    households_evaluated: Count
    households_flagged: Count
    by_domains: tuple[DomainCell, ...]
    """Sorted by count (largest first; suppressed last), then by domains."""
    by_area: tuple[AreaCell, ...]
    """Every evaluated area in scope, sorted by area code."""


def summarise_simulation(
    policy: Policy, results: Iterable[tuple[str, TriggerOutcome]], on: date
) -> SimulationReport:
    """Aggregate per-household outcomes `(area_code, outcome)` into a suppressed report.

    Households whose area is outside `policy.scope` are not counted (the matcher should not
    evaluate them; this is the second check).
    """
    evaluated = 0
    flagged = 0
    by_domains: dict[tuple[str, ...], int] = {}
    by_area: dict[str, int] = {}
    for area, outcome in results:
        if not policy.scope.covers(area):
            continue
        evaluated += 1
        by_area.setdefault(area, 0)
        if not outcome.met:
            continue
        flagged += 1
        combo = tuple(sorted(outcome.domains))
        by_domains[combo] = by_domains.get(combo, 0) + 1
        by_area[area] += 1
    domain_counts = suppress_table(by_domains)
    area_counts = suppress_table(by_area)
    return SimulationReport(
        policy_id=policy.id,
        evaluate_on=on,
        households_evaluated=suppress_total(evaluated),
        households_flagged=suppress_total(flagged),
        by_domains=tuple(
            sorted(
                (DomainCell(combo, c) for combo, c in domain_counts.items()),
                key=lambda cell: (cell.households.suppressed, -cell.households.value, cell.domains),
            )
        ),
        by_area=tuple(AreaCell(a, area_counts[a]) for a in sorted(area_counts)),
    )
