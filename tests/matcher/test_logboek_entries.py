"""Every audit event, driven through the real matcher, against a table written here.

One case runs from a published policy to the retention purge and touches every event in
`services.matcher.audit_catalogue`: a partner's batches, links, signals, a refresh and a
withdrawal; inquiries answered, not involved and refused; the alert and its reveal requests;
disclosures received and refused; the team's list, stream, views, assignment, review, close and
unverified report; policy publish, read, list, simulate, fairness and revoke; audit listing and
subject lookup; refused calls (role table, organisation, controller-only) and a failed call;
and every retention entry. Each entry is checked against EXPECTED (actor, subject type, status,
processing activity, purpose, policy), and every leaf against the Logius Logboek
Dataverwerkingen record rebuilt here from the entry's fields (canonical JSON per RFC 8785 for
ASCII keys and integers: sorted keys, no spaces).

One call carries a W3C `traceparent` with sampled=0, sent as it is (client instrumentation
suppressed): its entries are written all the same, in the caller's trace, naming the caller's
span as the foreign operation.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, wijkteam_pb2
from services.matcher.audit_catalogue import EVENTS
from services.matcher.purge import purge
from tests.matcher.conftest import OFFICER, PARTNER_OFFICER, Harness
from tests.matcher.helpers import (
    GGZ,
    HOUSING,
    MUNICIPALITY,
    POLICE,
    TEAM,
    WAMS,
    document_bytes,
    policy_document,
)
from tests.matcher.test_policy_audit import all_entries

REGISTER = "https://verwerkingsregister.invalid/verwerkingsactiviteiten/"
ORGANISATIONS = "https://verwerkingsregister.invalid/organisaties/"
ACTIVITY = "GM0599/wams-gecoordineerde-aanpak"  # the test policy's processing activity
POLICY = ("logboek", 1)
CONTROLLER = "gemeente-rotterdam"
USER = "u-7"
HOUSE, HOUSE2, TENANT = "3071AB 1", "3071AB 2", "111222333"

GW, TM, PO, SYS = "gateway", "wijkteam", "privacy_officer", "system"
HH, PP, NO = "household_pseudonym", "person_pseudonym", "none"
OK, UNSET, ERROR = "Ok", "Unset", "Error"
P, NOPOL = True, False  # under the test policy (id, version 1, its digest) / under none

# (event, attributes it must have) -> (actor organisation, role, subject type, status,
#                                      activity id, purpose, under the policy?)
EXPECTED: list[tuple[str, dict[str, str], tuple[str, str, str, str, str, str, bool]]] = [
    ("policy_published", {"mode": "on_request"},
     (CONTROLLER, PO, NO, OK, ACTIVITY, WAMS, P)),
    ("policy_simulated", {}, (CONTROLLER, PO, NO, OK, ACTIVITY, WAMS, P)),
    ("policy_read", {}, (CONTROLLER, PO, NO, OK, ACTIVITY, WAMS, P)),
    ("policies_listed", {}, (CONTROLLER, PO, NO, OK, "policy-administration", "", NOPOL)),
    ("fairness_report", {}, (CONTROLLER, PO, NO, OK, ACTIVITY, WAMS, P)),
    ("policy_revoked", {"reason": "end_of_use", "officer": OFFICER},
     (CONTROLLER, PO, NO, OK, ACTIVITY, WAMS, P)),
    ("batch_received", {"batch_kind": "household_links", "accepted": "2", "rows": "2"},
     (MUNICIPALITY, GW, NO, OK, "batch-receipt", WAMS, NOPOL)),
    ("household_link_received", {"partner": MUNICIPALITY},
     (MUNICIPALITY, GW, PP, OK, WAMS, WAMS, NOPOL)),
    ("household_link_received", {"partner": MUNICIPALITY},
     (MUNICIPALITY, GW, HH, OK, WAMS, WAMS, NOPOL)),
    ("batch_received", {"batch_kind": "signals", "partner": HOUSING, "rows": "1"},
     (HOUSING, GW, NO, OK, "batch-receipt", WAMS, NOPOL)),
    ("batch_received", {"batch_kind": "signals", "partner": GGZ, "rows": "1", "rejected": "1",
                        "accepted": "0"},
     (GGZ, GW, NO, OK, "batch-receipt", "", NOPOL)),
    ("signal_received", {"partner": HOUSING, "signal_type": "huurachterstand"},
     (HOUSING, GW, HH, OK, WAMS, WAMS, NOPOL)),
    ("signal_refreshed", {"partner": HOUSING, "signal_id": "h-2"},
     (HOUSING, GW, HH, OK, WAMS, WAMS, NOPOL)),
    ("signal_received", {"partner": POLICE}, (POLICE, GW, HH, OK, WAMS, WAMS, NOPOL)),
    ("signal_received", {"partner": POLICE}, (POLICE, GW, PP, OK, WAMS, WAMS, NOPOL)),
    ("inquiry_received", {"requester_role": "community_police_officer",
                          "reason": "repeated_incidents", "result": "indicated"},
     (POLICE, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("inquiry_refused", {"refusal": "not_involved", "result": "not_indicated"},
     (GGZ, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("inquiry_refused", {"refusal": "policy_not_in_force"},
     (GGZ, GW, HH, UNSET, "bestaat-niet", "", NOPOL)),
    ("alert_created", {"mode": "on_request", "team": TEAM},
     (POLICE, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("reveal_request_created", {"partner": HOUSING}, (POLICE, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("reveal_request_created", {"partner": POLICE}, (POLICE, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("reveal_request_delivered", {"partner": HOUSING, "delivery": "1"},
     (HOUSING, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("disclosure_received", {"partner": HOUSING}, (HOUSING, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("disclosure_refused", {"partner": POLICE,
                            "refusal_reason": "REFUSAL_REASON_SIGNAL_NOT_LIVE"},
     (POLICE, GW, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_listed", {"user": USER, "team": TEAM}, (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_streamed", {"user": USER}, (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_viewed", {"user": USER}, (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("identity_viewed", {"user": USER, "view_reason": "review_alert"},
     (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("disclosure_unverified", {"user": USER}, (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_assigned", {"user": USER, "regisseur": "r-1"},
     (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_reviewed", {"user": USER, "decision": "contact", "reason": "concerns_confirmed"},
     (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("alert_closed", {"user": USER, "outcome": "help_accepted"},
     (TEAM, TM, HH, OK, ACTIVITY, WAMS, P)),
    ("batch_received", {"batch_kind": "withdrawals", "partner": HOUSING, "accepted": "1"},
     (HOUSING, GW, NO, OK, "batch-receipt", WAMS, NOPOL)),
    ("signal_withdrawn", {"partner": HOUSING, "reason_code": "resolved"},
     (HOUSING, GW, HH, OK, WAMS, WAMS, NOPOL)),
    ("audit_entries_listed", {"filter_name": "alert_created"},
     (CONTROLLER, PO, NO, OK, "audit-log", "", NOPOL)),
    ("inclusion_proof_served", {},
     (CONTROLLER, PO, HH, OK, "audit-log", "", NOPOL)),
    ("subject_looked_up", {"entries": "1"},
     ("woonstad-rotterdam", PO, HH, OK, "subject-access", "", NOPOL)),
    ("call_refused", {"refusal": "role_not_allowed", "method": "PolicyService/PublishPolicy"},
     (TEAM, TM, NO, UNSET, "access-control", "", NOPOL)),
    ("call_refused", {"refusal": "not_controller_officer",
                      "method": "PolicyService/SimulatePolicy"},
     ("woonstad-rotterdam", PO, NO, UNSET, "access-control", "", NOPOL)),
    ("call_refused", {"refusal": "not_a_partner", "method": "PartnerService/SubmitSignals"},
     ("onbekende-partner", GW, NO, UNSET, "access-control", "", NOPOL)),
    ("call_failed", {"method": "PolicyService/ListPolicies"},
     (CONTROLLER, PO, NO, ERROR, "access-control", "", NOPOL)),
    # the retention run, by the matcher itself
    ("signal_expired", {"partner": POLICE}, ("matcher", SYS, HH, OK, WAMS, WAMS, NOPOL)),
    ("signal_subject_removed", {"partner": HOUSING, "reason": "withdrawn"},
     ("matcher", SYS, HH, OK, WAMS, WAMS, NOPOL)),
    ("signal_deleted", {"partner": POLICE, "reason": "retention"},
     ("matcher", SYS, PP, OK, WAMS, WAMS, NOPOL)),
    ("alert_deleted", {"reason": "retention"}, ("matcher", SYS, HH, OK, ACTIVITY, WAMS, P)),
    ("household_link_deleted", {"partner": MUNICIPALITY, "link_id": "l-1"},
     ("matcher", SYS, PP, OK, "retention", "", NOPOL)),
    ("household_link_deleted", {"partner": MUNICIPALITY, "link_id": "l-1"},
     ("matcher", SYS, HH, OK, "retention", "", NOPOL)),
    ("inquiry_deleted", {"partner": POLICE, "reason": "retention"},
     ("matcher", SYS, HH, OK, ACTIVITY, WAMS, P)),
    ("retention_purge", {"alerts_deleted": "1", "inquiries_deleted": "3"},
     ("matcher", SYS, NO, OK, "retention", "", NOPOL)),
]

NO_FREE_TEXT = re.compile(r"[A-Za-z0-9_.:/@<,%+-]*")
"""Every attribute value: ids, codes, counts, dates, URIs; never a space, so never a sentence."""


def refused(call: Any, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code


def run_the_case(h: Harness, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """Drive every event; returns the policy digest and the unsampled call's trace and span."""
    digest = h.publish_policy(id="logboek").digest
    officer = h.officer()
    officer.SimulatePolicy(policy_pb2.SimulatePolicyRequest(
        document=document_bytes(policy_document(h.pki, id="logboek"))), timeout=30)
    officer.GetPolicy(policy_pb2.GetPolicyRequest(name="policies/logboek"), timeout=10)
    officer.ListPolicies(policy_pb2.ListPoliciesRequest(), timeout=10)
    officer.GetFairnessReport(policy_pb2.GetFairnessReportRequest(name="policies/logboek"),
                              timeout=10)
    municipality, housing = h.gateway(MUNICIPALITY), h.gateway(HOUSING)
    police, ggz = h.gateway(POLICE), h.gateway(GGZ)
    today = date.today()
    municipality.submit_links(municipality.link("l-1", TENANT, HOUSE, today - timedelta(30)),
                              municipality.link("l-2", TENANT, HOUSE2, today))
    # The housing corporation's batch carries a W3C traceparent with sampled=0, sent as is.
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    with suppress_instrumentation():
        housing.stub.SubmitSignals(partner_pb2.SubmitSignalsRequest(
            batch_id="b-unsampled", signals=[housing.signal("h-1", "huurachterstand",
                                                            household=HOUSE)]),
            metadata=(("traceparent", f"00-{trace_id}-{span_id}-00"),), timeout=30)
    housing.submit(housing.signal("h-2", "huurachterstand", household=HOUSE))  # refreshes h-1
    ggz.submit(ggz.signal("g-0", "no_such_type", household=HOUSE2))  # rejected row
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household=HOUSE,
                                person=TENANT))
    police.inquire("logboek", HOUSE, reason="repeated_incidents")
    ggz.inquire("logboek", HOUSE)  # not involved
    refused(lambda: ggz.inquire("bestaat-niet", HOUSE), grpc.StatusCode.NOT_FOUND)
    [alert] = h.alert_names("logboek")
    [rr_h] = housing.pull()
    housing.disclose(rr_h, {"postcode": "3071AB", "huisnummer": "1"})
    [rr_p] = police.pull()
    police.refuse(rr_p)

    team = h.team()
    stream = team.StreamAlerts(wijkteam_pb2.StreamAlertsRequest(user=USER), timeout=30)
    stream.initial_metadata()
    housing.submit(housing.signal("h-3", "huurachterstand", household=HOUSE2))
    police.submit(police.signal("p-3", "politie_herhaalde_inzet_adres", household=HOUSE2))
    police.inquire("logboek", HOUSE2)
    streamed = next(iter(stream))
    stream.cancel()
    assert streamed.name != alert
    team.ListAlerts(wijkteam_pb2.ListAlertsRequest(user=USER), timeout=10)
    got = team.GetAlert(wijkteam_pb2.GetAlertRequest(name=alert, user=USER), timeout=10)
    team.GetAlert(wijkteam_pb2.GetAlertRequest(name=alert, user=USER,
                                               view_reason="review_alert"), timeout=10)
    team.ReportUnverifiedDisclosure(wijkteam_pb2.ReportUnverifiedDisclosureRequest(
        name=got.disclosures[0].name, user=USER), timeout=10)
    team.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="r-1", user=USER),
                     timeout=10)
    team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
        name=alert, decision=wijkteam_pb2.REVIEW_DECISION_CONTACT, reason="concerns_confirmed",
        user=USER), timeout=10)
    team.CloseAlert(wijkteam_pb2.CloseAlertRequest(
        name=alert, outcome=wijkteam_pb2.ALERT_OUTCOME_HELP_ACCEPTED, user=USER), timeout=10)
    housing.withdraw("h-1")

    # Refused calls: the role table, the organisation rules, the controller-only rule.
    refused(lambda: h.stub(TEAM, type(officer)).PublishPolicy(
        policy_pb2.PublishPolicyRequest(document=b"{}"), timeout=10),
        grpc.StatusCode.PERMISSION_DENIED)
    refused(lambda: h.officer(PARTNER_OFFICER).SimulatePolicy(policy_pb2.SimulatePolicyRequest(
        document=b"{}"), timeout=10), grpc.StatusCode.PERMISSION_DENIED)
    stranger = h.gateway("gateway-onbekend")
    refused(lambda: stranger.stub.SubmitSignals(partner_pb2.SubmitSignalsRequest(
        batch_id="b-x"), timeout=10), grpc.StatusCode.PERMISSION_DENIED)
    # A call that fails inside the matcher.
    with monkeypatch.context() as patch:
        def broken(*_: Any, **__: Any) -> Any:
            raise RuntimeError("a fault injected by the test")

        patch.setattr(h.matcher, "list_policies", broken)
        refused(lambda: officer.ListPolicies(policy_pb2.ListPoliciesRequest(), timeout=10),
                grpc.StatusCode.INTERNAL)

    auditor = h.auditor()
    created = auditor.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
        name="alert_created"), timeout=10).entries[0]
    # the disclosure signed a checkpoint covering the alert (ADR 0022): its proof is there
    auditor.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=created.index),
                              timeout=10)
    h.auditor(PARTNER_OFFICER).LookupSubject(audit_pb2.LookupSubjectRequest(
        subject=housing.household(HOUSE2), subject_type="household"), timeout=10)
    h.revoke("logboek", reason="end_of_use")

    h.clock.advance(timedelta(days=800))  # everything is past its retention
    purge(h.matcher)
    return digest, trace_id, span_id


def record_from_fields(e: audit_pb2.AuditEntry) -> dict[str, Any]:
    """The Logboek record the standard asks for, built from the typed fields."""
    attributes: dict[str, Any] = {"dpl.core.processing_activity_id": e.processing_activity_id}
    if e.data_subject_id:
        attributes["dpl.core.data_subject_id"] = e.data_subject_id
        attributes["dpl.core.data_subject_id_type"] = e.data_subject_id_type
    if e.foreign_span_id:
        attributes["dpl.core.foreign_operation.span_id"] = e.foreign_span_id
    if e.foreign_processor:
        attributes["dpl.core.foreign_operation.processor"] = e.foreign_processor
    attributes["samenloop.actor.organisation"] = e.actor_organisation
    attributes["samenloop.actor.role"] = e.actor_role
    if e.purpose:
        attributes["samenloop.purpose"] = e.purpose
    if e.policy_id:
        attributes["samenloop.policy.id"] = e.policy_id
    if e.policy_version:
        attributes["samenloop.policy.version"] = e.policy_version
    if e.policy_digest:
        attributes["samenloop.policy.digest"] = e.policy_digest
    attributes.update({f"samenloop.{k}": v for k, v in e.attributes.items()})
    record = {"trace_id": e.trace_id, "span_id": e.span_id, "name": e.name,
              "start_time": e.start_time.ToMilliseconds(),
              "end_time": e.end_time.ToMilliseconds(),
              "status": e.status_code, "attributes": attributes}
    if e.parent_span_id:
        record["parent_span_id"] = e.parent_span_id
    return record


def test_every_event_is_a_logboek_record_with_the_expected_fields(
    matcher: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest, trace_id, span_id = run_the_case(matcher, monkeypatch)
    entries = all_entries(matcher.auditor(), most=5000)

    # Every event of the catalogue was written, and nothing outside it; but for the purge of
    # audit entries, which needs entries five years old by the database's own clock
    # (tests/matcher/test_audit_tree.py, test_audit_verify.py).
    assert {e.name for e in entries} == set(EVENTS) - {"audit_entries_purged"}

    for name, attrs, (org, role, subject, status, activity, purpose, under) in EXPECTED:
        found = [e for e in entries if e.name == name and e.data_subject_id_type == subject
                 and all(e.attributes.get(k) == v for k, v in attrs.items())]
        assert found, f"no {name} entry with {attrs} about {subject}"
        for e in found:
            assert (e.actor_organisation, e.actor_role, e.status_code, e.purpose) == (
                org, role, status, purpose), name
            assert e.processing_activity_id == REGISTER + activity, name
            policy = (e.policy_id, e.policy_version, e.policy_digest)
            if under:
                assert policy == (*POLICY, digest), name
            elif name == "inquiry_refused":  # a policy the caller named, never published
                assert policy == ("bestaat-niet", 0, ""), name
            else:
                assert policy == ("", 0, ""), name
            if org == "matcher":
                assert (e.foreign_processor, e.foreign_span_id) == ("", ""), name
            else:
                assert e.foreign_processor == ORGANISATIONS + org, name

    spans = [e.span_id for e in entries]
    assert len(set(spans)) == len(spans)
    for e in entries:
        record = record_from_fields(e)
        assert e.leaf == json.dumps(record, sort_keys=True, separators=(",", ":"),
                                    ensure_ascii=False).encode(), e.name
        assert re.fullmatch(r"[0-9a-f]{32}", e.trace_id) and re.fullmatch(r"[0-9a-f]{16}",
                                                                          e.span_id)
        assert record["start_time"] <= record["end_time"]
        assert e.entry_format == 2 and e.status_code in (OK, UNSET, ERROR)
        for key, value in json.loads(e.leaf)["attributes"].items():
            assert NO_FREE_TEXT.fullmatch(str(value)), f"{e.name}: {key}={value!r}"
        if e.data_subject_id:  # one entry per data subject: a pseudonym, never a BSN
            assert re.fullmatch(r"[0-9a-f]{64}", e.data_subject_id)
            assert e.data_subject_id_type in (HH, PP)
        assert TENANT not in e.leaf.decode()

    # The unsampled call: written anyway, in the caller's trace, under the caller's span.
    unsampled = [e for e in entries if e.trace_id == trace_id]
    assert {e.name for e in unsampled} == {"batch_received", "signal_received"}
    assert {(e.foreign_span_id, e.foreign_operation) for e in unsampled} == {
        (span_id, f"00-{trace_id}-{span_id}-00")}
    # One entry per data subject: the police signal's household and person entries are two
    # spans of one operation.
    police = [e for e in entries if e.name == "signal_received"
              and e.attributes["signal_id"] == "p-1"]
    assert sorted(e.data_subject_id_type for e in police) == [HH, PP]
    assert len({(e.trace_id, e.parent_span_id) for e in police}) == 1


@pytest.mark.parametrize("key", ["actor", "purpose", "policy"])
def test_an_event_cannot_shadow_the_standard_attributes(key: str) -> None:
    """`samenloop.policy` next to `samenloop.policy.id` would make two readings of one entry."""
    from datetime import datetime

    from services.matcher import audit

    event = audit.AuditEvent("policy_read", ACTIVITY, "", audit.NONE, {key: "x"})
    with pytest.raises(ValueError, match=f"reserved attribute {key}"):
        audit.write(None, audit.Actor.system("test"), [event], datetime(2026, 1, 1))  # type: ignore[arg-type]
