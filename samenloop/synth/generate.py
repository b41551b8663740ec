"""Build the synthetic city model from a seed: households, persons, links, signals, inquiries.

Every random choice comes from one `random.Random(seed)` and one seeded Faker (`nl_NL`), in a
fixed order, so the same seed and `as_of` always give the same city. Base rates (docs/synth.md):
about 91 % of households have no signal, about 6 % one, about 3 % several across life domains.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from domain.catalogue import Catalogue, load_catalogue
from domain.errors import InvalidValue
from domain.identifiers.address import EXCLUDED_POSTCODE_LETTERS, Address
from domain.identifiers.person import parse_geslachtsnaam, parse_voorvoegsel
from samenloop.synth.model import City, Household, Inquiry, Link, Person, Signal, Withdrawal
from samenloop.synth.rules import PolicyRule, load_library
from samenloop.synth.truth import Oracle

__all__ = ["SHARE_ONE", "SHARE_SEVERAL", "generate_city", "make_bsn"]

SHARE_ONE = 0.06
SHARE_SEVERAL = 0.03
MOVER_SHARE = 0.02
WITHDRAWN_SHARE = 0.08

WGS = "wgs-vroegsignalering"
WAMS = "wams-gecoordineerde-aanpak"
WGS_ARREARS = (
    "energie_achterstand",
    "drinkwater_achterstand",
    "zorgpremie_achterstand",
    "beslaglegging_inkomen",
    "uitkering_beeindigd",
)
WITHDRAWAL_REASONS = ("resolved", "retracted", "error", "objection", "other")
INQUIRY_REASONS = (
    "multiple_problems_suspected",
    "concern_for_children",
    "eviction_threatened",
    "repeated_incidents",
    "care_avoidance",
    "help_stalled",
)
SIGNAL_ID = {
    "housing": "DH-26-{:05d}",
    "police": "PL1700-2026-{:06d}",
    "mental_health": "GD-2026-{:05d}",
    "municipality": "Z-2026-{:05d}",
}
_PREFIXES = (
    "van der",
    "van den",
    "van de",
    "van 't",
    "van",
    "de",
    "den",
    "der",
    "ter",
    "te",
    "in 't",
    "op de",
)
_TOEVOEGINGEN = ("1", "2", "3", "HS", "BIS", "II")


def make_bsn(rng: random.Random) -> str:
    """A random 9-digit number passing the elfproef (leading zeros included)."""
    while True:
        head = [rng.randrange(10) for _ in range(8)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), head, strict=True)) % 11
        if check < 10 and any(head):
            return "".join(map(str, head)) + str(check)


@dataclass
class _Builder:
    """Generation state: the city so far plus what keeps signals unambiguous."""

    city: City
    rng: random.Random
    fake: Faker
    catalogue: Catalogue
    counters: dict[str, int]
    used_keys: set[tuple[str, str, str]]
    oracle_links: dict[str, list[Link]]
    residents: dict[str, list[str]]

    # --- people and places -----------------------------------------------------------------

    def person(self, age_from: int, age_to: int, surname: tuple[str, str] | None) -> Person:
        while True:
            bsn = make_bsn(self.rng)
            if bsn not in self.city.persons:
                break
        voorvoegsel, geslachtsnaam = surname or self.surname()
        first = self.fake.first_name()
        initials = (
            first[0].upper()
            + "."
            + (self.fake.first_name()[0].upper() + "." if self.rng.random() < 0.4 else "")
        )
        age_days = self.rng.randint(age_from * 365 + 1, age_to * 365 + 300)
        person = Person(
            bsn, initials, voorvoegsel, geslachtsnaam, self.city.as_of - timedelta(days=age_days)
        )
        self.city.persons[bsn] = person
        return person

    def surname(self) -> tuple[str, str]:
        """A Faker surname the BRP rules accept (the gateway would refuse the row otherwise)."""
        while True:
            voorvoegsel, name = _split_surname(self.fake.last_name())
            try:
                if parse_geslachtsnaam(name) == name and (
                    not voorvoegsel or parse_voorvoegsel(voorvoegsel) == voorvoegsel
                ):
                    return voorvoegsel, name
            except InvalidValue:
                continue

    def link(self, bsn: str, hid: str, valid_from: date) -> None:
        link = Link(bsn, hid, valid_from)
        self.city.links.append(link)
        self.oracle_links.setdefault(bsn, []).append(link)
        self.residents.setdefault(hid, []).append(bsn)

    def lives_at(self, bsn: str, on: date) -> str | None:
        best = None
        for link in self.oracle_links.get(bsn, []):
            if link.valid_from <= on and (best is None or link.valid_from > best.valid_from):
                best = link
        return best.hid if best else None

    def members(self, hid: str, on: date) -> list[str]:
        """BSNs living at `hid` on `on`, in link order."""
        return [bsn for bsn in self.residents.get(hid, []) if self.lives_at(bsn, on) == hid]

    # --- signals ---------------------------------------------------------------------------

    def days_ago(self, signal_type: str, recent: bool) -> date:
        """A date inside the type's retention; `recent` keeps most within the shortest window."""
        retention = self.catalogue.get(signal_type).retention_days
        top = min(retention - 2, 119 if recent and self.rng.random() < 0.85 else retention - 2)
        return self.city.as_of - timedelta(days=self.rng.randint(0, top))

    def signal(
        self,
        kind: str,
        signal_type: str,
        hid: str,
        purpose: str | None,
        recent: bool,
        person: str | None = None,
    ) -> Signal | None:
        """Add one signal of `signal_type` for household `hid` (a member for person types).

        Returns None (and adds nothing) when no member lives there on the date, or when the
        same partner already has this type for that person or household: a repeat would be a
        refresh at the matcher, which the generator leaves out to keep the oracle plain.
        """
        t = self.catalogue.get(signal_type)
        observed = self.days_ago(signal_type, recent)
        as_person = t.subject == "person" or (
            signal_type == "huiselijk_geweld_incident" and self.rng.random() < 0.5
        )
        bsn = None
        if as_person:
            people = [person] if person else self.members(hid, observed)
            if signal_type in (
                "leerplicht_verzuim",
                "zorgmelding_minderjarige",
                "voortijdig_schoolverlaten",
            ):
                people = [b for b in people if _age(self.city.persons[b], observed) < 23]
            if not people or self.lives_at(people[0], observed) != hid:
                return None
            bsn = self.rng.choice(people)
        keys = {(kind, signal_type, hid)} | ({(kind, signal_type, bsn)} if bsn else set())
        if keys & self.used_keys:
            return None
        self.used_keys |= keys
        if purpose is None or purpose not in t.purposes:
            purpose = self.rng.choice(sorted(t.purposes))
        self.counters[kind] += 1
        s = Signal(
            kind,
            SIGNAL_ID[kind].format(self.counters[kind]),
            signal_type,
            observed,
            purpose,
            bsn=bsn,
            hid=None if bsn else hid,
        )
        self.city.signals.append(s)
        return s

    def kind_for(self, signal_type: str) -> str:
        return self.rng.choice(sorted(self.catalogue.get(signal_type).partner_kinds))


def generate_city(
    households: int,
    seed: int,
    as_of: date,
    *,
    catalogue: Catalogue | None = None,
    share_one: float = SHARE_ONE,
    share_several: float = SHARE_SEVERAL,
) -> City:
    """The city of `households` addresses for `seed` on `as_of` (see the module docstring).

    `share_one` / `share_several` (shares of households with one / several signals) are for
    tests that want dense cities; the CLI keeps the realistic defaults.
    """
    catalogue = catalogue or load_catalogue()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    city = City(seed=seed, as_of=as_of, initial_households=households)
    b = _Builder(city, rng, fake, catalogue, dict.fromkeys(SIGNAL_ID, 0), set(), {}, {})
    addresses = _addresses(rng, fake, households + int(households * MOVER_SHARE) + 2)
    for i, (address, street) in enumerate(addresses[:households], start=1):
        hid = f"HH-{i:05d}"
        city.households[hid] = Household(hid, address, street)
        _populate(b, hid)
    spare = iter(addresses[households:])
    _moves(b, spare)
    for hid in list(city.households)[:households]:
        _signals_for(b, hid, share_one, share_several)
    _movers_signals(b)
    rules = load_library()
    _withdrawals(b, rules)
    _inquiries(b, rules)
    return city


# --- addresses and people ------------------------------------------------------------------------


def _addresses(rng: random.Random, fake: Faker, n: int) -> list[tuple[Address, str]]:
    """`n` distinct addresses in PC4 areas 9901 upwards, then down from 9900 (GM9999).

    A postcode covers one side of a street stretch, about 15 dwellings; some numbers carry a
    huisletter or a toevoeging (upstairs flats), as in the BAG.
    """
    out: list[tuple[Address, str]] = []
    seen: set[str] = set()
    pc4 = 9901
    while len(out) < n:
        letters = rng.choice("ABCDEGHJKLMNPRTVWXZ") + rng.choice("ABCDEGHJKLMNPRTVWXZ")
        postcode = f"{pc4}{letters}"
        if letters in EXCLUDED_POSTCODE_LETTERS or postcode in seen:
            continue
        seen.add(postcode)
        street = fake.street_name()
        number = rng.choice((1, 2, rng.randint(3, 180)))
        for _ in range(rng.randint(8, 22)):
            if len(out) >= n:
                break
            roll = rng.random()
            letter = rng.choice("ABCD") if roll < 0.08 else ""
            toev = rng.choice(_TOEVOEGINGEN) if 0.08 <= roll < 0.2 else ""
            out.append((Address(postcode, number, letter, toev), street))
            number += rng.choice((1, 2, 2, 2))
        if len(seen) % 20 == 0:
            # 9901 up to 9999, then down from 9900: room for about a million households.
            pc4 = pc4 + 1 if 9901 <= pc4 < 9999 else (9900 if pc4 == 9999 else pc4 - 1)
            if pc4 < 1000:
                raise ValueError("too many households for the PC4 range 1000-9999")
    return out


def _split_surname(full: str) -> tuple[str, str]:
    """'van der Berg' or 'Berg, van der' -> ('van der', 'Berg'): the BRP keeps the prefix apart."""
    if ", " in full:
        name, prefix = full.split(", ", 1)
        return prefix.lower(), name
    for prefix in _PREFIXES:
        if full.lower().startswith(prefix + " "):
            return prefix, full[len(prefix) + 1 :]
    return "", full


def _age(person: Person, on: date) -> int:
    return (on - person.geboortedatum).days // 365


def _populate(b: _Builder, hid: str) -> None:
    """1-6 persons: singles, couples, families with children; linked since a past date."""
    size = b.rng.choices((1, 2, 3, 4, 5, 6), weights=(38, 32, 12, 12, 4, 2))[0]
    since = b.city.as_of - timedelta(days=b.rng.randint(400, 9000))
    first = b.person(20, 85 if size == 1 else 60, None)
    surname = (first.voorvoegsel, first.geslachtsnaam)
    b.link(first.bsn, hid, since)
    for i in range(1, size):
        adult = i == 1 and b.rng.random() < 0.8
        p = b.person(20, 60, None) if adult else b.person(0, 17, surname)
        born = p.geboortedatum
        b.link(p.bsn, hid, max(since, born))


def _moves(b: _Builder, it: Iterator[tuple[Address, str]]) -> None:
    """About 2 % of households see a member move to a new address within the last 300 days."""
    for hid in list(b.city.households):
        if b.rng.random() >= MOVER_SHARE:
            continue
        adults = [
            m for m in b.members(hid, b.city.as_of) if _age(b.city.persons[m], b.city.as_of) >= 18
        ]
        try:
            address, street = next(it)
        except StopIteration:
            return
        if not adults:
            continue
        new_hid = f"HH-{len(b.city.households) + 1:05d}"
        b.city.households[new_hid] = Household(new_hid, address, street)
        b.link(b.rng.choice(adults), new_hid, b.city.as_of - timedelta(days=b.rng.randint(20, 300)))


# --- signals -------------------------------------------------------------------------------------


def _signals_for(b: _Builder, hid: str, share_one: float, share_several: float) -> None:
    roll = b.rng.random()
    if roll < share_several:
        b.rng.choice(_SCENARIOS)(b, hid)
    elif roll < share_several + share_one:
        signal_type = b.rng.choice([t.code for t in b.catalogue])
        b.signal(b.kind_for(signal_type), signal_type, hid, None, recent=False)


def _debt(b: _Builder, hid: str) -> None:
    """Wgs early warning: rent arrears plus other arrears, sometimes already in debt help."""
    b.signal("housing", "huurachterstand", hid, WGS, recent=True)
    for t in b.rng.sample(WGS_ARREARS, b.rng.randint(1, 2)):
        b.signal("municipality", t, hid, WGS, recent=True)
    if b.rng.random() < 0.25:
        b.signal("municipality", "schuldhulp_aanvraag", hid, WGS, recent=False)


def _nuisance_money(b: _Builder, hid: str) -> None:
    """Housing nuisance with money problems, under the Wams purpose."""
    b.signal(b.rng.choice(("housing", "police")), "woonoverlast_melding", hid, WAMS, recent=True)
    t = b.rng.choice(("huurachterstand", "energie_achterstand", "schuldhulp_aanvraag"))
    b.signal(b.kind_for(t), t, hid, b.rng.choice((WAMS, WAMS, WGS)), recent=True)


def _multi(b: _Builder, hid: str) -> None:
    """Problems in three or more life domains known to different partners."""
    kinds = b.rng.sample(
        ("housing", "police", "mental_health", "municipality"), b.rng.randint(2, 4)
    )
    for kind in kinds:
        t = b.rng.choice([s.code for s in b.catalogue.for_partner(kind)])
        b.signal(kind, t, hid, WAMS, recent=True)


def _youth(b: _Builder, hid: str) -> None:
    """School absence with a domestic incident or a police care report."""
    b.signal("municipality", "leerplicht_verzuim", hid, WAMS, recent=True)
    t = b.rng.choice(("huiselijk_geweld_incident", "zorgmelding_minderjarige"))
    b.signal("police", t, hid, WAMS, recent=True)


def _random(b: _Builder, hid: str) -> None:
    for _ in range(b.rng.randint(2, 4)):
        t = b.rng.choice([s.code for s in b.catalogue])
        b.signal(b.kind_for(t), t, hid, None, recent=False)


_SCENARIOS: tuple[Callable[[_Builder, str], None], ...] = (
    _debt,
    _nuisance_money,
    _multi,
    _youth,
    _random,
)


def _movers_signals(b: _Builder) -> None:
    """Person signals of movers before and after the move, so both households see one."""
    movers = sorted({bsn for bsn, links in b.oracle_links.items() if len(links) > 1})
    for bsn in movers:
        if b.rng.random() < 0.5:
            continue
        homes = [link.hid for link in b.oracle_links[bsn]]
        types = (
            "ggz_crisiscontact",
            "verward_gedrag_e33",
            "zorgpremie_achterstand",
            "beslaglegging_inkomen",
        )
        for t in b.rng.sample(types, 2):
            for _ in range(4):
                hid = b.rng.choice(homes)
                if b.signal(b.kind_for(t), t, hid, None, recent=True, person=bsn):
                    break


# --- withdrawals and inquiries -------------------------------------------------------------------


def _withdrawals(b: _Builder, rules: list[PolicyRule]) -> None:
    """About 8 % of signals are withdrawn.

    A withdrawal that would turn a standing policy's household from flagged to not flagged is
    left out: the matcher may already have alerted on the signals before the withdrawal came,
    and an alert is not undone by it, so such a case has no single right answer to score.
    """
    standing = [r for r in rules if r.mode == "standing"]
    oracle = Oracle(b.city, b.catalogue)
    for s in list(b.city.signals):
        if b.rng.random() >= WITHDRAWN_SHARE:
            continue
        hid = oracle.household_of_signal(s)
        before = oracle.facts_by_household().get(hid or "", [])
        b.city.withdrawals.append(
            Withdrawal(s.partner_kind, s.signal_id, b.rng.choice(WITHDRAWAL_REASONS))
        )
        after = oracle.facts_by_household().get(hid or "", [])
        if hid and any(
            oracle.met(r, hid, before) and not oracle.met(r, hid, after) for r in standing
        ):
            b.city.withdrawals.pop()


def _inquiries(b: _Builder, rules: list[PolicyRule]) -> None:
    """Inquiries under the on-request policies: mostly by involved partners, some not."""
    on_request = [r for r in rules if r.mode == "on_request"]
    if not on_request:
        return
    oracle = Oracle(b.city, b.catalogue)
    facts = oracle.facts_by_household()
    asked: set[tuple[str, str, str]] = set()

    def ask(kind: str, hid: str, rule: PolicyRule) -> None:
        if (kind, hid, rule.policy_id) not in asked:
            asked.add((kind, hid, rule.policy_id))
            b.city.inquiries.append(
                Inquiry(kind, hid, rule.policy_id, b.rng.choice(INQUIRY_REASONS))
            )

    kinds = ("housing", "police", "mental_health", "municipality")
    for hid in sorted(facts):
        if b.rng.random() < 0.5:
            continue
        fs = facts[hid]
        # An involved professional asks mostly under a policy that fits the household.
        fitting = [r for r in on_request if oracle.met(r, hid, fs)]
        rule = b.rng.choice(fitting if fitting and b.rng.random() < 0.7 else on_request)
        involved = sorted({f.partner_kind for f in fs if f.purpose in rule.purposes})
        if involved:
            ask(b.rng.choice(involved), hid, rule)
        if b.rng.random() < 0.15:
            outsiders = [k for k in kinds if k not in {f.partner_kind for f in fs}]
            if outsiders:
                ask(b.rng.choice(outsiders), hid, rule)
    quiet = [h for h in b.city.households if h not in facts]
    for hid in b.rng.sample(quiet, min(len(quiet), max(1, len(b.city.households) // 500))):
        ask(b.rng.choice(kinds), hid, b.rng.choice(on_request))
