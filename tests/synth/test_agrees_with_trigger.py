"""Cross-check: the synth oracle and the matcher's own trigger function agree on a whole city.

truth.json must not be computed with `policies.trigger` (it is the oracle the real system is
scored against), but a test may compare the two: if they ever disagree, one of them reads
docs/policies.md wrongly, and the demo's precision or recall would say so less clearly.
"""

from __future__ import annotations

from domain.catalogue import load_catalogue
from policies.model import load_policy
from policies.trigger import SignalFact, evaluate_trigger
from samenloop.synth import generate_city
from samenloop.synth.rules import LIBRARY_DIR, load_library
from samenloop.synth.truth import Oracle
from tests.synth.conftest import AS_OF


def test_oracle_agrees_with_policies_trigger_household_by_household() -> None:
    catalogue = load_catalogue()
    city = generate_city(400, 99, AS_OF, share_one=0.2, share_several=0.5)
    oracle = Oracle(city, catalogue)
    facts = oracle.facts_by_household()
    compared = met = 0
    for rule in load_library():
        policy = load_policy(LIBRARY_DIR / f"{rule.policy_id}.yaml")
        for hid, fs in facts.items():
            theirs = evaluate_trigger(
                policy,
                [
                    SignalFact(
                        f.key,
                        f.signal_type,
                        frozenset(catalogue.get(f.signal_type).domains),
                        f.purpose,
                        f.partner_kind,
                        f.observed_on,
                    )
                    for f in fs
                ],
                AS_OF,
            ).met and rule.covers_area(city.households[hid].address.postcode)
            mine = oracle.met(rule, hid, fs)
            assert mine == theirs, (rule.policy_id, hid)
            compared += 1
            met += mine
    assert compared > 400 and met > 10
