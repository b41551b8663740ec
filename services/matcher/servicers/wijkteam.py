"""WijkteamService: the recipient team's alerts, sealed disclosures and case flow."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from samenloop.v1 import common_pb2, wijkteam_pb2, wijkteam_pb2_grpc
from services.common.enum_names import (
    ALERT_OUTCOMES,
    ALERT_STATES,
    PARTNER_KINDS,
    REVIEW_DECISIONS,
)
from services.matcher.errors import InvalidArgument
from services.matcher.service import Matcher
from services.matcher.servicers._common import (
    caller,
    handle,
    handle_stream,
    timestamp,
)
from services.matcher.views import AlertView


def alert_message(view: AlertView) -> wijkteam_pb2.Alert:
    msg = wijkteam_pb2.Alert(
        name=f"alerts/{view.name_id}",
        policy_id=view.policy_id,
        policy_version=view.policy_version,
        policy_digest=view.policy_digest,
        team=view.team,
        state=ALERT_STATES[view.state],
        domains=list(view.domains),
        signals=[
            wijkteam_pb2.ContributingSignal(
                signal_type=s.signal_type,
                partner_kind=PARTNER_KINDS.value_of(s.partner_kind),
                observed_on=s.observed_on.isoformat(),
            )
            for s in view.signals
        ],
        regisseur=view.regisseur or "",
        traceparent=view.traceparent,
        decision=REVIEW_DECISIONS.value_of(view.decision),
        outcome=ALERT_OUTCOMES.value_of(view.outcome),
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
            partner_kind=PARTNER_KINDS.value_of(d.partner_kind),
            fields=list(d.fields),
            refusal_reason=d.refusal_reason or "",
            create_time=timestamp(d.created_at),
            reveal_request=f"revealRequests/{d.reveal_request_name_id}",
            disclosure_signature=d.signature or b"",
            disclosure_key_id=d.signature_key_id or "",
            signal_id=d.signal_id,
        )
        if d.ciphertext is not None:
            item.sealed.CopyFrom(
                common_pb2.SealedBox(
                    ciphertext=d.ciphertext, recipient_public_key=d.recipient_public_key or ""
                )
            )
        msg.disclosures.append(item)
    msg.pending_disclosures.extend(
        wijkteam_pb2.PendingDisclosure(
            reveal_request=f"revealRequests/{p.reveal_request_name_id}", partner=p.partner,
            partner_kind=PARTNER_KINDS.value_of(p.partner_kind),
            expire_time=timestamp(p.expire_at))
        for p in view.pending)
    return msg


class WijkteamServicer(wijkteam_pb2_grpc.WijkteamServiceServicer):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @handle
    def ListAlerts(
        self, request: wijkteam_pb2.ListAlertsRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.ListAlertsResponse:
        state = ALERT_STATES.name_of(request.state) or None
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
        decision = REVIEW_DECISIONS.name_of(request.decision)
        if not decision:
            raise InvalidArgument("decision is required")
        view = self.matcher.review_alert(caller(context), request.name, decision,
                                         request.reason, request.user)
        return alert_message(view)

    @handle
    def CloseAlert(
        self, request: wijkteam_pb2.CloseAlertRequest, context: grpc.ServicerContext
    ) -> wijkteam_pb2.Alert:
        outcome = ALERT_OUTCOMES.name_of(request.outcome)
        if not outcome:
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
