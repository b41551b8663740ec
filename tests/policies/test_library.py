"""The example policies in policies/library: lint clean, and they do what their docs say."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.catalogue import load_catalogue
from policies.lint import lint_file
from policies.model import PolicyMode, load_policy
from policies.trigger import SignalFact, evaluate_trigger

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
FILES = sorted(LIBRARY.glob("*.yaml"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy-library.md"
# The library's validity is a deliberate example period, the same for every policy and stated in
# docs/policy-library.md ("Validity"): an adopting municipality sets its own dates. Tests judge
# each policy inside that period, so they do not depend on the calendar.
VALIDITY = (date(2026, 1, 1), date(2027, 12, 31))
ON = date(2026, 6, 1)


def test_library_is_not_empty() -> None:
    assert len(FILES) >= 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_library_validity_is_the_documented_period(path: Path) -> None:
    p = load_policy(path)
    assert (p.valid_from, p.valid_until) == VALIDITY
    assert VALIDITY[0] <= ON <= VALIDITY[1]
    text = DOCS.read_text(encoding="utf-8")
    assert f"`valid_from: {VALIDITY[0]}`" in text and f"`valid_until: {VALIDITY[1]}`" in text


@pytest.mark.parametrize("day", [VALIDITY[0], ON, VALIDITY[1]], ids=str)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_library_policy_lints_clean_on_every_day_of_its_validity(path: Path, day: date) -> None:
    report = lint_file(path, today=day)
    assert report.findings == (), [f.render(path.name) for f in report.findings]
    assert report.policy is not None and report.policy.id == path.stem


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_after_its_validity_lint_says_to_set_new_dates(path: Path) -> None:
    report = lint_file(path, today=VALIDITY[1] + timedelta(days=1))
    assert [f.path for f in report.errors] == ["valid_until"]
    assert "set a new valid_until and a higher version" in report.errors[0].message


_counter = iter(range(10_000))


def signal(code: str, purpose: str, days_ago: int = 10) -> SignalFact:
    t = load_catalogue().get(code)
    return SignalFact(
        key=f"k{next(_counter)}",
        signal_type=code,
        domains=frozenset(d.value for d in t.domains),
        purpose=purpose,
        partner_kind=sorted(k.value for k in t.partner_kinds)[0],
        observed_on=ON - timedelta(days=days_ago),
    )


WGS = "wgs-vroegsignalering"
WAMS = "wams-gecoordineerde-aanpak"


def test_wgs_standing_policy() -> None:
    p = load_policy(LIBRARY / "wgs-vroegsignalering-wonen.yaml")
    assert p.mode is PolicyMode.STANDING
    rent, energy = signal("huurachterstand", WGS), signal("energie_achterstand", WGS)
    assert evaluate_trigger(p, [rent, energy], ON).met
    # rent arrears alone spans two domains but is one signal; a repeat is the same problem
    assert not evaluate_trigger(p, [rent], ON).met
    assert not evaluate_trigger(p, [rent, signal("huurachterstand", WGS)], ON).met
    # without rent arrears, two other arrears do not fire
    assert not evaluate_trigger(p, [energy, signal("drinkwater_achterstand", WGS)], ON).met
    # already applied for debt help: vetoed
    assert not evaluate_trigger(p, [rent, energy, signal("schuldhulp_aanvraag", WGS)], ON).met
    # the same signals collected for the Wams purpose are invisible to it
    assert not evaluate_trigger(
        p, [signal("huurachterstand", WAMS), signal("energie_achterstand", WAMS)], ON
    ).met


def test_wams_nuisance_and_money() -> None:
    p = load_policy(LIBRARY / "wams-overlast-schulden.yaml")
    assert p.mode is PolicyMode.ON_REQUEST
    nuisance = signal("woonoverlast_melding", WAMS)
    assert evaluate_trigger(p, [nuisance, signal("huurachterstand", WAMS)], ON).met
    assert not evaluate_trigger(
        p, [nuisance, signal("politie_herhaalde_inzet_adres", WAMS)], ON
    ).met  # no money problem
    assert not evaluate_trigger(p, [nuisance, signal("huurachterstand", WGS)], ON).met


def test_wams_broad_needs_three_domains() -> None:
    p = load_policy(LIBRARY / "wams-meervoudige-problematiek.yaml")
    assert set(p.disclosure.partner_kinds) == {"housing", "police", "mental_health", "municipality"}
    assert p.disclosure.fields_for("mental_health") == ("contactpersoon",)
    two = [signal("huurachterstand", WAMS), signal("energie_achterstand", WAMS)]
    assert not evaluate_trigger(p, two, ON).met
    three = [*two, signal("ggz_crisiscontact", WAMS)]
    assert evaluate_trigger(p, three, ON).met


def test_youth_truancy_and_domestic_incident() -> None:
    p = load_policy(LIBRARY / "jeugd-verzuim-huiselijk-geweld.yaml")
    truancy = signal("leerplicht_verzuim", WAMS)
    assert evaluate_trigger(p, [truancy, signal("huiselijk_geweld_incident", WAMS)], ON).met
    assert evaluate_trigger(p, [truancy, signal("zorgmelding_minderjarige", WAMS)], ON).met
    assert not evaluate_trigger(p, [truancy, signal("voortijdig_schoolverlaten", WAMS)], ON).met
    assert not evaluate_trigger(
        p, [signal("huiselijk_geweld_incident", WAMS), signal("huurachterstand", WAMS)], ON
    ).met
