"""The library policies' trigger rules, read and applied over the generator's own model.

This is deliberately a second, plain implementation of docs/policies.md "Trigger semantics"
(it never imports `policies.trigger` or the matcher): `truth.json` is the oracle the demo
measures the real system against, so it must not share the code it checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from domain import safe_yaml
from domain.catalogue import Catalogue

__all__ = [
    "LIBRARY_DIR",
    "PolicyRule",
    "distinct_domains",
    "load_library",
    "trigger_met",
]

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "policies" / "library"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """What the truth needs of a policy: mode, purposes, scope, validity and the trigger."""

    policy_id: str
    version: int
    mode: str
    purposes: frozenset[str]
    areas: frozenset[str]
    valid_from: date
    valid_until: date
    window_days: int
    min_domains: int
    min_signals: int
    required_types: frozenset[str] = frozenset()
    excluded_types: frozenset[str] = frozenset()
    min_per_domain: tuple[tuple[str, int], ...] = ()

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on <= self.valid_until

    def covers_area(self, postcode: str) -> bool:
        """No areas = the whole municipality; else the postcode's PC4 must be listed."""
        return not self.areas or postcode[:4] in self.areas


@dataclass(frozen=True, slots=True)
class Fact:
    """A live signal as one policy evaluation sees it."""

    key: str
    partner_kind: str
    signal_type: str
    purpose: str
    observed_on: date


def load_library(directory: Path = LIBRARY_DIR) -> list[PolicyRule]:
    """Every `*.yaml` policy in `directory`, sorted by id."""
    rules = [_rule(safe_yaml.safe_load(p.read_text("utf-8")))
             for p in sorted(directory.glob("*.yaml"))]
    return sorted(rules, key=lambda r: r.policy_id)


def _rule(doc: dict) -> PolicyRule:  # type: ignore[type-arg]
    trigger = doc["trigger"]
    scope = doc.get("scope") or {}
    return PolicyRule(
        policy_id=str(doc["id"]),
        version=int(doc["version"]),
        mode=str(doc.get("mode", "on_request")),
        purposes=frozenset(doc["purposes"]),
        areas=frozenset(str(a) for a in scope.get("areas") or ()),
        valid_from=_day(doc["valid_from"]),
        valid_until=_day(doc["valid_until"]),
        window_days=int(trigger["window_days"]),
        min_domains=int(trigger["min_domains"]),
        min_signals=int(trigger["min_signals"]),
        required_types=frozenset(trigger.get("required_types") or ()),
        excluded_types=frozenset(trigger.get("excluded_types") or ()),
        min_per_domain=tuple(sorted((trigger.get("min_per_domain") or {}).items())),
    )


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def trigger_met(rule: PolicyRule, facts: Iterable[Fact], on: date, catalogue: Catalogue) -> bool:
    """Does one household's set of live facts meet `rule` on `on`? (docs/policies.md, rules 1-4)"""
    visible = [f for f in facts if f.purpose in rule.purposes and f.observed_on <= on]
    if any(f.signal_type in rule.excluded_types for f in visible):
        return False
    start = on - timedelta(days=rule.window_days)
    counted = {f.key: f for f in visible if start <= f.observed_on}.values()
    types = {f.signal_type for f in counted}
    if not rule.required_types <= types:
        return False
    if len(counted) < rule.min_signals:
        return False
    if distinct_domains(types, catalogue) < rule.min_domains:
        return False
    for domain, minimum in rule.min_per_domain:
        in_domain = sum(1 for f in counted if domain in catalogue.get(f.signal_type).domains)
        if in_domain < minimum:
            return False
    return True


def distinct_domains(types: Iterable[str], catalogue: Catalogue) -> int:
    """Life domains each evidenced by a different signal type: a maximum bipartite matching.

    Kuhn's augmenting paths over at most a few dozen types and 13 domains.
    """
    type_domains: Sequence[tuple[str, ...]] = [
        tuple(sorted(catalogue.get(t).domains)) for t in sorted(set(types))
    ]
    owner: dict[str, int] = {}

    def place(i: int, seen: set[str]) -> bool:
        for domain in type_domains[i]:
            if domain in seen:
                continue
            seen.add(domain)
            if domain not in owner or place(owner[domain], seen):
                owner[domain] = i
                return True
        return False

    return sum(1 for i in range(len(type_domains)) if place(i, set()))
