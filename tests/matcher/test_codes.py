"""No free text reaches the append-only audit log (issue 10 §4): codes and team-local user ids.

Each refusal names the field, lists the valid codes, and never repeats the rejected value (it
may be exactly the personal text the code lists keep out). A whole case flow leaves only codes.
"""

from __future__ import annotations

import grpc
import pytest

from domain.codes import load_codes
from samenloop.v1 import audit_pb2, common_pb2, partner_pb2, wijkteam_pb2
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, POLICE

PERSONAL = "Jan de Vries, Dorpsstraat 1, 1980-02-29"

INQUIRY_REASONS = {"multiple_problems_suspected", "concern_for_children", "eviction_threatened",
                   "repeated_incidents", "care_avoidance", "help_stalled"}
WITHDRAWAL_REASONS = {"resolved", "retracted", "error", "objection", "moved", "deceased",
                      "other"}


def refused(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return err.value


def test_inquiry_codes_are_checked_and_never_echoed(matcher: Harness) -> None:
    matcher.publish_policy(id="wams")
    police = matcher.gateway(POLICE)
    err = refused(lambda: police.inquire("wams", "3071AB 1", reason=PERSONAL))
    details = err.details() or ""
    assert details.startswith("inquiry.reason must be a code from the list `inquiry_reason`")
    assert all(code in details for code in INQUIRY_REASONS)
    assert PERSONAL not in details and "Vries" not in details and "\n" not in details
    err = refused(lambda: police.inquire("wams", "3071AB 1", requester_role="wijkagent Jansen"))
    assert (err.details() or "").startswith("inquiry.requester_role must be a code")
    assert "Jansen" not in (err.details() or "")
    err = refused(lambda: police.inquire("wams", "3071AB 1", request_id="vraag over J. Jansen"))
    assert (err.details() or "").startswith("inquiry.request_id is required: 1-128 letters")
    assert "Jansen" not in (err.details() or "")
    # Nothing was stored or logged for a refused request.
    names = {e.name for e in matcher.auditor().ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_size=1000), timeout=10).entries}
    assert not names & {"inquiry_received", "inquiry_refused"}


def test_withdrawal_reason_is_a_code(matcher: Harness) -> None:
    housing = matcher.gateway(HOUSING)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    err = refused(lambda: housing.stub.WithdrawSignals(partner_pb2.WithdrawSignalsRequest(
        batch_id="b-1", withdrawals=[
            partner_pb2.Withdrawal(signal_id="h-1", reason_code="resolved"),
            partner_pb2.Withdrawal(signal_id="h-1", reason_code=PERSONAL)]), timeout=10))
    details = err.details() or ""
    assert details.startswith("withdrawals[1].reason_code must be a code from the list "
                              "`withdrawal_reason`")
    assert all(code in details for code in WITHDRAWAL_REASONS) and "Vries" not in details
    # The batch was refused as a whole: h-1 is still live and can be withdrawn with a code.
    done = housing.stub.WithdrawSignals(partner_pb2.WithdrawSignalsRequest(
        batch_id="b-2", withdrawals=[partner_pb2.Withdrawal(signal_id="h-1",
                                                            reason_code="objection")]),
        timeout=10)
    assert [r.outcome for r in done.results] == [common_pb2.ROW_OUTCOME_ACCEPTED]


def test_case_flow_takes_a_user_id_and_codes_and_the_log_holds_nothing_else(
    matcher: Harness,
) -> None:
    matcher.publish_policy(id="wams")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1"))
    police.inquire("wams", "3071AB 1", reason="repeated_incidents")
    [alert] = matcher.alert_names("wams")
    team = matcher.team()
    for name in ("Jan de Vries", "J.deVries", "-r17", "r" * 33, ""):
        err = refused(lambda name=name: team.AssignAlert(wijkteam_pb2.AssignAlertRequest(
            name=alert, regisseur=name), timeout=10))
        assert (err.details() or "").startswith("regisseur: must be the regisseur's team-local")
        assert "Vries" not in (err.details() or "")
    team.AssignAlert(wijkteam_pb2.AssignAlertRequest(name=alert, regisseur="u0412"), timeout=10)
    for reason in ("", "hulp loopt al via de huisarts"):
        err = refused(lambda reason=reason: team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
            name=alert, decision=wijkteam_pb2.REVIEW_DECISION_NO_CONTACT, reason=reason),
            timeout=10))
        assert (err.details() or "").startswith(
            "reason must be a code from the list `review_decision_reason`")
    team.ReviewAlert(wijkteam_pb2.ReviewAlertRequest(
        name=alert, decision=wijkteam_pb2.REVIEW_DECISION_NO_CONTACT,
        reason="help_already_in_place"), timeout=10)
    closed = team.CloseAlert(wijkteam_pb2.CloseAlertRequest(
        name=alert, outcome=wijkteam_pb2.ALERT_OUTCOME_ALREADY_IN_CARE), timeout=10)
    assert closed.regisseur == "u0412" and closed.decision_reason == "help_already_in_place"
    housing.withdraw("h-1")

    entries = {e.name: dict(e.attributes) for e in matcher.auditor().ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_size=1000), timeout=10).entries}
    assert entries["inquiry_received"]["reason"] == "repeated_incidents"
    assert entries["inquiry_received"]["requester_role"] == "community_police_officer"
    assert entries["alert_assigned"]["regisseur"] == "u0412"
    assert (entries["alert_reviewed"]["decision"], entries["alert_reviewed"]["reason"]) == (
        "no_contact", "help_already_in_place")
    assert entries["alert_closed"]["outcome"] == "already_in_care"
    assert entries["signal_withdrawn"]["reason_code"] == "resolved"


def test_closing_outcomes_are_the_listed_codes() -> None:
    """The proto enum and the versioned list name the same outcomes."""
    enum_codes = {name.removeprefix("ALERT_OUTCOME_").lower()
                  for name in wijkteam_pb2.AlertOutcome.DESCRIPTOR.values_by_name} - {
                      "unspecified"}
    assert enum_codes == set(load_codes().closure_outcome)
