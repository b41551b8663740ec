"""What a policy would do on today's data: the aggregation behind `samenloop policy simulate`.

Pure: the matcher evaluates the policy with the same `evaluate_trigger` it uses for live
matching and passes, per coarse area code (PC4, which the matcher keeps per household; it is not
personal data on its own), how many households it evaluated and the outcome of every household
that could meet the trigger (`services/matcher/simulation.py`). This module only counts, and
suppresses small cells (`policies.suppression`): every count below 5 is "<5", and complementary
cells are suppressed where a total would reveal one.

Two tables, each over the flagged households:
- by combination of life domains (the sorted union of the counted signals' domains);
- by area.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    evaluated: dict[str, int] = {}
    flagged: list[tuple[str, TriggerOutcome]] = []
    for area, outcome in results:
        evaluated[area] = evaluated.get(area, 0) + 1
        if outcome.met:
            flagged.append((area, outcome))
    return summarise_counts(policy, evaluated, flagged, on)


def summarise_counts(
    policy: Policy,
    evaluated_by_area: Mapping[str, int],
    outcomes: Iterable[tuple[str, TriggerOutcome]],
    on: date,
) -> SimulationReport:
    """The report from households evaluated per area and the outcomes of (at least) every
    flagged household; outcomes that are not met are skipped. This is how the matcher
    reports without evaluating households that cannot meet the trigger (ADR 0026).

    Areas outside `policy.scope` are not counted.
    """
    evaluated = 0
    by_area: dict[str, int] = {}
    for area, n in evaluated_by_area.items():
        if n > 0 and policy.scope.covers(area):
            evaluated += n
            by_area[area] = 0
    flagged = 0
    by_domains: dict[tuple[str, ...], int] = {}
    for area, outcome in outcomes:
        if not outcome.met or not policy.scope.covers(area):
            continue
        if area not in by_area:
            raise ValueError(f"a flagged household in area {area!r}, which was not evaluated")
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
