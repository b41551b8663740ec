"""Inquiries are no oracle (issue 10 §1): involvement, one bit, rate limit, request_id binding.

Everything end to end: real pseudonymiser, real matcher on loopback mTLS, on SQLite and
PostgreSQL. The expected answers are written here, not derived from the matcher's code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
import sqlalchemy as sa

from samenloop.v1 import audit_pb2, common_pb2, partner_pb2, wijkteam_pb2
from services.common.db import create_engine, migrate
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.schema import alerts, inquiries
from services.matcher.server import serve
from services.matcher.settings import InquiryLimits
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness, settings_for
from tests.matcher.helpers import (
    GGZ,
    HOUSING,
    MUNICIPALITY,
    POLICE,
    WGS,
    Pki,
    bsn,
    build_matcher_for_test,
)

NOT_INDICATED = partner_pb2.INQUIRY_ANSWER_NOT_INDICATED
INDICATED = partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED

# What an answer may hold: the request echoed, its name and time, and one bit.
ANSWER_FIELDS = {"name", "policy", "household", "requester_role", "reason", "request_id",
                 "create_time", "answer"}


def shape(answer: partner_pb2.Inquiry) -> partner_pb2.Inquiry:
    """The answer without what differs per request anyway (name, time, household, request id)."""
    out = partner_pb2.Inquiry()
    out.CopyFrom(answer)
    for name in ("name", "create_time", "household", "request_id"):
        out.ClearField(name)
    return out


def audit_entries(h: Harness, name: str) -> list[audit_pb2.AuditEntry]:
    return list(h.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
        name=name, page_size=1000), timeout=10).entries)


def alert_count(h: Harness) -> int:
    with h.matcher.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one())


def inquiry_count(h: Harness) -> int:
    with h.matcher.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(inquiries)).scalar_one())


def test_an_uninvolved_partner_learns_nothing(matcher: Harness) -> None:
    """The demonstrated attack: the housing gateway asks about addresses it never reported on,
    where other partners hold health and police signals. Today it learned their life domains."""
    matcher.publish_policy(id="wams")
    police, ggz = matcher.gateway(POLICE), matcher.gateway(GGZ)
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    since = matcher.clock.today() - timedelta(days=365)
    gemeente.submit_links(gemeente.link("l-1", bsn(1), "3071AB 1", since),
                          gemeente.link("l-3", bsn(3), "3071AB 3", since))
    # 1: a GGZ crisis contact of a resident; 2: a police domestic incident.
    accepted = [
        *ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", person=bsn(1))).results,
        *police.submit(police.signal("p-1", "huiselijk_geweld_incident",
                                     household="3071AB 2")).results,
        # 3: police and GGZ together meet the trigger (an alert is due, for an involved asker).
        *police.submit(police.signal("p-3", "huiselijk_geweld_incident",
                                     household="3071AB 3")).results,
        *ggz.submit(ggz.signal("g-3", "ggz_crisiscontact", person=bsn(3))).results,
        # 5: housing's own signal, trigger not met: an involved asker's honest "not indicated".
        *housing.submit(housing.signal("h-5", "huurachterstand", household="3071AB 5")).results,
    ]
    assert [r.outcome for r in accepted] == [common_pb2.ROW_OUTCOME_ACCEPTED] * 5

    probes = {house: housing.inquire("wams", house, request_id=f"probe-{i}")
              for i, house in enumerate(["3071AB 1", "3071AB 2", "3071AB 3", "3071AB 4"])}
    honest = housing.inquire("wams", "3071AB 5")
    expected = partner_pb2.Inquiry(policy="policies/wams",
                                   requester_role="community_police_officer",
                                   reason="multiple_problems_suspected", answer=NOT_INDICATED)
    for house, answer in {**probes, "3071AB 5": honest}.items():
        assert shape(answer) == expected, house
        assert {f.name for f, _ in answer.ListFields()} == ANSWER_FIELDS, house
        assert answer.name.startswith("inquiries/") and len(answer.name) == len(honest.name)
    # The uninvolved inquiry about a household that meets the trigger made no alert ...
    assert alert_count(matcher) == 0
    # ... and each refusal is audited with its code; the honest answer is an ordinary entry.
    refused = audit_entries(matcher, "inquiry_refused")
    assert sorted(e.attributes["refusal"] for e in refused) == ["not_involved"] * 4
    assert {e.actor_organisation for e in refused} == {HOUSING}
    assert {e.attributes["result"] for e in refused} == {"not_indicated"}
    [received] = audit_entries(matcher, "inquiry_received")
    assert received.attributes["result"] == "not_indicated"
    # The involved police asking about 3 gets the other bit, and the alert starts.
    assert police.inquire("wams", "3071AB 3").answer == INDICATED
    assert alert_count(matcher) == 1


def test_involvement_through_a_linked_person_and_under_the_policy_purposes(
    matcher: Harness,
) -> None:
    matcher.publish_policy(id="wams")  # purposes: wams-gecoordineerde-aanpak
    gemeente, police, ggz = (matcher.gateway(MUNICIPALITY), matcher.gateway(POLICE),
                             matcher.gateway(GGZ))
    housing = matcher.gateway(HOUSING)
    today = matcher.clock.today()
    house = "3071AB 20"
    # The person has lived at 20 for 30 days; before that elsewhere.
    gemeente.submit_links(gemeente.link("l-0", bsn(7), "3071AB 99", today - timedelta(days=400)),
                          gemeente.link("l-1", bsn(7), house, today - timedelta(days=30)))
    # Police: a person signal after the move, so it lands on 20 (police involved there).
    police.submit(police.signal("p-1", "huiselijk_geweld_incident", person=bsn(7), days_ago=3))
    # GGZ: a person signal from before the move; it lands on 99, not on 20.
    ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", person=bsn(7), days_ago=60))
    # Housing: a signal at 20, but under the Wgs purpose the policy does not cover.
    housing.submit(housing.signal("h-1", "huurachterstand", household=house, purpose=WGS))
    gemeente.submit(gemeente.signal("m-1", "schuldhulp_aanvraag", household=house))
    # The trigger is met at 20 (police + municipality). GGZ and housing are not involved there.
    assert ggz.inquire("wams", house).answer == NOT_INDICATED
    assert housing.inquire("wams", house).answer == NOT_INDICATED
    assert alert_count(matcher) == 0
    assert police.inquire("wams", house).answer == INDICATED
    assert alert_count(matcher) == 1
    refusals = [(e.actor_organisation, e.attributes["refusal"])
                for e in audit_entries(matcher, "inquiry_refused")]
    assert sorted(refusals) == [(GGZ, "not_involved"), (HOUSING, "not_involved")]


def test_the_answer_is_the_same_when_created_open_or_in_cooldown(matcher: Harness) -> None:
    matcher.publish_policy(id="wams", cooldown_days=30)
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    created = police.inquire("wams", "3071AB 1")
    already_open = police.inquire("wams", "3071AB 1")
    [alert] = matcher.alert_names("wams")
    team = matcher.team()
    team.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="r-17"), timeout=10)
    team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
        name=alert, decision=wijkteam_pb2.REVIEW_DECISION_NO_CONTACT,
        reason="help_already_in_place"), timeout=10)
    team.CloseAlert(wijkteam_pb2.CloseAlertRequest(
        name=alert, outcome=wijkteam_pb2.ALERT_OUTCOME_ALREADY_IN_CARE), timeout=10)
    in_cooldown = housing.inquire("wams", "3071AB 1")
    assert alert_count(matcher) == 1
    expected = partner_pb2.Inquiry(policy="policies/wams",
                                   requester_role="community_police_officer",
                                   reason="multiple_problems_suspected", answer=INDICATED)
    for answer in (created, already_open, in_cooldown):
        assert shape(answer) == expected


def _limited(db_url: str, pki: Pki, pseudonymiser: Pseudonymiser, clock: SettableClock,
             limits: InquiryLimits) -> Harness:
    engine = create_engine(db_url)
    m = build_matcher_for_test(engine, pki, settings_for(pki, pseudonymiser, inquiries=limits),
                               clock)
    server = serve(m, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=8)
    return Harness(pki, pseudonymiser, m, server, clock)


@pytest.fixture
def replicas(db_url: str, pki: Pki, pseudonymiser: Pseudonymiser) -> Iterator[list[Harness]]:
    """Two matcher servers (own engines, own memory) on one database, limits 3/min, 5/day."""
    migrate(MIGRATIONS, db_url)
    clock = SettableClock(SystemClock().now())
    limits = InquiryLimits(per_minute=3, per_day=5)
    both = [_limited(db_url, pki, pseudonymiser, clock, limits) for _ in range(2)]
    yield both
    for h in both:
        h.close()
        h.server.stop(0)
        h.matcher.engine.dispose()


def test_rate_limit_per_partner_across_replicas(replicas: list[Harness]) -> None:
    one, two = replicas
    one.publish_policy(id="wams")
    police = [one.gateway(POLICE), two.gateway(POLICE)]
    police[0].submit(police[0].signal("p-1", "huiselijk_geweld_incident", household="3071AB 1"))
    houses = [f"3071AB {i}" for i in range(1, 8)]
    police[0].warm(addresses=houses)
    # Three in one minute, alternating replicas: fine. The fourth, on either replica: refused.
    first = [police[i % 2].inquire("wams", houses[i], request_id=f"q-{i}") for i in range(3)]
    for replica in police:
        with pytest.raises(grpc.RpcError) as err:
            replica.inquire("wams", houses[3])
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = err.value.details() or ""
        assert "\n" not in details and "3 per minute" in details
    # A retry of an answered request is not a new inquiry: the same answer, not refused.
    assert police[1].inquire("wams", houses[0], request_id="q-0") == first[0]
    # Another partner has its own budget.
    ggz = two.gateway(GGZ)
    assert ggz.inquire("wams", houses[0]).answer == NOT_INDICATED
    # A minute later two more fit the day's budget of five; the sixth is refused for the day.
    one.clock.advance(timedelta(seconds=61))
    police[1].inquire("wams", houses[4])
    police[0].inquire("wams", houses[5])
    one.clock.advance(timedelta(seconds=61))
    with pytest.raises(grpc.RpcError) as err:
        police[1].inquire("wams", houses[6])
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "5 per day" in (err.value.details() or "")
    refusals = [e.attributes["refusal"] for e in audit_entries(one, "inquiry_refused")
                if e.actor_organisation == POLICE]
    assert refusals.count("rate_limited") == 3
    # A day later the budget is back.
    one.clock.advance(timedelta(days=1))
    assert police[0].inquire("wams", houses[6]).answer == NOT_INDICATED


def test_rate_limit_holds_for_concurrent_inquiries_on_two_replicas(
    replicas: list[Harness],
) -> None:
    one, two = replicas
    one.publish_policy(id="wams")
    gateways = [one.gateway(POLICE), two.gateway(POLICE)]
    houses = [f"3072AB {i}" for i in range(1, 11)]
    gateways[0].warm(addresses=houses)
    codes: list[grpc.StatusCode] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        try:
            gateways[i % 2].inquire("wams", houses[i])
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(c.name for c in codes) == ["OK"] * 3 + ["RESOURCE_EXHAUSTED"] * 7
    assert inquiry_count(one) == 3


def test_a_request_id_is_bound_to_its_content(matcher: Harness) -> None:
    matcher.publish_policy(id="wams")
    matcher.publish_policy(id="wams-2")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    police.submit(police.signal("p-2", "politie_herhaalde_inzet_adres", household="3071AB 2"))
    first = police.inquire("wams", "3071AB 1", request_id="vraag-1")
    assert first.answer == INDICATED
    # The identical request again: the identical answer (name and time included).
    assert police.inquire("wams", "3071AB 1", request_id="vraag-1") == first
    stored = inquiry_count(matcher)
    # The same id for another household, policy, role or reason: refused, never answered.
    for policy, house, extra in (
        ("wams", "3071AB 2", {}),
        ("wams-2", "3071AB 1", {}),
        ("wams", "3071AB 1", {"reason": "repeated_incidents"}),
        ("wams", "3071AB 1", {"requester_role": "social_worker"}),
    ):
        with pytest.raises(grpc.RpcError) as err:
            police.inquire(policy, house, request_id="vraag-1", **extra)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "request_id" in (err.value.details() or "")
    assert inquiry_count(matcher) == stored
    refusals = [e.attributes["refusal"] for e in audit_entries(matcher, "inquiry_refused")]
    assert refusals == ["request_id_reused"] * 4
    # Another partner may use the same id for its own question.
    assert housing.inquire("wams", "3071AB 2", request_id="vraag-1").answer == NOT_INDICATED
