"""PolicyService and AuditService over gRPC; the matcher CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import nacl.signing
import pytest
import sqlalchemy as sa

from policies.approvals import sign_policy, with_approval
from policies.model import ApprovalRole, parse_policy
from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, wijkteam_pb2
from services.matcher.schema import alerts, audit_events
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import OFFICER, PARTNER_OFFICER, Harness
from tests.matcher.helpers import (
    GGZ,
    HOUSING,
    MUNICIPALITY,
    POLICE,
    WGS,
    Pki,
    document_bytes,
    policy_document,
    sign,
)
from tests.matcher.test_replicas import cli, write_config


def publish_raw(h: Harness, doc: dict) -> grpc.RpcError:  # type: ignore[type-arg]
    with pytest.raises(grpc.RpcError) as err:
        h.officer().PublishPolicy(policy_pb2.PublishPolicyRequest(document=document_bytes(doc)),
                                  timeout=10)
    return err.value


def test_publish_checks_lint_signatures_and_municipality(matcher: Harness) -> None:
    pki = matcher.pki
    one = sign(pki, policy_document(pki), officers=1)
    assert publish_raw(matcher, one).code() == grpc.StatusCode.FAILED_PRECONDITION
    tampered = sign(pki, policy_document(pki))
    tampered["trigger"]["min_signals"] = 5
    err = publish_raw(matcher, tampered)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "privacy officers" in err.details()
    err = publish_raw(matcher, sign(pki, policy_document(pki, trigger__min_domains=1)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "min_domains" in err.details()
    other = sign(pki, policy_document(pki, scope={"municipality": "GM0363"}))
    assert publish_raw(matcher, other).code() == grpc.StatusCode.FAILED_PRECONDITION
    # Parsed with the officers' reader: a duplicate key (which plain YAML would silently
    # resolve to the last value) is refused rather than verified against what was signed.
    signed = document_bytes(sign(pki, policy_document(pki))).decode()
    assert signed.endswith("}")
    with pytest.raises(grpc.RpcError) as duplicate:
        matcher.officer().PublishPolicy(policy_pb2.PublishPolicyRequest(
            document=(signed[:-1] + ', "id": "other"}').encode()), timeout=10)
    assert duplicate.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "field 'id' appears twice" in duplicate.value.details()

    published = matcher.publish_policy(id="pol-1")
    assert published.state == policy_pb2.POLICY_STATE_ACTIVE and published.version == 1
    assert len(published.digest) == 64 and b"approvals" in published.document_json
    assert matcher.publish_policy(id="pol-1").digest == published.digest  # idempotent
    v2 = matcher.publish_policy(id="pol-1", version=2, cooldown_days=60)
    assert v2.version == 2
    listed = matcher.gateway(HOUSING).policies.ListPolicies(policy_pb2.ListPoliciesRequest(),
                                                            timeout=10).policies
    assert [(p.policy_id, p.version) for p in listed] == [("pol-1", 2)]
    everything = matcher.officer().ListPolicies(
        policy_pb2.ListPoliciesRequest(include_inactive=True), timeout=10).policies
    assert [p.version for p in everything] == [1, 2]
    assert everything[0].state == policy_pb2.POLICY_STATE_OUT_OF_VALIDITY  # superseded
    got = matcher.gateway(HOUSING).policies.GetPolicy(policy_pb2.GetPolicyRequest(
        name="policies/pol-1"), timeout=10)
    assert got.version == 2


def test_revoke_stops_matching_and_cancels_reveal_requests(matcher: Harness) -> None:
    matcher.publish_policy(id="intrekken")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    assert police.inquire("intrekken", "3071AB 1").answer == \
        partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED
    revoked = matcher.revoke("intrekken", reason="dpia_revised")
    assert revoked.state == policy_pb2.POLICY_STATE_REVOKED
    assert revoked.revoke_reason == "dpia_revised"
    with pytest.raises(grpc.RpcError) as err:
        police.inquire("intrekken", "3071AB 2")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert housing.pull() == [] and police.pull() == []
    # The open alert stays for the team to close.
    [alert] = matcher.team().ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=10).alerts
    assert alert.state == wijkteam_pb2.ALERT_STATE_OPEN
    # The revoked document cannot be published again.
    again = sign(matcher.pki, policy_document(matcher.pki, id="intrekken"))
    assert publish_raw(matcher, again).code() == grpc.StatusCode.ALREADY_EXISTS


def expected_revocation_bytes(r: policy_pb2.PolicyRevocation) -> bytes:
    """The signed bytes, written out here from the format in docs/policies.md (for ASCII
    values and integers, sorted keys without spaces are RFC 8785)."""
    body = {"digest": r.digest, "key_id": r.key_id, "officer_id": r.officer_id,
            "policy_id": r.policy_id, "reason": r.reason, "revoked_at": r.revoked_at,
            "version": r.version}
    return (b"samenloop policy revocation v1\n"
            + json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii"))


def test_the_revocation_is_kept_and_any_gateway_can_verify_it(matcher: Harness) -> None:
    published = matcher.publish_policy(id="verifieerbaar")
    matcher.revoke("verifieerbaar", reason="legal_basis_changed")
    # A gateway reads it back and checks it with the officer's public key from the PKI,
    # with PyNaCl directly (not the project's verifier).
    got = matcher.gateway(HOUSING).policies.GetPolicy(
        policy_pb2.GetPolicyRequest(name="policies/verifieerbaar"), timeout=10)
    r = got.revocation
    assert (r.policy_id, r.version, r.digest) == ("verifieerbaar", 1, published.digest)
    assert (r.reason, r.officer_id) == ("legal_basis_changed", OFFICER)
    public = base64.b64decode(matcher.pki.component(OFFICER)["keys"]["signing"]["public"])
    nacl.signing.VerifyKey(public).verify(expected_revocation_bytes(r), r.signature)
    listed = matcher.officer().ListPolicies(
        policy_pb2.ListPoliciesRequest(include_inactive=True), timeout=10).policies
    assert [p.revocation.signature for p in listed] == [r.signature]
    # The audit entry names who revoked which document, with codes only.
    [entry] = matcher.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
        name="policy_revoked"), timeout=10).entries
    assert entry.attributes["officer"] == OFFICER
    assert entry.attributes["reason"] == "legal_basis_changed"
    assert (entry.policy_id, entry.policy_version, entry.policy_digest) == (
        "verifieerbaar", 1, published.digest)


def revoke_raw(h: Harness, caller: str, revocation: policy_pb2.PolicyRevocation | None,
               name: str = "policies/gemeentelijk") -> grpc.RpcError:
    request = policy_pb2.RevokePolicyRequest(name=name)
    if revocation is not None:
        request.revocation.CopyFrom(revocation)
    with pytest.raises(grpc.RpcError) as err:
        h.officer(caller).RevokePolicy(request, timeout=10)
    return err.value


def test_revocation_needs_a_controller_officers_signature_over_this_document(
    matcher: Harness,
) -> None:
    """Regression: the housing corporation's privacy officer revoked the municipality's policy
    with no signature at all."""
    matcher.publish_policy(id="gemeentelijk")
    # The demonstrated attack: a partner officer's certificate, no statement.
    err = revoke_raw(matcher, PARTNER_OFFICER, None)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only privacy officers of the controller gemeente-rotterdam" in err.details()
    # ... nor with a valid statement of the controller's officer in hand.
    err = revoke_raw(matcher, PARTNER_OFFICER, matcher.revocation("gemeentelijk"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # The controller's officer without a statement.
    err = revoke_raw(matcher, OFFICER, None)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "signed revocation statement is required" in err.details()
    # Signed by the partner's officer (registered in the trust file, but not the controller's).
    err = revoke_raw(matcher, OFFICER, matcher.revocation("gemeentelijk", signer=PARTNER_OFFICER))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not of the controller" in err.details()
    # Signed by the independent reviewer (not a privacy officer).
    err = revoke_raw(matcher, OFFICER,
                     matcher.revocation("gemeentelijk", signer="independent-reviewer"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # A signature over other content: each signed field changed after signing.
    good = matcher.revocation("gemeentelijk")
    for field, value in [("reason", "dpia_revised"), ("version", 2),
                         ("digest", "0" * 64), ("revoked_at", "2026-01-01T00:00:00Z"),
                         ("policy_id", "gemeentelijk")]:
        forged = policy_pb2.PolicyRevocation()
        forged.CopyFrom(good)
        setattr(forged, field, value)
        if field == "policy_id":  # the same id: the signature must still be checked
            forged.signature = bytes(64)
        err = revoke_raw(matcher, OFFICER, forged)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, field
        assert "does not verify" in err.details(), field
    # Properly signed, but for a document that is not the published one.
    err = revoke_raw(matcher, OFFICER, matcher.revocation("gemeentelijk", digest="ab" * 32))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    # A statement for another policy sent to this one.
    matcher.publish_policy(id="ander")
    err = revoke_raw(matcher, OFFICER, matcher.revocation("ander"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A free-text reason is no code.
    err = revoke_raw(matcher, OFFICER, policy_pb2.PolicyRevocation(
        policy_id="gemeentelijk", version=1, digest="ab" * 32, reason="DPIA herzien",
        revoked_at="2026-01-01T00:00:00Z", officer_id=OFFICER, key_id="ed25519:00",
        signature=bytes(64)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason code" in err.details()
    # None of it revoked anything; the controller's officer's statement does.
    state = matcher.officer().GetPolicy(policy_pb2.GetPolicyRequest(
        name="policies/gemeentelijk"), timeout=10).state
    assert state == policy_pb2.POLICY_STATE_ACTIVE
    assert matcher.revoke("gemeentelijk").state == policy_pb2.POLICY_STATE_REVOKED


def test_simulation_counts_without_side_effects_and_fairness(matcher: Harness) -> None:
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    houses = [f"3071AB {i}" for i in range(1, 9)] + [f"3072AB {i}" for i in range(1, 3)]
    housing.warm(addresses=houses)
    for i, house in enumerate(houses):
        area = house[:4]
        housing.submit(housing.signal(f"h-{i}", "huurachterstand", household=house,
                                      purpose=WGS, area_code=area))
        if i < 7 or area == "3072":
            gemeente.submit(gemeente.signal(f"g-{i}", "energie_achterstand", household=house,
                                            purpose=WGS, area_code=area))
    doc = policy_document(matcher.pki, id="sim", mode="standing")  # unsigned: a preview
    report = matcher.officer().SimulatePolicy(policy_pb2.SimulatePolicyRequest(
        document=document_bytes(doc)), timeout=30)
    assert report.households_evaluated.value == 10
    assert report.households_flagged.display == "9"
    by_area = {c.area_code: c.households for c in report.by_area}
    assert by_area["3072"].suppressed and by_area["3072"].display == "<5"
    # The total is shown, so the other area is suppressed too (complementary suppression).
    assert by_area["3071"].suppressed
    with matcher.matcher.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one() == 0
    # Now for real: the same policy, signed and published, flags the same households.
    matcher.publish(doc)
    housing.submit(housing.signal("h-extra", "huurachterstand", household="3071AB 1",
                                  purpose=WGS, escalated=True))
    # Fairness, with small cells suppressed. More alerts so that some cells are shown: an
    # escalated repeat for 3071AB 2..6, and a third area 3073 with six qualifying households.
    housing.submit(*[housing.signal(f"h-extra-{i}", "huurachterstand", household=f"3071AB {i}",
                                    purpose=WGS, escalated=True) for i in range(2, 7)])
    new_area = [f"3073AB {i}" for i in range(1, 7)]
    housing.submit(*[housing.signal(f"h-3073-{i}", "huurachterstand", household=house,
                                    purpose=WGS, area_code="3073")
                     for i, house in enumerate(new_area)])
    gemeente.submit(*[gemeente.signal(f"g-3073-{i}", "energie_achterstand", household=house,
                                      purpose=WGS, area_code="3073")
                      for i, house in enumerate(new_area)])
    fairness = matcher.officer().GetFairnessReport(policy_pb2.GetFairnessReportRequest(
        name="policies/sim"), timeout=10)
    # Signals per area: 3071 8 + 7 + 6 escalated = 21, 3072 4, 3073 12. Alerts: 3071 6 (3071AB
    # 1..6), 3072 0, 3073 6. Cells under 5 are suppressed; where one cell alone is suppressed,
    # the smallest shown cell too (ties by area code), so no hidden cell follows from a total:
    # signals hide 3072 (4) and 3073 (12); alerts hide 3072 (0) and 3071 (6, tie with 3073).
    # A suppressed count carries value 0, and a rate only where both counts are shown.
    table = {r.area_code: (r.signals.display, r.signals.value, r.alerts.display, r.alerts.value,
                           r.relative_rate) for r in fairness.rows}
    assert table == {
        "3071": ("21", 21, "<5", 0, 0.0),
        "3072": ("<5", 0, "<5", 0, 0.0),
        "3073": ("<5", 0, "6", 6, 0.0),
    }
    assert [(r.signals.suppressed, r.alerts.suppressed) for r in fairness.rows] == [
        (False, True), (True, True), (True, False)]


def test_audit_entries_and_subject_access(matcher: Harness) -> None:
    matcher.publish_policy(id="logboek")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "huiselijk_geweld_incident", household="3071AB 1",
                                person="111222333"))
    police.inquire("logboek", "3071AB 1", reason="repeated_incidents")
    auditor = matcher.auditor()
    entries = list(auditor.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=500),
                                            timeout=10).entries)
    received = [e for e in entries if e.name == "signal_received"]
    # One entry per data subject: the police signal has a household and a person.
    assert sorted(e.data_subject_id_type for e in received) == [
        "household_pseudonym", "household_pseudonym", "person_pseudonym"]
    for e in entries:
        assert len(e.trace_id) == 32 and len(e.span_id) == 16 and e.status_code == "Ok"
        assert e.actor_organisation and e.actor_role and e.processing_activity_id
        assert json.loads(e.leaf)["name"] == e.name
    inquiry = next(e for e in entries if e.name == "inquiry_received")
    assert inquiry.attributes["requester_role"] == "community_police_officer"
    assert inquiry.attributes["reason"] == "repeated_incidents"
    assert inquiry.actor_organisation == POLICE
    assert inquiry.processing_activity_id == (
        "https://verwerkingsregister.invalid/verwerkingsactiviteiten/"
        "GM0599/wams-gecoordineerde-aanpak")
    only = auditor.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(name="alert_created"),
                                    timeout=10).entries
    assert [e.name for e in only] == ["alert_created"]
    # Subject access: the officer pseudonymised the address at a gateway.
    subject = housing.household("3071AB 1")
    found = auditor.LookupSubject(audit_pb2.LookupSubjectRequest(
        subject=subject, subject_type="household"), timeout=10).entries
    assert {e.name for e in found} >= {"signal_received", "inquiry_received", "alert_created",
                                       "reveal_request_created"}
    assert len({e.data_subject_id for e in found}) == 1
    # Append-only: the database refuses to change or delete an entry.
    with matcher.matcher.engine.connect() as conn:
        for stmt in (audit_events.update().values(name="x"), audit_events.delete()):
            with pytest.raises(sa.exc.DBAPIError), conn.begin():
                conn.execute(stmt)


def all_entries(auditor: Any, page_size: int = 1000, most: int = 1000
                ) -> list[audit_pb2.AuditEntry]:
    """Walk the pages, at most `most` entries (each listing adds an entry of its own)."""
    out: list[audit_pb2.AuditEntry] = []
    token = ""
    while len(out) < most:
        page = auditor.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            page_size=page_size, page_token=token), timeout=10)
        out.extend(page.entries)
        token = page.next_page_token
        if not token:
            break
    return out[:most]


def a_case_with_three_partners(h: Harness) -> None:
    """Housing, police and GGZ signals on one household (GGZ's on a person living there);
    police inquires, an alert is made, housing pulls its reveal request and discloses."""
    h.publish_policy(id="zichtbaarheid")
    housing, police, ggz = h.gateway(HOUSING), h.gateway(POLICE), h.gateway(GGZ)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1",
                                  person=TENANT))
    police.submit(police.signal("p-1", "huiselijk_geweld_incident", household="3071AB 1"))
    ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", household="3071AB 1", person=TENANT))
    assert police.inquire("zichtbaarheid", "3071AB 1").answer == \
        partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED
    [request] = housing.pull()
    housing.disclose(request, {"postcode": "3071AB", "huisnummer": "1"})


TENANT = "111222333"


def test_a_partner_officer_lists_only_its_own_organisations_entries(matcher: Harness) -> None:
    """Regression: the housing corporation's privacy officer listed the whole audit log, with
    every partner's signal types."""
    a_case_with_three_partners(matcher)
    # And an inquiry of its own about a household it has no signal on (refused: not involved).
    assert matcher.gateway(HOUSING).inquire("zichtbaarheid", "3071AB 9").answer == \
        partner_pb2.INQUIRY_ANSWER_NOT_INDICATED
    housing_view = all_entries(matcher.auditor(PARTNER_OFFICER))
    # Exactly its own calls: the batch and the signal it sent (household and person entries),
    # the reveal request its gateway pulled, the disclosure it made and its refused inquiry.
    # Not the police's inquiry, not the alert with its life domains, not the GGZ signal, not
    # the reveal request's creation (whose actor is the inquiring police).
    assert sorted((e.name, e.data_subject_id_type) for e in housing_view) == [
        ("batch_received", "none"),
        ("disclosure_received", "household_pseudonym"),
        ("inquiry_refused", "household_pseudonym"),
        ("reveal_request_delivered", "household_pseudonym"),
        ("signal_received", "household_pseudonym"),
        ("signal_received", "person_pseudonym"),
    ]
    assert {e.actor_organisation for e in housing_view} == {HOUSING}
    text = json.dumps([dict(e.attributes) for e in housing_view]) + b"".join(
        e.leaf for e in housing_view).decode()
    for other in (POLICE, GGZ, "ggz_crisiscontact", "huiselijk_geweld_incident",
                  "geestelijke_gezondheid"):
        assert other not in text
    # Paging walks the same filtered view (the filter is in the query, not after it).
    paged = all_entries(matcher.auditor(PARTNER_OFFICER), page_size=1, most=len(housing_view))
    assert [e.index for e in paged] == [e.index for e in housing_view]
    # The inquiring police's officer: its signal, its inquiry and the reveal request for its
    # own signal; not the alert it caused (life domains of every partner), nor the reveal
    # requests its inquiry addressed to the other partners.
    police_view = all_entries(matcher.auditor("po-politie-rotterdam"))
    assert sorted((e.name, e.attributes.get("partner", "")) for e in police_view) == [
        ("batch_received", POLICE),
        ("inquiry_received", ""),
        ("reveal_request_created", POLICE),
        ("signal_received", POLICE),
    ]
    # The controller's officer sees everything, including what the partner may not.
    names = {e.name for e in all_entries(matcher.auditor())}
    assert {"alert_created", "inquiry_received", "reveal_request_created",
            "audit_entries_listed"} <= names
    ggz_entries = [e for e in all_entries(matcher.auditor()) if e.actor_organisation == GGZ
                   and e.name == "signal_received"]
    assert {e.attributes["signal_type"] for e in ggz_entries} == {"ggz_crisiscontact"}


def test_a_partner_officers_subject_lookup_shows_only_its_own_entries(matcher: Harness) -> None:
    """Regression: the housing corporation's officer looked up a BSN it pseudonymised at its own
    gateway and learnt of a GGZ crisis contact."""
    a_case_with_three_partners(matcher)
    subject = matcher.gateway(HOUSING).person(TENANT)
    request = audit_pb2.LookupSubjectRequest(subject=subject, subject_type="person")
    found = matcher.auditor(PARTNER_OFFICER).LookupSubject(request, timeout=10).entries
    assert [(e.name, e.actor_organisation, e.attributes["signal_type"]) for e in found] == [
        ("signal_received", HOUSING, "huurachterstand")]
    everything = matcher.auditor().LookupSubject(request, timeout=10).entries
    assert sorted((e.actor_organisation, e.attributes.get("signal_type", "")) for e in everything
                  if e.name == "signal_received") == [
        (GGZ, "ggz_crisiscontact"), (HOUSING, "huurachterstand")]
    # The lookups themselves are logged, as the looker's own entries.
    looked = [e for e in all_entries(matcher.auditor(PARTNER_OFFICER))
              if e.name == "subject_looked_up"]
    assert [e.attributes["entries"] for e in looked] == ["1"]


def test_only_the_controllers_officers_publish_simulate_and_see_fairness(
    matcher: Harness,
) -> None:
    doc = sign(matcher.pki, policy_document(matcher.pki, id="partner-poging"))
    partner = matcher.officer(PARTNER_OFFICER)
    for call in (
        lambda: partner.PublishPolicy(policy_pb2.PublishPolicyRequest(
            document=document_bytes(doc)), timeout=10),
        lambda: partner.SimulatePolicy(policy_pb2.SimulatePolicyRequest(
            document=document_bytes(doc)), timeout=10),
        lambda: partner.GetFairnessReport(policy_pb2.GetFairnessReportRequest(
            name="policies/partner-poging"), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "only privacy officers of the controller" in err.value.details()
    # Reading is open to a partner's officer.
    matcher.officer().PublishPolicy(policy_pb2.PublishPolicyRequest(
        document=document_bytes(doc)), timeout=10)
    got = partner.GetPolicy(policy_pb2.GetPolicyRequest(name="policies/partner-poging"),
                            timeout=10)
    assert got.state == policy_pb2.POLICY_STATE_ACTIVE


def test_a_policy_needs_an_approval_by_a_controller_officer(matcher: Harness) -> None:
    """Two privacy officers, but neither of the controller: not in force, not published."""
    doc = policy_document(matcher.pki, id="zonder-gemeente")
    doc = sign(matcher.pki, doc, officers=0)
    for officer in ("po-woonstad-rotterdam", "po2-woonstad-rotterdam"):
        doc = with_approval(doc, sign_policy(
            parse_policy(doc), matcher.pki.signing_key(officer), officer_id=officer,
            role=ApprovalRole.PRIVACY_OFFICER, now=datetime.now(UTC)))
    err = publish_raw(matcher, doc)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "approval by a privacy officer of the controller gemeente-rotterdam" in err.details()


def test_cli_refuses_an_unmigrated_database_then_migrates_and_purges(
    tmp_path: Path, pki: Pki, pseudonymiser: Pseudonymiser,
) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'matcher.sqlite'}"
    config = write_config(tmp_path, pki, pseudonymiser, url)
    refused = subprocess.run(cli("serve", "--config", str(config)), capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1
    assert "samenloop matcher migrate --config" in refused.stderr
    subprocess.run(cli("migrate", "--config", str(config)), check=True, capture_output=True,
                   timeout=60)
    purged = subprocess.run(cli("purge", "--config", str(config), "--yes", "--json"), check=True,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(purged.stdout)["signals_deleted"] == 0
    _ = sys
