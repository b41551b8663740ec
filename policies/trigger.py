"""The trigger: does one household, on one day, meet a policy? One pure function.

The matcher (live matching, on-request inquiries) and `policy simulate` both call
`evaluate_trigger`, so what a privacy officer previews is exactly what runs. No I/O, no clock:
the caller passes the facts and the day.

The rules, in order (docs/policies.md "Trigger semantics", ADR 0005):

1. Visibility. A fact counts for a policy only if its purpose is one of `policy.purposes`;
   any other fact is invisible to the policy, for every rule below (it can neither help nor
   veto). Facts observed after `on` are ignored (not yet observed, or a wrong clock).
2. Veto. A visible fact of an `excluded_types` type observed on or before `on` vetoes the
   trigger, whatever its age: "not when this household is already in a care pathway" holds as
   long as the partner keeps that signal live. A veto is the privacy-protective reading; an
   excluded type is never merely ignored.
3. Window. Of the remaining visible facts, those observed in [on - window_days, on] (both ends
   included) count.
4. Thresholds, over the counted facts (each distinct `key` once):
   - every `required_types` type is present;
   - at least `min_signals` facts;
   - at least `min_domains` distinct life domains, *each evidenced by a different signal type*:
     one signal whose type spans two domains does not make two domains on its own, nor do two
     signals of that same type (a repeat is the same problem); the count is a maximum matching
     of the counted signal types to their domains;
   - for each `min_per_domain` entry, at least that many counted facts in that domain.

If the trigger is met, `contributing` holds the keys of all counted facts (each could be asked
to disclose); if it is not met, `contributing` is empty, so no caller can start a reveal from a
failed evaluation. `domains` is the union of the counted facts' domains in both cases; it is what
an on-request answer and the simulation report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from policies.model import Policy, Trigger


@dataclass(frozen=True)
class SignalFact:
    """What a policy may see of one live signal at one household."""

    key: str
    """Opaque id (the matcher's row id); names the contributing signals."""
    signal_type: str
    domains: frozenset[str]
    purpose: str
    partner_kind: str
    observed_on: date


class ReasonCode(StrEnum):
    VETOED = "vetoed_by_excluded_type"
    REQUIRED_MISSING = "required_type_missing"
    TOO_FEW_SIGNALS = "too_few_signals"
    TOO_FEW_DOMAINS = "too_few_domains"
    TOO_FEW_IN_DOMAIN = "too_few_in_domain"


@dataclass(frozen=True)
class Reason:
    """Why a trigger was not met. Names types, domains and counts only, never a key."""

    code: ReasonCode
    message: str


@dataclass(frozen=True)
class TriggerOutcome:
    met: bool
    domains: frozenset[str]
    """Life domains of the counted facts (union)."""
    contributing: tuple[str, ...]
    """Keys of the counted facts, sorted; empty unless `met`."""
    signals: int
    """How many facts counted (visible, in the window, not after `on`)."""
    distinct_domains: int
    """Domains evidenced by different signal types (the number compared with `min_domains`)."""
    reasons: tuple[Reason, ...]
    """Every rule that failed; empty when `met`."""

    @property
    def explanation(self) -> str:
        if self.met:
            return (
                f"met: {self.signals} signal(s) in {self.distinct_domains} distinct life "
                f"domain(s) ({', '.join(sorted(self.domains))})"
            )
        return "not met: " + "; ".join(r.message for r in self.reasons)


def window_start(trigger: Trigger, on: date) -> date:
    """First day of the window ending on `on` (inclusive)."""
    return on - timedelta(days=trigger.window_days)


def evaluate_trigger(policy: Policy, facts: Iterable[SignalFact], on: date) -> TriggerOutcome:
    """Evaluate `policy.trigger` for one household's live facts on day `on`.

    Pure and deterministic: the same policy, facts (in any order) and day give the same outcome.
    Facts with the same `key` are counted once (the first one seen is kept).
    """
    return evaluate_trigger_rules(policy.trigger, policy.purposes, facts, on)


def evaluate_trigger_rules(
    trigger: Trigger, purposes: frozenset[str], facts: Iterable[SignalFact], on: date
) -> TriggerOutcome:
    """`evaluate_trigger` for a trigger and purpose set without a whole policy."""
    start = window_start(trigger, on)
    unique: dict[str, SignalFact] = {}
    for fact in facts:
        unique.setdefault(fact.key, fact)
    visible = [f for f in unique.values() if f.purpose in purposes and f.observed_on <= on]

    reasons: list[Reason] = []
    vetoing = sorted({f.signal_type for f in visible if f.signal_type in trigger.excluded_types})
    if vetoing:
        reasons.append(
            Reason(
                ReasonCode.VETOED,
                f"excluded signal type(s) present: {', '.join(vetoing)}",
            )
        )

    counted = [
        f for f in visible if f.observed_on >= start and f.signal_type not in trigger.excluded_types
    ]
    domains: frozenset[str] = frozenset().union(*(f.domains for f in counted))
    present_types = {f.signal_type for f in counted}

    missing = sorted(trigger.required_types - present_types)
    if missing:
        reasons.append(
            Reason(
                ReasonCode.REQUIRED_MISSING,
                f"required signal type(s) missing in the {trigger.window_days}-day window: "
                f"{', '.join(missing)}",
            )
        )
    if len(counted) < trigger.min_signals:
        reasons.append(
            Reason(
                ReasonCode.TOO_FEW_SIGNALS,
                f"{len(counted)} signal(s) in the window, {trigger.min_signals} needed",
            )
        )
    by_type: dict[str, frozenset[str]] = {}
    for f in counted:
        by_type[f.signal_type] = by_type.get(f.signal_type, frozenset()) | f.domains
    distinct = distinct_domain_count(list(by_type.values()))
    if distinct < trigger.min_domains:
        reasons.append(
            Reason(
                ReasonCode.TOO_FEW_DOMAINS,
                f"{distinct} distinct life domain(s) evidenced by different signal types, "
                f"{trigger.min_domains} needed",
            )
        )
    for domain, minimum in trigger.min_per_domain:
        n = sum(1 for f in counted if domain in f.domains)
        if n < minimum:
            reasons.append(
                Reason(
                    ReasonCode.TOO_FEW_IN_DOMAIN,
                    f"{n} signal(s) in life domain {domain}, {minimum} needed",
                )
            )

    met = not reasons
    return TriggerOutcome(
        met=met,
        domains=domains,
        contributing=tuple(sorted(f.key for f in counted)) if met else (),
        signals=len(counted),
        distinct_domains=distinct,
        reasons=tuple(reasons),
    )


def distinct_domain_count(domain_sets: Iterable[frozenset[str]]) -> int:
    """The largest number of distinct domains that can each be given a different evidence set.

    A maximum bipartite matching (Kuhn's augmenting paths) between the sets (one per signal
    type) and the domains they contain. With single-domain types this is just the number of
    distinct domains. Size: O(sets x domains x edges), tiny for one household.
    """
    sets = [s for s in domain_sets if s]
    # Shortcut (the matcher evaluates a household per incoming signal): no matching is larger
    # than min(sets, domains); a greedy one that reaches that bound is a maximum one.
    bound = min(len(sets), len(frozenset().union(*sets)))
    taken: set[str] = set()
    for s in sorted(sets, key=len):
        free = s - taken
        if free:
            taken.add(min(free))
    if len(taken) == bound:
        return bound
    owner: dict[str, int] = {}  # domain -> index of the signal it is matched to

    def augment(i: int, seen: set[str]) -> bool:
        for d in sorted(sets[i]):
            if d in seen:
                continue
            seen.add(d)
            if d not in owner or augment(owner[d], seen):
                owner[d] = i
                return True
        return False

    return sum(1 for i in range(len(sets)) if augment(i, set()))
