"""Matching end to end: each trigger rule, the two modes, purposes, scope, cooldown."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from samenloop.v1 import common_pb2, partner_pb2, wijkteam_pb2
from tests.matcher.client import GatewayTestClient
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, MUNICIPALITY, POLICE, WAMS, WGS

NOT_MET = partner_pb2.INQUIRY_ANSWER_NOT_INDICATED
CREATED = partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED


def list_alerts(h: Harness, team: str = "wijkteam-feijenoord") -> list[wijkteam_pb2.Alert]:
    return list(h.team(team).ListAlerts(wijkteam_pb2.ListAlertsRequest(page_size=500),
                                        timeout=10).alerts)


def test_each_trigger_rule(matcher: Harness) -> None:
    """One on_request policy per rule; households built to sit just on either side of it."""
    matcher.publish_policy(id="rule-window", trigger__window_days=30)
    matcher.publish_policy(id="rule-signals", trigger__min_signals=3)
    matcher.publish_policy(id="rule-domains", trigger__min_domains=3)
    matcher.publish_policy(id="rule-required", trigger__required_types=["huurachterstand"])
    matcher.publish_policy(id="rule-excluded", trigger__excluded_types=["ggz_zorgmijding"])
    matcher.publish_policy(id="rule-per-domain", trigger__min_per_domain={"justitie": 2})
    housing, police, ggz = (matcher.gateway(HOUSING), matcher.gateway(POLICE),
                            matcher.gateway(GGZ))
    gemeente = matcher.gateway(MUNICIPALITY)

    def ask(policy: str, house: str, asker: GatewayTestClient = housing) -> int:
        """Asked by a partner with a signal of its own there (involved)."""
        return asker.inquire(policy, house).answer

    # Window: housing 40 days ago + police 2 days ago -> outside a 30-day window.
    housing.submit(housing.signal("w-1", "huurachterstand", household="3071AB 1", days_ago=40))
    police.submit(police.signal("w-2", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    assert ask("rule-window", "3071AB 1") == NOT_MET
    housing.submit(housing.signal("w-3", "ontruiming_aangezegd", household="3071AB 1",
                                  days_ago=29))
    assert ask("rule-window", "3071AB 1") == CREATED

    # Minimum signals: two types over 3 domains but only 2 signals.
    housing.submit(housing.signal("s-1", "woonoverlast_melding", household="3071AB 2"))
    police.submit(police.signal("s-2", "politie_herhaalde_inzet_adres", household="3071AB 2"))
    assert ask("rule-signals", "3071AB 2") == NOT_MET
    police.submit(police.signal("s-3", "huiselijk_geweld_incident", household="3071AB 2"))
    assert ask("rule-signals", "3071AB 2") == CREATED

    # Minimum domains: 3 distinct domains by different types.
    housing.submit(housing.signal("d-1", "huurachterstand", household="3071AB 3"))
    gemeente.submit(gemeente.signal("d-2", "energie_achterstand", household="3071AB 3"))
    assert ask("rule-domains", "3071AB 3") == NOT_MET  # financien, huisvesting: 2
    police.submit(police.signal("d-3", "politie_herhaalde_inzet_adres", household="3071AB 3"))
    assert ask("rule-domains", "3071AB 3") == CREATED

    # Required type.
    police.submit(police.signal("r-1", "politie_herhaalde_inzet_adres", household="3071AB 4"))
    housing.submit(housing.signal("r-2", "woonoverlast_melding", household="3071AB 4"))
    assert ask("rule-required", "3071AB 4") == NOT_MET
    housing.submit(housing.signal("r-3", "huurachterstand", household="3071AB 4"))
    assert ask("rule-required", "3071AB 4") == CREATED

    # Excluded type vetoes, whatever else is there; withdrawing it lifts the veto.
    gemeente.submit_links(gemeente.link("x-l", "111222333", "3071AB 5",
                                        matcher.clock.today() - timedelta(days=365)))
    housing.submit(housing.signal("x-1", "huurachterstand", household="3071AB 5"))
    police.submit(police.signal("x-2", "politie_herhaalde_inzet_adres", household="3071AB 5"))
    ggz.submit(ggz.signal("x-3", "ggz_zorgmijding", person="111222333", days_ago=200 - 20))
    assert ask("rule-excluded", "3071AB 5") == NOT_MET
    ggz.withdraw("x-3")
    assert ask("rule-excluded", "3071AB 5") == CREATED

    # Minimum per domain: two justitie signals of different types.
    police.submit(police.signal("m-1", "politie_herhaalde_inzet_adres", household="3071AB 6"))
    housing.submit(housing.signal("m-2", "huurachterstand", household="3071AB 6"))
    assert ask("rule-per-domain", "3071AB 6", police) == NOT_MET
    police.submit(police.signal("m-3", "huiselijk_geweld_incident", household="3071AB 6"))
    assert ask("rule-per-domain", "3071AB 6", police) == CREATED

    alerts = list_alerts(matcher)
    assert sorted(a.policy_id for a in alerts) == sorted(
        ["rule-window", "rule-signals", "rule-domains", "rule-required", "rule-excluded",
         "rule-per-domain"])
    assert all(a.mode == "on_request" for a in alerts)


def test_on_request_only_on_request_and_standing_for_every_household(matcher: Harness) -> None:
    matcher.publish_policy(id="op-verzoek")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    assert list_alerts(matcher) == []  # on_request: nothing without an inquiry
    answer = police.inquire("op-verzoek", "3071AB 1", reason="repeated_incidents",
                            requester_role="community_police_officer")
    assert answer.answer == CREATED
    [alert] = list_alerts(matcher)
    assert set(alert.domains) == {"financien", "huisvesting", "huiselijke_relaties", "justitie"}
    again = police.inquire("op-verzoek", "3071AB 1")
    assert again.answer == CREATED and [a.name for a in list_alerts(matcher)] == [alert.name]
    # The same request id answers the same (idempotent).
    first = police.inquire("op-verzoek", "3071AB 1", request_id="vraag-1")
    assert police.inquire("op-verzoek", "3071AB 1", request_id="vraag-1").name == first.name
    # An unknown household is simply not indicated.
    assert police.inquire("op-verzoek", "9999ZZ 1").answer == NOT_MET

    # Standing: every household, on every change, without an inquiry.
    matcher.publish_policy(id="staand", mode="standing")
    gemeente = matcher.gateway(MUNICIPALITY)
    for i in range(2, 6):
        housing.submit(housing.signal(f"hs-{i}", "huurachterstand", household=f"3071AB {i}",
                                      purpose=WGS))
    gemeente.submit(*[gemeente.signal(f"gs-{i}", "energie_achterstand",
                                      household=f"3071AB {i}", purpose=WGS)
                      for i in range(2, 5)])
    standing = [a for a in list_alerts(matcher) if a.policy_id == "staand"]
    assert len(standing) == 3 and {a.mode for a in standing} == {"standing"}
    with pytest.raises(grpc.RpcError) as err:
        police.inquire("staand", "3071AB 5")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        police.inquire("bestaat-niet", "3071AB 5")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_purposes_keep_signals_apart(matcher: Harness) -> None:
    matcher.publish_policy(id="alleen-wams", purposes=[WAMS])
    matcher.publish_policy(id="alleen-wgs", mode="standing")
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    # Collected under the Wgs: invisible to the Wams policy.
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1", purpose=WGS))
    gemeente.submit(gemeente.signal("g-1", "schuldhulp_aanvraag", household="3071AB 1",
                                    purpose=WAMS))
    gemeente.submit(gemeente.signal("g-2", "woning_ernstig_vervuild", household="3071AB 1",
                                    purpose=WAMS))
    assert gemeente.inquire("alleen-wams", "3071AB 1").answer == CREATED
    [listed] = list_alerts(matcher)
    assert set(listed.domains) == {"financien", "huisvesting", "instrumentele_adl"}
    alert = matcher.team().GetAlert(wijkteam_pb2.GetAlertRequest(name=listed.name), timeout=10)
    assert sorted(s.signal_type for s in alert.signals) == [
        "schuldhulp_aanvraag", "woning_ernstig_vervuild"]
    # ... and the Wams signals are invisible to the Wgs policy: no standing alert.
    assert [a.policy_id for a in list_alerts(matcher)] == ["alleen-wams"]


def test_scope_by_area(matcher: Harness) -> None:
    matcher.publish_policy(id="alleen-3072", scope__areas=["3072"])
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    for house, area in (("3071AB 1", "3071"), ("3072AB 1", "3072")):
        housing.submit(housing.signal(f"h-{area}", "huurachterstand", household=house,
                                      area_code=area))
        police.submit(police.signal(f"p-{area}", "politie_herhaalde_inzet_adres",
                                    household=house, area_code=area))
    assert police.inquire("alleen-3072", "3071AB 1").answer == NOT_MET
    assert police.inquire("alleen-3072", "3072AB 1").answer == CREATED


def _close(h: Harness, alert: str) -> None:
    team = h.team()
    team.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="r-17"), timeout=10)
    team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
        name=alert, decision=wijkteam_pb2.REVIEW_DECISION_NO_CONTACT,
        reason="help_already_in_place"), timeout=10)
    team.CloseAlert(wijkteam_pb2.CloseAlertRequest(
        name=alert, outcome=wijkteam_pb2.ALERT_OUTCOME_ALREADY_IN_CARE), timeout=10)


def test_cooldown_and_new_signals(matcher: Harness) -> None:
    matcher.publish_policy(id="afkoel", mode="standing", cooldown_days=30)
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1", purpose=WGS))
    gemeente.submit(gemeente.signal("g-1", "energie_achterstand", household="3071AB 1",
                                    purpose=WGS))
    [alert] = list_alerts(matcher)
    # Closing needs assignment and a review first (human in the loop).
    with pytest.raises(grpc.RpcError) as err:
        matcher.team().CloseAlert(wijkteam_pb2.CloseAlertRequest(
            name=alert.name, outcome=wijkteam_pb2.ALERT_OUTCOME_UNREACHABLE), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    _close(matcher, alert.name)
    # Within the cooldown: a new signal does not make a new alert.
    gemeente.submit(gemeente.signal("g-2", "drinkwater_achterstand", household="3071AB 1",
                                    purpose=WGS))
    assert len(list_alerts(matcher)) == 1
    # After the cooldown: g-2 arrived after the closed alert, so it is new: a new alert.
    matcher.clock.advance(timedelta(days=31))
    housing.submit(housing.signal("h-1b", "huurachterstand", household="3071AB 1", purpose=WGS,
                                  days_ago=0))
    assert len(list_alerts(matcher)) == 2  # g-2 was new since the closed alert
    [new, old] = list_alerts(matcher)
    assert old.state == wijkteam_pb2.ALERT_STATE_CLOSED
    assert new.state == wijkteam_pb2.ALERT_STATE_OPEN
    _close(matcher, new.name)
    matcher.clock.advance(timedelta(days=31))
    housing.submit(housing.signal("h-1c", "huurachterstand", household="3071AB 1", purpose=WGS,
                                  days_ago=0))
    assert len(list_alerts(matcher)) == 2  # nothing new since the second alert
    gemeente.submit(gemeente.signal("g-3", "beslaglegging_inkomen", person="111222333",
                                    purpose=WGS))
    gemeente.submit_links(gemeente.link("l-1", "111222333", "3071AB 1",
                                        matcher.clock.today() - timedelta(days=100)))
    assert len(list_alerts(matcher)) == 3  # a linked person's new signal is new


def test_a_person_only_signal_completes_the_household_it_is_linked_to(matcher: Harness) -> None:
    """The last signal a standing policy needs is about a person, not the address: the batch that
    brings it evaluates the household the person is linked to on its observed date, so the alert
    is made then (not only when the household gets its next signal)."""
    matcher.publish_policy(id="persoon", mode="standing")
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    on = matcher.clock.today() - timedelta(days=1)
    gemeente.submit_links(gemeente.link("p-l", "111222333", "3071AB 9",
                                        matcher.clock.today() - timedelta(days=100)))
    housing.submit(housing.signal("p-1", "huurachterstand", household="3071AB 9", purpose=WGS,
                                  observed_on=on))
    assert [a for a in list_alerts(matcher) if a.policy_id == "persoon"] == []
    got = gemeente.submit(gemeente.signal("p-2", "beslaglegging_inkomen", person="111222333",
                                          purpose=WGS, observed_on=on))
    assert [r.outcome for r in got.results] == [common_pb2.ROW_OUTCOME_ACCEPTED], got
    assert len([a for a in list_alerts(matcher) if a.policy_id == "persoon"]) == 1
