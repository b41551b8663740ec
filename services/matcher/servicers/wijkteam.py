"""WijkteamService: the recipient team's alerts, sealed disclosures and case flow."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from samenloop.v1 import common_pb2, wijkteam_pb2, wijkteam_pb2_grpc
from services.matcher.errors import InvalidArgument
from services.matcher.service import Matcher
from services.matcher.servicers._common import (
    PARTNER_KINDS,
    caller,
    handle,
    handle_stream,
    timestamp,
)
from services.matcher.views import AlertView

STATES = {
    "open": wijkteam_pb2.ALERT_STATE_OPEN,
    "assigned": wijkteam_pb2.ALERT_STATE_ASSIGNED,
    "reviewed": wijkteam_pb2.ALERT_STATE_REVIEWED,
    "closed": wijkteam_pb2.ALERT_STATE_CLOSED,
}
_STATE_NAMES = {v: k for k, v in STATES.items()}
DECISIONS = {
    wijkteam_pb2.REVIEW_DECISION_CONTACT: "contact",
    wijkteam_pb2.REVIEW_DECISION_NO_CONTACT: "no_contact",
    wijkteam_pb2.REVIEW_DECISION_REFER: "refer",
}
_DECISION_CODES = {v: k for k, v in DECISIONS.items()}
OUTCOMES = {
    wijkteam_pb2.ALERT_OUTCOME_HELP_ACCEPTED: "help_accepted",
    wijkteam_pb2.ALERT_OUTCOME_HELP_DECLINED: "help_declined",
    wijkteam_pb2.ALERT_OUTCOME_ALREADY_IN_CARE: "already_in_care",
    wijkteam_pb2.ALERT_OUTCOME_NO_ACTION_NEEDED: "no_action_needed",
    wijkteam_pb2.ALERT_OUTCOME_UNREACHABLE: "unreachable",
}
_OUTCOME_CODES = {v: k for k, v in OUTCOMES.items()}


def alert_message(view: AlertView) -> wijkteam_pb2.Alert:
    msg = wijkteam_pb2.Alert(
        name=f"alerts/{view.name_id}",
        policy_id=view.policy_id,
        policy_version=view.policy_version,
        policy_digest=view.policy_digest,
        team=view.team,
        state=STATES[view.state],
        domains=list(view.domains),
        signals=[
            wijkteam_pb2.ContributingSignal(
                signal_type=s.signal_type,
                partner_kind=PARTNER_KINDS.get(s.partner_kind, common_pb2.PARTNER_KIND_UNSPECIFIED),
                observed_on=s.observed_on.isoformat(),
            )
            for s in view.signals
        ],
        regisseur=view.regisseur or "",
        traceparent=view.traceparent,
        decision=_DECISION_CODES.get(view.decision or "", wijkteam_pb2.REVIEW_DECISION_UNSPECIFIED),
        outcome=_OUTCOME_CODES.get(view.outcome or "", wijkteam_pb2.ALERT_OUTCOME_UNSPECIFIED),
        create_time=timestamp(view.created_at),
        update_time=timestamp(view.updated_at),
        mode=view.mode,
        decision_reason=view.decision_reason or "",
        policy_document=view.policy_document_json.encode(),
    )
    for d in view.disclosures:
        item = wijkteam_pb2.Disclosure(
            name=f"alerts/{view.name_id}/disclosures/{d.name_id}",
            partner=d.partner,
            partner_kind=PARTNER_KINDS.get(d.partner_kind, common_pb2.PARTNER_KIND_UNSPECIFIED),
            fields=list(d.fields),
            refusal_reason=d.refusal_reason or "",
            create_time=timestamp(d.created_at),
            reveal_request=f"revealRequests/{d.reveal_request_name_id}",
            disclosure_signature=d.signature or b"",
            disclosure_key_id=d.signature_key_id or "",
        )
        if d.ciphertext is not None:
            item.sealed.CopyFrom(
                common_pb2.SealedBox(
                    ciphertext=d.ciphertext, recipient_public_key=d.recipient_public_key or ""
                )
            )
        msg.disclosures.append(item)
    return msg


class WijkteamServicer(wijkteam_pb2_grpc.WijkteamServiceServicer):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @handle
    def ListAlerts(
        self, request: wijkteam_pb2.ListAlertsRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.ListAlertsResponse:
        state = _STATE_NAMES.get(request.state) if request.state else None
        views, token = self.matcher.list_alerts(
            caller(context), request.page_size, request.page_token, state, request.user
        )
        return wijkteam_pb2.ListAlertsResponse(
            alerts=[alert_message(v) for v in views], next_page_token=token
        )

    @handle_stream
    def StreamAlerts(
        self, request: wijkteam_pb2.StreamAlertsRequest, context: grpc.ServicerContext
    ) -> Iterator[wijkteam_pb2.Alert]:
        views = self.matcher.stream_alerts(caller(context), request.after, context.is_active,
                                           request.user)
        # The starting point is fixed now; the initial metadata tells the client so. A client
        # that must see an alert it is about to cause waits for it (`initial_metadata()`).
        context.send_initial_metadata(())
        for view in views:
            yield alert_message(view)

    @handle
    def GetAlert(
        self, request: wijkteam_pb2.GetAlertRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.Alert:
        return alert_message(self.matcher.get_alert(caller(context), request.name, request.user,
                                                    request.view_reason))

    @handle
    def AssignAlert(
        self, request: wijkteam_pb2.AssignAlertRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.Alert:
        view = self.matcher.assign_alert(caller(context), request.name, request.regisseur,
                                         request.user)
        return alert_message(view)

    @handle
    def ReviewAlert(
        self, request: wijkteam_pb2.ReviewAlertRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.Alert:
        decision = DECISIONS.get(request.decision)
        if decision is None:
            raise InvalidArgument("decision is required")
        view = self.matcher.review_alert(caller(context), request.name, decision,
                                         request.reason, request.user)
        return alert_message(view)

    @handle
    def CloseAlert(
        self, request: wijkteam_pb2.CloseAlertRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.Alert:
        outcome = OUTCOMES.get(request.outcome)
        if outcome is None:
            raise InvalidArgument("outcome is required")
        return alert_message(self.matcher.close_alert(caller(context), request.name, outcome,
                                                      request.user))

    @handle
    def ReportUnverifiedDisclosure(
        self, request: wijkteam_pb2.ReportUnverifiedDisclosureRequest,
        context: grpc.ServicerContext,
    ) -> wijkteam_pb2.ReportUnverifiedDisclosureResponse:
        self.matcher.report_unverified_disclosure(caller(context), request.name, request.user)
        return wijkteam_pb2.ReportUnverifiedDisclosureResponse()
