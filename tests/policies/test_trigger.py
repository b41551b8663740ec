"""The trigger function: every rule, the window's boundaries, and purposes keeping signals apart."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.trigger import (
    ReasonCode,
    SignalFact,
    distinct_domain_count,
    evaluate_trigger,
    window_start,
)
from tests.policies.helpers import TODAY, fact, policy

WGS = "wgs-vroegsignalering"
WAMS = "wams-gecoordineerde-aanpak"


def codes(outcome: object) -> set[ReasonCode]:
    return {r.code for r in outcome.reasons}  # type: ignore[attr-defined]


# --- the minimal rules: two signals in two domains ------------------------------------------


def test_two_signals_in_two_domains_meet_the_trigger() -> None:
    a = fact("rent_arrears", "huisvesting", key="a")
    b = fact("debt_help", "financien", key="b")
    out = evaluate_trigger(policy(), [a, b], TODAY)
    assert out.met
    assert out.domains == {"huisvesting", "financien"}
    assert out.contributing == ("a", "b")
    assert out.signals == 2 and out.distinct_domains == 2
    assert out.reasons == ()
    assert out.explanation.startswith("met: 2 signal(s) in 2 distinct")


def test_no_facts_is_not_met_and_names_every_failed_rule() -> None:
    out = evaluate_trigger(policy(), [], TODAY)
    assert not out.met
    assert out.contributing == ()
    assert out.domains == frozenset()
    assert codes(out) == {ReasonCode.TOO_FEW_SIGNALS, ReasonCode.TOO_FEW_DOMAINS}


def test_a_single_signal_never_meets_a_two_domain_trigger() -> None:
    out = evaluate_trigger(policy(), [fact(domains="huisvesting")], TODAY)
    assert not out.met
    assert codes(out) == {ReasonCode.TOO_FEW_SIGNALS, ReasonCode.TOO_FEW_DOMAINS}


def test_two_signals_in_one_domain_are_not_enough() -> None:
    out = evaluate_trigger(
        policy(), [fact("rent_arrears", "huisvesting"), fact("eviction", "huisvesting")], TODAY
    )
    assert not out.met
    assert codes(out) == {ReasonCode.TOO_FEW_DOMAINS}
    assert out.domains == {"huisvesting"}
    assert out.signals == 2 and out.distinct_domains == 1


def test_one_multi_domain_signal_does_not_count_as_two_domains() -> None:
    """A type spanning two domains still is one problem signal: domains need different signals."""
    trig = {"window_days": 90, "min_domains": 2, "min_signals": 1}
    p = policy(trigger=trig)
    one = fact("rent_arrears", ("huisvesting", "financien"))
    out = evaluate_trigger(p, [one], TODAY)
    assert not out.met
    assert out.distinct_domains == 1
    assert out.domains == {"huisvesting", "financien"}
    assert codes(out) == {ReasonCode.TOO_FEW_DOMAINS}
    # A second signal in one of those domains frees the other: now two distinct domains.
    out2 = evaluate_trigger(p, [one, fact("debt_help", "financien")], TODAY)
    assert out2.met and out2.distinct_domains == 2


def test_two_signals_of_one_multi_domain_type_are_one_problem() -> None:
    """Two rent arrears (an escalated repeat) are still one kind of problem: one domain."""
    two_domains = ("huisvesting", "financien")
    repeat = [fact("rent_arrears", two_domains), fact("rent_arrears", two_domains)]
    out = evaluate_trigger(policy(), repeat, TODAY)
    assert not out.met
    assert out.signals == 2 and out.distinct_domains == 1
    assert codes(out) == {ReasonCode.TOO_FEW_DOMAINS}
    assert "evidenced by different signal types" in out.explanation
    # another type in one of those domains makes it two
    assert evaluate_trigger(policy(), [*repeat, fact("energy_arrears", "financien")], TODAY).met


def test_min_signals_above_min_domains() -> None:
    p = policy(trigger__min_signals=3)
    two = [fact(domains="huisvesting"), fact(domains="financien")]
    out = evaluate_trigger(p, two, TODAY)
    assert not out.met and codes(out) == {ReasonCode.TOO_FEW_SIGNALS}
    assert evaluate_trigger(p, [*two, fact(domains="financien")], TODAY).met


def test_min_domains_three() -> None:
    p = policy(trigger__min_domains=3, trigger__min_signals=3)
    facts = [fact(domains="huisvesting"), fact(domains="financien"), fact(domains="financien")]
    out = evaluate_trigger(p, facts, TODAY)
    assert not out.met and codes(out) == {ReasonCode.TOO_FEW_DOMAINS}
    assert evaluate_trigger(p, [*facts, fact(domains="justitie")], TODAY).met


# --- required and excluded types -------------------------------------------------------------


def test_required_type_must_be_present() -> None:
    p = policy(trigger__required_types=["eviction_announced"])
    facts = [fact("rent_arrears", "huisvesting"), fact("debt_help", "financien")]
    out = evaluate_trigger(p, facts, TODAY)
    assert not out.met
    assert codes(out) == {ReasonCode.REQUIRED_MISSING}
    assert "eviction_announced" in out.explanation
    ok = evaluate_trigger(p, [*facts, fact("eviction_announced", "huisvesting")], TODAY)
    assert ok.met


def test_every_required_type_must_be_present() -> None:
    p = policy(trigger__required_types=["a_type", "b_type"])
    only_a = [fact("a_type", "huisvesting"), fact("c_type", "financien")]
    assert codes(evaluate_trigger(p, only_a, TODAY)) == {ReasonCode.REQUIRED_MISSING}
    both = [fact("a_type", "huisvesting"), fact("b_type", "financien")]
    assert evaluate_trigger(p, both, TODAY).met


def test_required_type_outside_the_window_does_not_count() -> None:
    p = policy(trigger__required_types=["eviction_announced"])
    old = fact("eviction_announced", "huisvesting", on=TODAY - timedelta(days=91))
    facts = [old, fact("rent_arrears", "huisvesting"), fact("debt_help", "financien")]
    assert codes(evaluate_trigger(p, facts, TODAY)) == {ReasonCode.REQUIRED_MISSING}


def test_excluded_type_vetoes_even_when_everything_else_is_met() -> None:
    p = policy(trigger__excluded_types=["in_care_pathway"])
    facts = [
        fact("rent_arrears", "huisvesting"),
        fact("debt_help", "financien"),
        fact("in_care_pathway", "geestelijke_gezondheid", partner_kind="mental_health"),
    ]
    out = evaluate_trigger(p, facts, TODAY)
    assert not out.met
    assert codes(out) == {ReasonCode.VETOED}
    assert out.contributing == ()
    assert "in_care_pathway" in out.explanation
    # The vetoing fact is not counted as a signal or a domain either.
    assert out.signals == 2 and "geestelijke_gezondheid" not in out.domains


def test_excluded_type_vetoes_from_before_the_window() -> None:
    """A live care-pathway signal older than the window still means 'already helped'."""
    p = policy(trigger__excluded_types=["in_care_pathway"])
    old = fact("in_care_pathway", "geestelijke_gezondheid", on=TODAY - timedelta(days=400))
    facts = [old, fact("rent_arrears", "huisvesting"), fact("debt_help", "financien")]
    assert codes(evaluate_trigger(p, facts, TODAY)) == {ReasonCode.VETOED}


def test_excluded_type_with_another_purpose_does_not_veto() -> None:
    """Purpose limitation cuts both ways: an invisible signal cannot veto either."""
    p = policy(trigger__excluded_types=["in_care_pathway"])
    other = fact("in_care_pathway", "geestelijke_gezondheid", purpose="ggz-behandeling")
    facts = [other, fact("rent_arrears", "huisvesting"), fact("debt_help", "financien")]
    assert evaluate_trigger(p, facts, TODAY).met


def test_excluded_type_observed_after_the_day_does_not_veto() -> None:
    p = policy(trigger__excluded_types=["in_care_pathway"])
    future = fact("in_care_pathway", "geestelijke_gezondheid", on=TODAY + timedelta(days=1))
    facts = [future, fact("rent_arrears", "huisvesting"), fact("debt_help", "financien")]
    assert evaluate_trigger(p, facts, TODAY).met


# --- min per domain --------------------------------------------------------------------------


def test_min_per_domain() -> None:
    p = policy(trigger__min_per_domain={"financien": 2}, trigger__min_signals=2)
    facts = [fact(domains="huisvesting"), fact(domains="financien")]
    out = evaluate_trigger(p, facts, TODAY)
    assert codes(out) == {ReasonCode.TOO_FEW_IN_DOMAIN}
    assert "financien" in out.explanation
    assert evaluate_trigger(p, [*facts, fact(domains="financien")], TODAY).met


def test_min_per_domain_counts_multi_domain_signals_in_each_domain() -> None:
    p = policy(trigger__min_per_domain={"financien": 2, "huisvesting": 1})
    facts = [fact(domains=("huisvesting", "financien")), fact(domains="financien")]
    assert evaluate_trigger(p, facts, TODAY).met


def test_min_per_domain_for_a_domain_without_signals() -> None:
    p = policy(trigger__min_per_domain={"justitie": 1})
    facts = [fact(domains="huisvesting"), fact(domains="financien")]
    out = evaluate_trigger(p, facts, TODAY)
    assert codes(out) == {ReasonCode.TOO_FEW_IN_DOMAIN}
    assert "0 signal(s) in life domain justitie, 1 needed" in out.explanation


# --- the window ------------------------------------------------------------------------------


def test_window_start() -> None:
    assert window_start(policy().trigger, TODAY) == TODAY - timedelta(days=90)


@pytest.mark.parametrize(
    ("age_days", "counts"),
    [(0, True), (1, True), (89, True), (90, True), (91, False), (365, False)],
)
def test_window_boundaries(age_days: int, counts: bool) -> None:
    """[on - window_days, on], both ends included."""
    edge = fact(domains="financien", on=TODAY - timedelta(days=age_days))
    out = evaluate_trigger(policy(), [fact(domains="huisvesting"), edge], TODAY)
    assert out.met is counts


def test_future_facts_do_not_count() -> None:
    tomorrow = fact(domains="financien", on=TODAY + timedelta(days=1))
    out = evaluate_trigger(policy(), [fact(domains="huisvesting"), tomorrow], TODAY)
    assert not out.met and out.signals == 1


def test_window_of_one_day() -> None:
    p = policy(trigger__window_days=1)
    assert evaluate_trigger(
        p, [fact(domains="a1", on=TODAY - timedelta(days=1)), fact(domains="b1")], TODAY
    ).met
    assert not evaluate_trigger(
        p, [fact(domains="a1", on=TODAY - timedelta(days=2)), fact(domains="b1")], TODAY
    ).met


def test_the_same_facts_evaluated_on_a_later_day_age_out() -> None:
    facts = [fact(domains="huisvesting"), fact(domains="financien", on=TODAY - timedelta(days=60))]
    assert evaluate_trigger(policy(), facts, TODAY).met
    assert evaluate_trigger(policy(), facts, TODAY + timedelta(days=30)).met
    assert not evaluate_trigger(policy(), facts, TODAY + timedelta(days=31)).met


# --- purposes keep signals apart -------------------------------------------------------------


def test_signal_with_another_purpose_is_invisible() -> None:
    facts = [fact(domains="huisvesting", purpose=WAMS), fact(domains="financien", purpose=WGS)]
    out = evaluate_trigger(policy(purposes=[WAMS]), facts, TODAY)
    assert not out.met
    assert out.signals == 1 and out.domains == {"huisvesting"}


def test_policy_combining_two_purposes_sees_both() -> None:
    facts = [fact(domains="huisvesting", purpose=WAMS), fact(domains="financien", purpose=WGS)]
    assert evaluate_trigger(policy(purposes=[WAMS, WGS]), facts, TODAY).met


def test_required_type_with_another_purpose_is_missing() -> None:
    p = policy(purposes=[WAMS], trigger__required_types=["debt_help"])
    facts = [
        fact("rent_arrears", "huisvesting", purpose=WAMS),
        fact("nuisance", "woonomgeving", purpose=WAMS),
        fact("debt_help", "financien", purpose=WGS),
    ]
    out = evaluate_trigger(p, facts, TODAY)
    assert codes(out) == {ReasonCode.REQUIRED_MISSING}


def test_invisible_facts_never_change_the_outcome() -> None:
    visible = [fact(domains="huisvesting", key="v1")]
    invisible = [
        fact(t, d, purpose=WGS)
        for t, d in [("debt_help", "financien"), ("x", "justitie"), ("y", "opvoeding")]
    ]
    p = policy(purposes=[WAMS])
    assert evaluate_trigger(p, visible, TODAY) == evaluate_trigger(p, visible + invisible, TODAY)


# --- keys ------------------------------------------------------------------------------------


def test_duplicate_keys_count_once() -> None:
    a = fact(domains="huisvesting", key="same")
    b = fact(domains="financien", key="same")
    out = evaluate_trigger(policy(), [a, b], TODAY)
    assert not out.met and out.signals == 1


def test_contributing_is_sorted_and_lists_every_counted_fact() -> None:
    facts = [
        fact(domains="huisvesting", key="z9"),
        fact(domains="financien", key="a1"),
        fact(domains="financien", key="m5"),
        fact(domains="justitie", key="old", on=TODAY - timedelta(days=200)),
        fact(domains="justitie", key="wgs", purpose=WGS),
    ]
    out = evaluate_trigger(policy(), facts, TODAY)
    assert out.contributing == ("a1", "m5", "z9")


def test_reasons_never_name_a_key() -> None:
    facts = [fact("rent_arrears", "huisvesting", key="secret-row-17")]
    p = policy(
        trigger__required_types=["eviction"],
        trigger__excluded_types=["rent_arrears"],
        trigger__min_per_domain={"financien": 1},
    )
    out = evaluate_trigger(p, facts, TODAY)
    assert not out.met
    assert "secret-row-17" not in out.explanation


# --- properties ------------------------------------------------------------------------------

DOMAINS = ["huisvesting", "financien", "justitie", "opvoeding"]
TYPES = ["t_rent", "t_debt", "t_police", "t_truancy", "t_care"]

fact_strategy = st.builds(
    SignalFact,
    key=st.text("abcdef", min_size=1, max_size=3),
    signal_type=st.sampled_from(TYPES),
    domains=st.frozensets(st.sampled_from(DOMAINS), min_size=1, max_size=2),
    purpose=st.sampled_from([WAMS, WGS]),
    partner_kind=st.sampled_from(["housing", "police"]),
    observed_on=st.integers(-120, 3).map(lambda d: TODAY + timedelta(days=d)),
)

PROPERTY_POLICY = policy(
    purposes=[WAMS],
    trigger={
        "window_days": 60,
        "min_domains": 2,
        "min_signals": 2,
        "required_types": ["t_rent"],
        "excluded_types": ["t_care"],
        "min_per_domain": {"huisvesting": 1},
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(fact_strategy, max_size=8), st.randoms())
def test_order_does_not_matter(facts: list[SignalFact], rnd: object) -> None:
    unique = list({f.key: f for f in reversed(facts)}.values())  # one fact per key
    shuffled = unique[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert evaluate_trigger(PROPERTY_POLICY, unique, TODAY) == evaluate_trigger(
        PROPERTY_POLICY, shuffled, TODAY
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(fact_strategy, max_size=8), fact_strategy)
def test_adding_a_non_excluded_fact_never_unmeets(
    facts: list[SignalFact], extra: SignalFact
) -> None:
    if extra.signal_type == "t_care" or extra.key in {f.key for f in facts}:
        return
    before = evaluate_trigger(PROPERTY_POLICY, facts, TODAY)
    after = evaluate_trigger(PROPERTY_POLICY, [*facts, extra], TODAY)
    if before.met:
        assert after.met
        assert set(before.contributing) <= set(after.contributing)


@settings(max_examples=150, deadline=None)
@given(st.lists(fact_strategy, max_size=8))
def test_met_implies_every_rule(facts: list[SignalFact]) -> None:
    out = evaluate_trigger(PROPERTY_POLICY, facts, TODAY)
    if not out.met:
        assert out.reasons and out.contributing == ()
        return
    unique = {f.key: f for f in reversed(facts)}
    counted = [unique[k] for k in out.contributing]
    assert all(f.purpose == WAMS for f in counted)
    assert all(TODAY - timedelta(days=60) <= f.observed_on <= TODAY for f in counted)
    assert "t_rent" in {f.signal_type for f in counted}
    assert not any(
        f.signal_type == "t_care" and f.purpose == WAMS and f.observed_on <= TODAY
        for f in unique.values()
    )
    assert len(counted) >= 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from(DOMAINS), max_size=3), max_size=6))
def test_distinct_domain_count_is_a_maximum_matching(sets: list[frozenset[str]]) -> None:
    """Compare with brute force: the largest k such that k signals pick k different domains."""
    best = 0
    for k in range(len(sets), 0, -1):
        for chosen in itertools.combinations(sets, k):
            if any(len(set(pick)) == k for pick in itertools.product(*chosen)):
                best = k
                break
        if best:
            break
    assert distinct_domain_count(sets) == best
