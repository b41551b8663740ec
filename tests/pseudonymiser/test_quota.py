"""The quota is what stops a gateway from running a dictionary through the pseudonymiser."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pseudonymiser.quota import QuotaLedger, QuotaLimits


class FakeClock:
    """Time under test control (the ledger takes its clocks as parameters for this)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.day = date(2026, 11, 23)

    def monotonic(self) -> float:
        return self.now

    def today(self) -> date:
        return self.day


def ledger(
    daily: int = 1000, rate: float = 100.0, burst: int = 100
) -> tuple[QuotaLedger, FakeClock]:
    """A ledger serving the organisations the tests use, all with the same limits."""
    clock = FakeClock()
    limits = QuotaLimits(daily, rate, burst)
    served = {org: limits for org in ("woonstad", "politie", "ggz", "a", "b", "x", "other")}
    return QuotaLedger(served, clock=clock.monotonic, today=clock.today), clock


def test_daily_quota_refuses_past_the_limit_and_charges_nothing_for_a_refusal() -> None:
    quota, _ = ledger(daily=250, rate=1e9, burst=1000)
    assert quota.charge("woonstad", 200).allowed
    refused = quota.charge("woonstad", 100)
    assert not refused.allowed and refused.code == "daily_quota"
    assert refused.used_today == 200 and refused.daily_limit == 250
    assert quota.charge("woonstad", 50).allowed  # the refusal did not count


def test_daily_quota_resets_on_a_new_day() -> None:
    quota, clock = ledger(daily=100, rate=1e9, burst=1000)
    assert quota.charge("politie", 100).allowed
    assert not quota.charge("politie", 1).allowed
    clock.day = date(2026, 11, 24)
    assert quota.charge("politie", 100).allowed


def test_quota_is_per_organisation() -> None:
    quota, _ = ledger(daily=100, rate=1e9, burst=1000)
    assert quota.charge("a", 100).allowed
    assert not quota.charge("a", 1).allowed
    assert quota.charge("b", 100).allowed


def test_rate_limit_refills_over_time() -> None:
    quota, clock = ledger(daily=10**9, rate=10.0, burst=100)
    assert quota.charge("ggz", 100).allowed
    refused = quota.charge("ggz", 50)
    assert not refused.allowed and refused.code == "rate_limit"
    assert abs(refused.retry_after_seconds - 5.0) < 1e-9
    clock.now += 5.0
    assert quota.charge("ggz", 50).allowed


def test_each_organisation_has_its_own_limits() -> None:
    quota, _ = ledger(daily=10)
    quota.per_organisation["gemeente"] = QuotaLimits(1000, 1e9, 1000)
    assert quota.charge("gemeente", 500).allowed
    assert not quota.charge("other", 500).allowed


def test_an_organisation_without_limits_is_not_served_and_there_is_no_default() -> None:
    quota, _ = ledger(daily=10**9, rate=1e9, burst=10**9)
    refused = quota.charge("onbekende-partner", 1)
    assert not refused.allowed and refused.code == "not_served"
    assert quota.limits_for("onbekende-partner") is None


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 300), st.floats(0, 10)), max_size=40))
def test_never_more_than_the_daily_limit_or_the_refilled_tokens(
    steps: list[tuple[int, float]],
) -> None:
    quota, clock = ledger(daily=2000, rate=50.0, burst=300)
    granted = 0
    for elements, wait in steps:
        clock.now += wait
        if quota.charge("x", elements).allowed:
            granted += elements
    assert granted <= 2000
    assert granted <= 300 + 50.0 * clock.now + 1e-6
