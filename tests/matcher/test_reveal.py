"""The reveal protocol end to end: signed requests, pull, sealed disclosures, team access."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import grpc
import pytest
import sqlalchemy as sa

from crypto.errors import InvalidSignature
from crypto.keys import load_verify_key, load_x25519_private_key
from crypto.sealing import open_sealed
from samenloop.v1 import common_pb2, partner_pb2, wijkteam_pb2
from services.common.disclosure import statement
from services.common.error_reason import (
    DISCLOSURE_KEY_NOT_REGISTERED,
    REVEAL_REQUEST_CLOSED,
    reason_of,
)
from services.matcher import reveal
from services.matcher.schema import disclosures
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, MUNICIPALITY, OTHER_TEAM, POLICE, TEAM


def make_alert(h: Harness, house: str = "3071AB 1") -> str:
    h.publish_policy(id="onthul")
    housing, police, ggz = h.gateway(HOUSING), h.gateway(POLICE), h.gateway(GGZ)
    gemeente = h.gateway(MUNICIPALITY)
    gemeente.submit_links(gemeente.link("l-1", "111222333", house,
                                        h.clock.today().replace(year=2020)))
    housing.submit(housing.signal("h-1", "huurachterstand", household=house))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household=house))
    ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", person="111222333"))
    answer = police.inquire("onthul", house)
    assert answer.answer == partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED
    [alert] = h.alert_names("onthul")
    return alert


def test_reveal_requests_are_signed_and_go_to_their_partner_only(matcher: Harness) -> None:
    alert = make_alert(matcher)
    housing, police, ggz = (matcher.gateway(HOUSING), matcher.gateway(POLICE),
                            matcher.gateway(GGZ))
    # The matcher's public key as the dev PKI publishes it.
    public = load_verify_key(matcher.pki.dir / matcher.pki.component("matcher")["keys"]
                             ["signing"]["public_file"])
    seen = {}
    for partner, client, fields in ((HOUSING, housing, ["postcode", "huisnummer",
                                                        "geslachtsnaam"]),
                                    (POLICE, police, ["contactpersoon"]),
                                    (GGZ, ggz, ["contactpersoon"])):
        [rr] = client.pull()
        doc = reveal.verify(reveal.SignedRequest(rr.signed.payload, rr.signed.signature,
                                                 rr.signed.key_id), public)
        assert doc["partner"] == partner and doc["alert"] == alert
        assert doc["fields"] == fields and list(rr.request.fields) == fields
        assert doc["recipient_public_key"] == matcher.pki.team_public_key(TEAM)
        assert doc["policy_id"] == "onthul" and len(doc["policy_digest"]) == 64
        assert rr.request.name == doc["name"] and rr.request.signal_id == doc["signal_id"]
        assert doc["traceparent"].startswith("00-")
        seen[partner] = rr
    assert seen[HOUSING].request.signal_id == "h-1"
    # A tampered payload does not verify.
    bad = bytearray(seen[POLICE].signed.payload)
    bad[-5] ^= 1
    with pytest.raises(InvalidSignature):
        reveal.verify(reveal.SignedRequest(bytes(bad), seen[POLICE].signed.signature,
                                           seen[POLICE].signed.key_id), public)
    # Unanswered requests are delivered again (at least once), identically.
    [again] = police.pull()
    assert again.signed.payload == seen[POLICE].signed.payload
    # A partner cannot answer another partner's request.
    with pytest.raises(grpc.RpcError) as err:
        housing.refuse(seen[POLICE])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_disclosures_are_opaque_and_only_for_the_recipient_team(matcher: Harness) -> None:
    alert = make_alert(matcher)
    housing, police, ggz = (matcher.gateway(HOUSING), matcher.gateway(POLICE),
                            matcher.gateway(GGZ))
    [rr_h] = housing.pull()
    values = {"postcode": "3071AB", "huisnummer": "1", "geslachtsnaam": "Jansen"}
    first = housing.disclose(rr_h, values)
    assert first.disclosure.startswith(alert + "/disclosures/") and first.audit_index > 0
    assert housing.disclose(rr_h, values).disclosure == first.disclosure  # idempotent
    assert housing.pull() == []  # answered: not delivered again
    [rr_p] = police.pull()
    police.refuse(rr_p, partner_pb2.REFUSAL_REASON_SIGNAL_NOT_LIVE)
    [rr_g] = ggz.pull()
    # A box sealed to another key is refused by the matcher (signed, so that is the check).
    key = ggz.disclosure_key
    with pytest.raises(grpc.RpcError) as err:
        ggz.stub.SubmitDisclosure(partner_pb2.SubmitDisclosureRequest(
            reveal_request=rr_g.request.name,
            sealed=common_pb2.SealedBox(ciphertext=b"x" * 80,
                                        recipient_public_key="A" * 43 + "="),
            disclosure_signature=key.sign_bytes(statement(rr_g.request.name, b"x" * 80,
                                                          GGZ)),
            disclosure_key_id=key.key_id), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not the recipient key of the policy" in (err.value.details() or "")

    # Stored opaque: the matcher holds the ciphertext, never the plaintext.
    with matcher.matcher.engine.connect() as conn:
        stored = conn.execute(sa.select(disclosures.c.ciphertext)).all()
    blob = b"".join(bytes(r[0]) for r in stored if r[0] is not None)
    assert b"Jansen" not in blob and b"3071AB" not in blob

    team = matcher.team(TEAM)
    got = team.GetAlert(wijkteam_pb2.GetAlertRequest(name=alert), timeout=10)
    assert got.team == TEAM and got.state == wijkteam_pb2.ALERT_STATE_OPEN
    assert {s.signal_type for s in got.signals} == {
        "huurachterstand", "politie_herhaalde_inzet_adres", "ggz_crisiscontact"}
    by_partner = {d.partner: d for d in got.disclosures}
    assert by_partner[POLICE].refusal_reason == "REFUSAL_REASON_SIGNAL_NOT_LIVE"
    assert not by_partner[POLICE].HasField("sealed")
    sealed = by_partner[HOUSING].sealed
    inbox = load_x25519_private_key(matcher.pki.key_file(TEAM, "inbox"))
    assert json.loads(open_sealed(inbox, sealed.ciphertext)) == values

    # Another team: not found, not listed, not streamed; cannot act on it.
    other = matcher.team(OTHER_TEAM)
    with pytest.raises(grpc.RpcError) as err:
        other.GetAlert(wijkteam_pb2.GetAlertRequest(name=alert), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        other.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="x"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(other.ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=10).alerts) == []
    missing = "alerts/" + "0" * 32
    with pytest.raises(grpc.RpcError) as err2:
        other.GetAlert(wijkteam_pb2.GetAlertRequest(name=missing), timeout=10)
    assert err2.value.details() == err.value.details().replace(alert, missing)  # same answer

    # The case flow, each step for the recipient team only.
    team.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="r-1"), timeout=10)
    reviewed = team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
        name=alert, decision=wijkteam_pb2.REVIEW_DECISION_CONTACT, reason="concerns_confirmed"),
        timeout=10)
    assert reviewed.state == wijkteam_pb2.ALERT_STATE_REVIEWED and reviewed.regisseur == "r-1"
    assert reviewed.decision_reason == "concerns_confirmed"
    closed = team.CloseAlert(wijkteam_pb2.CloseAlertRequest(
        name=alert, outcome=wijkteam_pb2.ALERT_OUTCOME_HELP_ACCEPTED), timeout=10)
    assert closed.state == wijkteam_pb2.ALERT_STATE_CLOSED
    # Closing cancels what is still outstanding: the GGZ request is no longer delivered.
    assert ggz.pull() == []
    with pytest.raises(grpc.RpcError) as err:
        ggz.refuse(rr_g)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_long_poll_and_stream_wake_on_a_new_alert(matcher: Harness) -> None:
    matcher.publish_policy(id="onthul")
    police = matcher.gateway(POLICE)
    housing = matcher.gateway(HOUSING)
    stream = matcher.team(TEAM).StreamAlerts(wijkteam_pb2.StreamAlertsRequest(), timeout=30)
    other_stream = matcher.team(OTHER_TEAM).StreamAlerts(wijkteam_pb2.StreamAlertsRequest(),
                                                         timeout=3)
    # The server sends its initial metadata once each stream's starting point is fixed; only
    # then is the alert below guaranteed to come after it (however late the call was served).
    stream.initial_metadata()
    other_stream.initial_metadata()
    pulled: list[partner_pb2.SignedRevealRequest] = []
    waiter = threading.Thread(target=lambda: pulled.extend(police.pull(wait=20)))
    waiter.start()
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    police.inquire("onthul", "3071AB 1")
    [alert] = matcher.alert_names("onthul")
    waiter.join(timeout=25)
    assert [rr.request.alert for rr in pulled] == [alert]
    first = next(iter(stream))
    assert first.name == alert and first.team == TEAM
    stream.cancel()
    with pytest.raises(grpc.RpcError) as err:
        list(other_stream)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # nothing for another team
    # A pull with no request waiting returns when its wait is over.
    assert matcher.gateway(GGZ).pull(wait=0.3) == []


def test_a_sealed_box_needs_a_registered_key_and_an_open_request(matcher: Harness) -> None:
    """ADR 0029: no unsigned path. A partner without a registered disclosure key cannot submit
    a sealed box at all (its refusals still count); an answer to a cancelled request says so
    with a reason a gateway acts on."""
    alert = make_alert(matcher)
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    settings = matcher.matcher.settings
    matcher.matcher.settings = replace(settings, partners={
        **settings.partners, POLICE: replace(settings.partners[POLICE], disclosure_key=None)})
    [rr_p] = police.pull()
    with pytest.raises(grpc.RpcError) as err:
        police.disclose(rr_p, {"contactpersoon": "Wijkagent Bakker"})  # signed, but unknown key
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(err.value) == DISCLOSURE_KEY_NOT_REGISTERED
    assert f"partners.{POLICE}.disclosure_key" in (err.value.details() or "")
    [again] = police.pull()  # nothing was stored: the request still waits
    assert again.request.name == rr_p.request.name
    police.refuse(again)  # a refusal carries no identity and needs no key
    # The housing request is cancelled when its signal is withdrawn.
    [rr_h] = housing.pull()
    housing.withdraw("h-1")
    assert housing.pull() == []
    with pytest.raises(grpc.RpcError) as err:
        housing.disclose(rr_h, {"postcode": "3071AB", "huisnummer": "1"})
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(err.value) == REVEAL_REQUEST_CLOSED
    detail = matcher.team().GetAlert(wijkteam_pb2.GetAlertRequest(name=alert), timeout=10)
    assert [d.partner for d in detail.disclosures] == [POLICE]
