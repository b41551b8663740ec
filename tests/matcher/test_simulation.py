"""Policy simulation over the store (services/matcher/simulation.py): the SQL prefilter and the
streaming query give exactly the households a hand-worked table says, on SQLite and PostgreSQL.

The store is written row by row into the matcher's tables (migrated by Alembic), so every edge
case is set up exactly: expired on the day and the day before, withdrawn and merged signals,
other purposes, exactly the minimum count and the window's first day, a veto older than the
window, a signal observed after the day, a household without an area, and person signals that
land through household links (a move, two links on one day, a signal before any link, a signal
that names its household as well as its person). A second test compares a random store with a
plain-Python reading of the visibility rules, the trigger applied to every household.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from domain.catalogue import load_catalogue
from policies.model import Policy, parse_policy
from policies.simulate import summarise_counts, summarise_simulation
from policies.trigger import SignalFact, TriggerOutcome, evaluate_trigger
from services.common.db import create_engine, migrate, read_snapshot
from services.matcher.config import MIGRATIONS
from services.matcher.schema import household_links, households, persons, signals
from services.matcher.simulation import simulate
from tests.policies.helpers import document

ON = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 12, 0)
WAMS = "wams-gecoordineerde-aanpak"
WGS = "wgs-vroegsignalering"
CATALOGUE = load_catalogue()

# Policy A: Wams, whole municipality, 90 days, 2 signals in 2 domains, a care pathway for a
# minor vetoes. Policy B: Wgs, area 3071 only, 120 days, 3 signals in 2 domains, rent arrears
# required.
POLICY_A = parse_policy(document(
    id="sim-a", purposes=[WAMS], scope={"municipality": "GM0599"},
    trigger={"window_days": 90, "min_domains": 2, "min_signals": 2,
             "excluded_types": ["zorgmelding_minderjarige"]}))
POLICY_B = parse_policy(document(
    id="sim-b", purposes=[WGS], scope={"municipality": "GM0599", "areas": ["3071"]},
    trigger={"window_days": 120, "min_domains": 2, "min_signals": 3,
             "required_types": ["huurachterstand"]}))


@dataclass
class Store:
    """Rows to insert, with labels for households and persons."""

    households: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    persons: dict[str, int] = field(default_factory=dict)
    signals: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)

    def household(self, label: str, area: str | None = "3071") -> str:
        self.households.setdefault(label, (len(self.households) + 1, area))
        return label

    def person(self, label: str) -> str:
        self.persons.setdefault(label, len(self.persons) + 1)
        return label

    def signal(self, signal_type: str, *, household: str | None = None,
               person: str | None = None, purpose: str = WAMS, days_ago: int = 10,
               state: str = "live", expires_on: date | None = None, kind: str = "housing"
               ) -> None:
        observed = ON - timedelta(days=days_ago)
        self.signals.append({
            "partner": f"p-{kind}", "signal_id": f"s-{len(self.signals)}", "partner_kind": kind,
            "signal_type": signal_type, "purpose": purpose, "observed_on": observed,
            "household_id": self.households[household][0] if household else None,
            "person_id": self.persons[person] if person else None, "area_code": None,
            "escalated": False, "state": state, "merged_into": None,
            "expires_on": expires_on or observed + timedelta(days=183),
            "retain_until": observed + timedelta(days=400), "catalogue_version": "2025.1",
            "batch_id": "test", "created_at": NOW, "updated_at": NOW})

    def link(self, person: str, household: str, valid_from: date) -> None:
        self.links.append({
            "partner": "gemeente", "link_id": f"l-{len(self.links)}",
            "person_id": self.persons[person], "household_id": self.households[household][0],
            "valid_from": valid_from, "area_code": None, "created_at": NOW})

    def write(self, engine: sa.Engine) -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(households), [
                {"id": hid, "pseudonym": hashlib.sha256(label.encode()).digest(),
                 "area_code": area, "created_at": NOW}
                for label, (hid, area) in self.households.items()])
            if self.persons:
                conn.execute(sa.insert(persons), [
                    {"id": pid, "pseudonym": hashlib.sha256(b"p" + label.encode()).digest(),
                     "created_at": NOW} for label, pid in self.persons.items()])
            conn.execute(sa.insert(signals), self.signals)
            if self.links:
                conn.execute(sa.insert(household_links), self.links)

    def label(self, household_id: int) -> str:
        return next(k for k, (hid, _) in self.households.items() if hid == household_id)


def tricky_store() -> Store:
    s = Store()
    h = s.household
    # --- policy A (Wams) ---
    s.signal("huurachterstand", household=h("met"))  # financien, huisvesting
    s.signal("verward_gedrag_e33", household="met", kind="police")  # geestelijke_gezondheid
    # exactly two signals, on the window's first day and on the day itself
    s.signal("huurachterstand", household=h("window-edges"), days_ago=90)
    s.signal("ggz_crisiscontact", household="window-edges", days_ago=0, kind="mental_health")
    # one day outside the window: one counted signal
    s.signal("huurachterstand", household=h("outside-window"), days_ago=91)
    s.signal("ggz_crisiscontact", household="outside-window", kind="mental_health")
    # expired the day before (invisible) and expiring on the day (visible): met without the
    # expired signal's housing domain
    s.signal("woonoverlast_melding", household=h("expiry"), expires_on=ON - timedelta(days=1))
    s.signal("verward_gedrag_e33", household="expiry", expires_on=ON, kind="police")
    s.signal("energie_achterstand", household="expiry", kind="municipality")
    # withdrawn and merged signals do not count
    s.signal("huurachterstand", household=h("withdrawn"), state="withdrawn")
    s.signal("verward_gedrag_e33", household="withdrawn", kind="police")
    s.signal("huurachterstand", household=h("merged"))
    s.signal("ggz_crisiscontact", household="merged", state="merged", kind="mental_health")
    # another purpose is invisible to A (and seen by B)
    s.signal("huurachterstand", household=h("other-purpose"), purpose=WGS)
    s.signal("verward_gedrag_e33", household="other-purpose", kind="police")
    s.signal("huurachterstand", household=h("only-wgs"), purpose=WGS)
    s.signal("energie_achterstand", household="only-wgs", purpose=WGS, kind="municipality")
    s.signal("drinkwater_achterstand", household="only-wgs", purpose=WGS, kind="municipality")
    # an excluded type vetoes at any age, also older than the window
    s.signal("huurachterstand", household=h("vetoed"))
    s.signal("verward_gedrag_e33", household="vetoed", kind="police")
    s.signal("zorgmelding_minderjarige", household="vetoed", days_ago=200, kind="police",
             expires_on=ON + timedelta(days=165))  # retention 365 days
    # two signals of one type: one problem, one distinct domain
    s.signal("huurachterstand", household=h("repeat"))
    s.signal("huurachterstand", household="repeat", days_ago=20)
    # observed after the day: evaluated, not counted
    s.signal("huurachterstand", household=h("future"))
    s.signal("verward_gedrag_e33", household="future", days_ago=-3, kind="police")
    # no area code: evaluated and flagged under "" (A has no area list; B does, so not for B)
    s.signal("huurachterstand", household=h("no-area", None))
    s.signal("ggz_crisiscontact", household="no-area", kind="mental_health")
    # a person who moved: a person-only signal counts where they lived when it was observed
    s.signal("verward_gedrag_e33", household=h("before-move"), kind="police")
    h("after-move")
    s.person("mover")
    s.link("mover", "before-move", date(2026, 1, 1))
    s.link("mover", "after-move", date(2026, 5, 20))
    s.signal("schuldhulp_aanvraag", person="mover", days_ago=20, kind="municipality")  # before
    s.signal("energie_achterstand", person="mover", days_ago=5, kind="municipality")  # after
    # observed on the day of the move: counts at the new home only
    s.signal("woonoverlast_melding", person="mover", days_ago=(ON - date(2026, 5, 20)).days)
    # two links on one day: the one stored last wins
    h("tie-first")
    s.signal("ggz_crisiscontact", household=h("tie-last"), kind="mental_health")
    s.person("tied")
    s.link("tied", "tie-first", date(2026, 3, 1))
    s.link("tied", "tie-last", date(2026, 3, 1))
    s.signal("huurachterstand", person="tied", days_ago=10)
    # observed before the person's first link: counts nowhere
    s.person("late-link")
    s.link("late-link", h("linked-late"), date(2026, 5, 25))
    s.signal("huurachterstand", person="late-link", days_ago=30)
    s.signal("verward_gedrag_e33", person="late-link", days_ago=30, kind="police")
    # a signal naming its household and its person counts at that household only
    s.person("both")
    s.signal("verward_gedrag_e33", household=h("link-home"), kind="police")
    s.link("both", "link-home", date(2026, 1, 1))
    s.signal("huurachterstand", household=h("named-home"), person="both")
    s.signal("ggz_crisiscontact", household="named-home", kind="mental_health")
    # a person signal of another purpose stays invisible after the link
    s.person("wgs-person")
    s.link("wgs-person", h("person-wgs"), date(2026, 1, 1))
    s.signal("huurachterstand", household="person-wgs")
    s.signal("energie_achterstand", person="wgs-person", purpose=WGS, kind="municipality")
    # --- policy B (Wgs, area 3071, huurachterstand required, 3 signals) ---
    s.signal("huurachterstand", household=h("b-met"), purpose=WGS)
    s.signal("energie_achterstand", household="b-met", purpose=WGS, kind="municipality")
    s.signal("schuldhulp_aanvraag", household="b-met", purpose=WGS, days_ago=119,
             kind="municipality")
    s.signal("energie_achterstand", household=h("b-no-rent"), purpose=WGS, kind="municipality")
    s.signal("schuldhulp_aanvraag", household="b-no-rent", purpose=WGS, kind="municipality")
    s.signal("uitkering_beeindigd", household="b-no-rent", purpose=WGS, kind="municipality")
    s.signal("huurachterstand", household=h("b-elsewhere", "3072"), purpose=WGS)
    s.signal("energie_achterstand", household="b-elsewhere", purpose=WGS, kind="municipality")
    s.signal("schuldhulp_aanvraag", household="b-elsewhere", purpose=WGS, kind="municipality")
    s.signal("huurachterstand", household=h("b-expired"), purpose=WGS)
    s.signal("energie_achterstand", household="b-expired", purpose=WGS, kind="municipality")
    s.signal("schuldhulp_aanvraag", household="b-expired", purpose=WGS, kind="municipality",
             expires_on=ON - timedelta(days=1))
    s.signal("huurachterstand", household=h("b-rent-mover"), purpose=WGS)
    s.person("b-mover")
    s.link("b-mover", "b-rent-mover", date(2026, 1, 1))
    s.signal("energie_achterstand", person="b-mover", purpose=WGS, kind="municipality")
    s.signal("zorgpremie_achterstand", person="b-mover", purpose=WGS, kind="municipality")
    return s


FIN, HUIS, GG = "financien", "huisvesting", "geestelijke_gezondheid"

# The oracle, worked out by hand from the rules in policies/trigger.py and the store above:
# households evaluated per area in the policy's scope (a visible signal), and the flagged ones
# with their domains.
EXPECTED: dict[str, dict[str, Any]] = {
    "sim-a": {
        # 3071: met, window-edges, outside-window, expiry, withdrawn, merged, other-purpose,
        # vetoed, repeat, future, before-move, after-move, tie-last, link-home, named-home,
        # person-wgs; "": no-area. Not: only-wgs, tie-first, linked-late, the b-* households.
        "evaluated": {"3071": 16, "": 1},
        "flagged": {
            "met": (FIN, GG, HUIS),
            "window-edges": (FIN, GG, HUIS),
            "expiry": (FIN, GG),
            "no-area": (FIN, GG, HUIS),
            "before-move": (FIN, GG),
            "after-move": (FIN, HUIS, "sociaal_netwerk"),
            "tie-last": (FIN, GG, HUIS),
            "named-home": (FIN, GG, HUIS),
        },
    },
    "sim-b": {
        # 3071: other-purpose, only-wgs, person-wgs, b-met, b-no-rent, b-expired,
        # b-rent-mover. Out of scope: b-elsewhere (3072), no-area.
        "evaluated": {"3071": 7},
        "flagged": {
            "b-met": (FIN, HUIS),
            "only-wgs": (FIN, HUIS),
            "b-rent-mover": (FIN, HUIS, "lichamelijke_gezondheid"),
        },
    },
}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    migrate(MIGRATIONS, db_url)
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def _simulate(engine: sa.Engine, policy: Policy) -> tuple[dict[str, int], dict[int, Any]]:
    with read_snapshot(engine) as conn:
        result = simulate(conn, policy, CATALOGUE, ON)
        outcomes = {c.household_id: c for c in result.candidates}
    return result.evaluated_by_area, outcomes


@pytest.mark.parametrize("policy", [POLICY_A, POLICY_B], ids=["wams", "wgs-area"])
def test_simulation_matches_the_hand_worked_table(engine: sa.Engine, policy: Policy) -> None:
    store = tricky_store()
    store.write(engine)
    evaluated, outcomes = _simulate(engine, policy)
    expected = EXPECTED[policy.id]
    assert {a: n for a, n in evaluated.items() if policy.scope.covers(a)} == expected["evaluated"]
    flagged = {store.label(h): tuple(sorted(c.outcome.domains))
               for h, c in outcomes.items() if c.outcome.met}
    assert flagged == expected["flagged"]
    if policy is POLICY_A:
        # The prefilter: a household with one counted signal, or one type twice, is no
        # candidate; a vetoed one is (the veto is the trigger's to find).
        labels = {store.label(h) for h in outcomes}
        assert {"outside-window", "repeat", "withdrawn", "future"}.isdisjoint(labels)
        assert "vetoed" in labels and not outcomes[store.households["vetoed"][0]].outcome.met
    # The report built from these counts equals the one built from every household's outcome.
    report = summarise_counts(policy, evaluated, ((c.area_code, c.outcome)
                                                  for c in outcomes.values()), ON)
    assert report.households_evaluated.value == sum(expected["evaluated"].values())
    assert report.households_flagged.display == (
        str(len(expected["flagged"])) if len(expected["flagged"]) >= 5 else "<5")


# --- a random store against a plain-Python reading of the rules ----------------------------


def random_store(seed: int) -> Store:
    rng = random.Random(seed)
    s = Store()
    types = ["huurachterstand", "energie_achterstand", "schuldhulp_aanvraag",
             "zorgpremie_achterstand", "verward_gedrag_e33", "ggz_crisiscontact",
             "woonoverlast_melding", "zorgmelding_minderjarige", "middelen_incident"]
    labels = [s.household(f"h{i}", rng.choice(["3071", "3072", None])) for i in range(150)]
    people = [s.person(f"p{i}") for i in range(120)]
    for person in people:
        for _ in range(rng.choice([0, 1, 1, 2, 3])):  # moves; sometimes two on one day
            s.link(person, rng.choice(labels), ON - timedelta(days=rng.choice([400, 100, 60,
                                                                               60, 20])))
    for i in range(2400):
        on_person = rng.random() < 0.3
        s.signal(rng.choice(types),
                 household=None if on_person and rng.random() < 0.9 else rng.choice(labels),
                 person=rng.choice(people) if on_person else None,
                 purpose=rng.choice([WAMS, WAMS, WGS]), days_ago=rng.randrange(-5, 160),
                 state=rng.choice(["live"] * 8 + ["withdrawn", "merged"]),
                 expires_on=ON + timedelta(days=rng.randrange(-30, 200)),
                 kind=f"k{i % 3}")
    return s


def python_oracle(store: Store, policy: Policy) -> list[tuple[str, str, TriggerOutcome]]:
    """(label, area, outcome) of every evaluated household, with visibility read straight
    from the rows: live, not expired on ON, one of the policy's purposes; a person-only signal
    at the household of the person's latest link on or before its observation day (the link
    stored later on a tie); the household's area in the policy's scope."""
    by_id = {hid: (label, area or "") for label, (hid, area) in store.households.items()}
    links: dict[int, list[tuple[date, int, int]]] = {}
    for n, link in enumerate(store.links):
        links.setdefault(link["person_id"], []).append(
            (link["valid_from"], n, link["household_id"]))
    facts: dict[int, list[SignalFact]] = {}
    for n, row in enumerate(store.signals):
        if (row["state"] != "live" or row["expires_on"] < ON
                or row["purpose"] not in policy.purposes):
            continue
        home = row["household_id"]
        if home is None:
            earlier = [x for x in links.get(row["person_id"], []) if x[0] <= row["observed_on"]]
            if not earlier:
                continue
            home = max(earlier)[2]
        domains = frozenset(str(d) for d in CATALOGUE.get(row["signal_type"]).domains)
        facts.setdefault(home, []).append(SignalFact(
            str(n), row["signal_type"], domains, row["purpose"], row["partner_kind"],
            row["observed_on"]))
    return [(by_id[hid][0], by_id[hid][1], evaluate_trigger(policy, fs, ON))
            for hid, fs in facts.items() if policy.scope.covers(by_id[hid][1])]


POLICY_C = parse_policy(document(
    id="sim-c", purposes=[WAMS, WGS], scope={"municipality": "GM0599", "areas": ["3072"]},
    trigger={"window_days": 60, "min_domains": 2, "min_signals": 3,
             "required_types": ["huurachterstand"], "excluded_types": ["middelen_incident"],
             "min_per_domain": {"financien": 2}}))
POLICY_D = parse_policy(document(
    id="sim-d", purposes=[WAMS], scope={"municipality": "GM0599"},
    trigger={"window_days": 200, "min_domains": 1, "min_signals": 1}))


@pytest.mark.parametrize("policy", [POLICY_A, POLICY_B, POLICY_C, POLICY_D],
                         ids=["wams", "wgs-area", "mixed-purposes", "loose"])
def test_simulation_equals_the_rules_read_in_python_on_a_random_store(
        engine: sa.Engine, policy: Policy) -> None:
    store = random_store(17)
    store.write(engine)
    evaluated, outcomes = _simulate(engine, policy)
    every = python_oracle(store, policy)
    want_evaluated: dict[str, int] = {}
    for _, area, _ in every:
        want_evaluated[area] = want_evaluated.get(area, 0) + 1
    want_flagged = {label: tuple(sorted(o.domains)) for label, _, o in every if o.met}
    assert {a: n for a, n in evaluated.items() if policy.scope.covers(a)} == want_evaluated
    got = {store.label(h): tuple(sorted(c.outcome.domains))
           for h, c in outcomes.items() if c.outcome.met}
    assert got == want_flagged
    assert len(want_flagged) >= 3, "the random store flags too few households to tell"
    if policy is not POLICY_D:  # D's trigger is met by almost any signal
        assert len(outcomes) < len(every), "the prefilter let every household through"
    # The matcher's report equals the one summarising every household's outcome.
    assert summarise_counts(policy, evaluated, ((c.area_code, c.outcome)
                                                for c in outcomes.values()), ON) == \
        summarise_simulation(policy, ((area, o) for _, area, o in every), ON)


def test_a_simulation_reads_one_snapshot_and_does_not_hold_up_ingest(
        engine: sa.Engine) -> None:
    """A long simulation must not take the write lock (SQLite), and what it reads stays one
    snapshot: a signal written meanwhile is not seen until the next simulation."""
    store = tricky_store()
    store.write(engine)
    writer = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        with read_snapshot(engine) as conn:
            before = simulate(conn, POLICY_A, CATALOGUE, ON).evaluated_by_area
            with writer.begin() as w:  # would wait for the lock, then fail, under BEGIN IMMEDIATE
                w.execute(sa.insert(households), {"id": 999, "pseudonym": b"x" * 32,
                                                  "area_code": "3071", "created_at": NOW})
                row = dict(store.signals[0], signal_id="late", household_id=999)
                w.execute(sa.insert(signals), row)
            assert simulate(conn, POLICY_A, CATALOGUE, ON).evaluated_by_area == before
        with read_snapshot(engine) as conn:
            after = simulate(conn, POLICY_A, CATALOGUE, ON).evaluated_by_area
            assert after["3071"] == before["3071"] + 1
    finally:
        writer.dispose()
