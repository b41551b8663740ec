"""Small-cell suppression, the simulation aggregate and the fairness report."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.fairness import fairness_report
from policies.simulate import summarise_simulation
from policies.suppression import Count, K, suppress_table, suppress_total
from policies.trigger import TriggerOutcome
from tests.policies.helpers import policy

ON = date(2025, 6, 15)


def outcome(met: bool, *domains: str) -> TriggerOutcome:
    return TriggerOutcome(
        met=met,
        domains=frozenset(domains),
        contributing=("k",) if met else (),
        signals=len(domains),
        distinct_domains=len(domains),
        reasons=(),
    )


# --- suppression -----------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "display"), [(0, "<5"), (1, "<5"), (4, "<5"), (5, "5"), (17, "17")])
def test_primary_suppression(n: int, display: str) -> None:
    c = suppress_total(n)
    assert c.display == display
    assert c.value == (0 if n < K else n)


def test_negative_count_refused() -> None:
    with pytest.raises(ValueError):
        suppress_total(-1)
    with pytest.raises(ValueError):
        suppress_table({"a": -1})


def test_single_small_cell_gets_a_complement() -> None:
    t = suppress_table({"a": 3, "b": 40, "c": 9, "d": 12})
    assert t == {
        "a": Count.hidden(),
        "b": Count.shown(40),
        "c": Count.hidden(),  # smallest shown cell
        "d": Count.shown(12),
    }


def test_two_small_cells_adding_below_k_get_a_complement() -> None:
    t = suppress_table({"a": 1, "b": 2, "c": 30, "d": 6})
    assert {k for k, v in t.items() if v.suppressed} == {"a", "b", "d"}


def test_two_small_cells_adding_to_k_need_nothing_more() -> None:
    t = suppress_table({"a": 1, "b": 4, "c": 30})
    assert {k for k, v in t.items() if v.suppressed} == {"a", "b"}


def test_no_small_cells_no_suppression() -> None:
    assert all(not c.suppressed for c in suppress_table({"a": 5, "b": 6}).values())


def test_all_small() -> None:
    assert all(c.suppressed for c in suppress_table({"a": 1, "b": 1}).values())


def test_tie_break_is_deterministic() -> None:
    t1 = suppress_table({"x": 2, "b": 7, "a": 7})
    t2 = suppress_table({"a": 7, "b": 7, "x": 2})
    assert t1 == t2 and t1["a"].suppressed and not t1["b"].suppressed


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=2), st.integers(0, 40), max_size=8))
def test_no_suppressed_cell_can_be_computed_from_the_total(cells: dict[str, int]) -> None:
    t = suppress_table(cells)
    hidden = [k for k, c in t.items() if c.suppressed]
    # Primary: every small cell is hidden; shown cells carry their true value.
    assert all(t[k].suppressed for k, n in cells.items() if n < K)
    assert all(c.value == cells[k] for k, c in t.items() if not c.suppressed)
    if hidden:
        total = sum(cells.values())
        if total >= K:  # the total would be shown: subtraction must not reveal a cell
            assert len(hidden) >= 2
            assert sum(cells[k] for k in hidden) >= K


# --- simulate --------------------------------------------------------------------------------


def test_simulation_tables() -> None:
    results = (
        [("1011", outcome(True, "financien", "huisvesting"))] * 6
        + [("1012", outcome(True, "financien", "huisvesting"))] * 2
        + [("1012", outcome(True, "justitie", "huiselijke_relaties"))] * 7
        + [("1012", outcome(True, "financien", "justitie"))] * 1
        + [("1011", outcome(False, "financien"))] * 30
        + [("9999", outcome(True, "financien", "huisvesting"))] * 50  # outside scope
    )
    r = summarise_simulation(policy(), results, ON)
    assert r.policy_id == "test-samenloop" and r.evaluate_on == ON
    assert r.households_evaluated == Count.shown(46)
    assert r.households_flagged == Count.shown(16)
    assert [(c.domains, c.households.display) for c in r.by_domains] == [
        (("financien", "huisvesting"), "8"),
        (("financien", "justitie"), "<5"),
        (("huiselijke_relaties", "justitie"), "<5"),  # complement of the single small cell
    ]
    assert [(c.area_code, c.households.display) for c in r.by_area] == [
        ("1011", "6"),
        ("1012", "10"),
    ]


def test_simulation_with_few_households_shows_nothing_exact() -> None:
    results = [("1011", outcome(True, "financien", "huisvesting"))] * 3 + [("1011", outcome(False))]
    r = summarise_simulation(policy(), results, ON)
    assert r.households_evaluated.display == "<5"
    assert r.households_flagged.display == "<5"
    assert all(c.households.suppressed for c in r.by_domains + r.by_area)  # type: ignore[operator]


def test_area_without_flags_is_listed_as_suppressed() -> None:
    results = [("1011", outcome(False))] * 20 + [("1012", outcome(True, "a", "b"))] * 20
    r = summarise_simulation(policy(), results, ON)
    assert [(c.area_code, c.households.display) for c in r.by_area] == [
        ("1011", "<5"),
        ("1012", "<5"),  # complement: 20 = total - 0 would reveal the 0
    ]


def test_empty_simulation() -> None:
    r = summarise_simulation(policy(), [], ON)
    assert r.by_domains == () and r.by_area == ()
    assert r.households_flagged.display == "<5"


# --- fairness --------------------------------------------------------------------------------


def test_fairness_relative_rates() -> None:
    r = fairness_report(
        "p",
        {"1011": 100, "1012": 100, "1013": 50, "1014": 3},
        {"1011": 10, "1012": 30, "1013": 8, "1014": 2},
    )
    rows = {row.area_code: row for row in r.rows}
    # overall: 50 alerts / 253 signals
    overall = 50 / 253
    assert rows["1011"].relative_rate == round(0.10 / overall, 2)
    assert rows["1012"].relative_rate == round(0.30 / overall, 2)
    assert rows["1012"].disproportionate and not rows["1011"].disproportionate
    # 1014 small in both columns; each column gets a complement.
    assert rows["1014"].signals.suppressed and rows["1014"].alerts.suppressed
    assert rows["1014"].relative_rate is None
    assert rows["1013"].signals.suppressed  # smallest shown signals cell, complement
    assert rows["1013"].alerts.suppressed and not rows["1011"].alerts.suppressed
    assert [row.area_code for row in r.rows] == ["1011", "1012", "1013", "1014"]


def test_fairness_no_signals() -> None:
    r = fairness_report("p", {}, {})
    assert r.rows == ()
    r2 = fairness_report("p", {"1011": 0}, {"1011": 0})
    assert r2.rows[0].relative_rate is None


def test_fairness_area_in_only_one_mapping() -> None:
    r = fairness_report("p", {"1011": 20, "1012": 30}, {"1011": 10, "1012": 10, "1013": 0})
    assert [row.area_code for row in r.rows] == ["1011", "1012", "1013"]
