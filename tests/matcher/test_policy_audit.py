"""PolicyService and AuditService over gRPC; the matcher CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, wijkteam_pb2
from services.matcher.schema import alerts, audit_events
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import (
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
    revoked = matcher.officer().RevokePolicy(policy_pb2.RevokePolicyRequest(
        name="policies/intrekken", reason="DPIA herzien"), timeout=10)
    assert revoked.state == policy_pb2.POLICY_STATE_REVOKED
    assert revoked.revoke_reason == "DPIA herzien"
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
        assert len(e.trace_id) == 32 and len(e.span_id) == 16 and e.status_code == "OK"
        assert e.actor_organisation and e.actor_role and e.processing_activity_id
        assert json.loads(e.leaf)["name"] == e.name
    inquiry = next(e for e in entries if e.name == "inquiry_received")
    assert inquiry.attributes["requester_role"] == "community_police_officer"
    assert inquiry.attributes["reason"] == "repeated_incidents"
    assert inquiry.actor_organisation == POLICE
    assert inquiry.processing_activity_id == "GM0599/wams-gecoordineerde-aanpak"
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
