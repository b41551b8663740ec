"""PartnerService: what partner gateways do at the matcher."""

from __future__ import annotations

from collections import Counter
from typing import Any

import grpc

from samenloop.v1 import common_pb2, partner_pb2, partner_pb2_grpc
from services.common import metrics
from services.matcher.errors import InvalidArgument
from services.matcher.inquiries import INDICATED, NOT_INDICATED
from services.matcher.service import Matcher
from services.matcher.servicers._common import (
    caller,
    deadline_seconds,
    duration_seconds,
    handle,
    pseudonym_in,
    timestamp,
)
from services.matcher.validation import LinkIn, SignalIn
from services.matcher.views import ACCEPTED, DUPLICATE, BatchResult, InquiryView

_OUTCOMES = {
    ACCEPTED: common_pb2.ROW_OUTCOME_ACCEPTED,
    DUPLICATE: common_pb2.ROW_OUTCOME_DUPLICATE,
}
_ANSWERS = {
    INDICATED: partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED,
    NOT_INDICATED: partner_pb2.INQUIRY_ANSWER_NOT_INDICATED,
}


def _batch(result: BatchResult) -> tuple[list[common_pb2.RowResult], common_pb2.BatchCounts]:
    rows = [
        common_pb2.RowResult(
            id=r.id,
            outcome=_OUTCOMES.get(r.outcome, common_pb2.ROW_OUTCOME_REJECTED),
            reason_code=r.reason_code,
            reason=r.reason,
        )
        for r in result.results
    ]
    counts = common_pb2.BatchCounts(
        received=len(rows),
        accepted=result.count(ACCEPTED),
        duplicate=result.count(DUPLICATE),
        rejected=len(rows) - result.count(ACCEPTED) - result.count(DUPLICATE),
    )
    return rows, counts


def inquiry_message(view: InquiryView) -> partner_pb2.Inquiry:
    """The answer: the request echoed, a name, a time and one bit (never domains or state)."""
    msg = partner_pb2.Inquiry(
        name=f"inquiries/{view.name_id}",
        policy=f"policies/{view.policy_id}",
        requester_role=view.requester_role,
        reason=view.reason,
        request_id=view.request_id,
        answer=_ANSWERS[view.answer],
        create_time=timestamp(view.created_at),
    )
    if view.household is not None:
        msg.household.voprf_output = view.household.voprf_output
        msg.household.key_id = view.household.key_id
    return msg


def _record_signals(matcher: Matcher, organisation: str, result: BatchResult) -> None:
    """Accepted and rejected rows by reason code (duplicates are neither)."""
    entry = matcher.settings.partners.get(organisation)
    kind = entry.kind if entry is not None else "unknown"
    metrics.signals_ingested(result.count(ACCEPTED), partner_kind=kind)
    reasons = Counter(r.reason_code or "unknown" for r in result.results
                      if r.outcome not in (ACCEPTED, DUPLICATE))
    metrics.signals_rejected(reasons, partner_kind=kind)


class PartnerServicer(partner_pb2_grpc.PartnerServiceServicer):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @handle
    def SubmitSignals(
        self, request: partner_pb2.SubmitSignalsRequest, context: grpc.ServicerContext
    ) -> partner_pb2.SubmitSignalsResponse:
        rows = [
            SignalIn(
                signal_id=s.signal_id,
                signal_type=s.signal_type,
                observed_on=s.observed_on,
                purpose=s.purpose,
                household=pseudonym_in(s, "household"),
                person=pseudonym_in(s, "person"),
                escalated=s.escalated,
                area_code=s.area_code,
                catalogue_version=s.catalogue_version,
            )
            for s in request.signals
        ]
        who = caller(context)
        result = self.matcher.submit_signals(who, request.batch_id, rows)
        results, counts = _batch(result)
        _record_signals(self.matcher, who.organisation, result)
        return partner_pb2.SubmitSignalsResponse(results=results, counts=counts)

    @handle
    def WithdrawSignals(
        self, request: partner_pb2.WithdrawSignalsRequest, context: grpc.ServicerContext
    ) -> partner_pb2.WithdrawSignalsResponse:
        result = self.matcher.withdraw_signals(
            caller(context),
            request.batch_id,
            [(w.signal_id, w.reason_code) for w in request.withdrawals],
        )
        results, counts = _batch(result)
        return partner_pb2.WithdrawSignalsResponse(results=results, counts=counts)

    @handle
    def SubmitHouseholdLinks(
        self, request: partner_pb2.SubmitHouseholdLinksRequest, context: grpc.ServicerContext
    ) -> partner_pb2.SubmitHouseholdLinksResponse:
        rows = [
            LinkIn(
                link_id=link.link_id,
                person=pseudonym_in(link, "person"),
                household=pseudonym_in(link, "household"),
                valid_from=link.valid_from,
                area_code=link.area_code,
            )
            for link in request.links
        ]
        result = self.matcher.submit_household_links(caller(context), request.batch_id, rows)
        results, counts = _batch(result)
        return partner_pb2.SubmitHouseholdLinksResponse(results=results, counts=counts)

    @handle
    def CreateInquiry(
        self, request: partner_pb2.CreateInquiryRequest, context: grpc.ServicerContext
    ) -> partner_pb2.Inquiry:
        q = request.inquiry
        try:
            view = self.matcher.create_inquiry(
                caller(context),
                policy_name=q.policy,
                household=pseudonym_in(q, "household"),
                requester_role=q.requester_role,
                reason=q.reason,
                request_id=q.request_id,
            )
        except Exception:
            metrics.inquiry("refused")
            raise
        metrics.inquiry("answered")  # never the answer: that bit is for the asking partner only
        return inquiry_message(view)

    @handle
    def PullRevealRequests(
        self, request: partner_pb2.PullRevealRequestsRequest, context: grpc.ServicerContext
    ) -> partner_pb2.PullRevealRequestsResponse:
        wait = duration_seconds(request.wait, "wait") if request.HasField("wait") else 0.0
        views = self.matcher.pull_reveal_requests(
            caller(context),
            request.max_requests,
            deadline_seconds(context, wait),
            context.is_active,
        )
        out = []
        for v in views:
            d: dict[str, Any] = v.document
            parsed = partner_pb2.RevealRequest(
                name=d["name"],
                alert=d["alert"],
                policy_id=d["policy_id"],
                policy_version=int(d["policy_version"]),
                policy_digest=d["policy_digest"],
                signal_id=d["signal_id"],
                fields=list(d["fields"]),
                recipient_public_key=d["recipient_public_key"],
                traceparent=d["traceparent"],
            )
            parsed.create_time.FromJsonString(d["create_time"])
            parsed.expire_time.FromJsonString(d["expire_time"])
            out.append(
                partner_pb2.SignedRevealRequest(
                    request=parsed,
                    signed=common_pb2.SignedPayload(
                        payload=v.payload, signature=v.signature, key_id=v.key_id
                    ),
                )
            )
        return partner_pb2.PullRevealRequestsResponse(reveal_requests=out)

    @handle
    def SubmitDisclosure(
        self, request: partner_pb2.SubmitDisclosureRequest, context: grpc.ServicerContext
    ) -> partner_pb2.SubmitDisclosureResponse:
        answer = request.WhichOneof("answer")
        sealed = refusal = None
        if answer == "sealed":
            sealed = (bytes(request.sealed.ciphertext), request.sealed.recipient_public_key)
        elif answer == "refusal":
            reason = request.refusal.reason
            if reason not in partner_pb2.RefusalReason.values():  # a number newer than v1
                raise InvalidArgument(
                    f"refusal.reason {reason} is not a RefusalReason of samenloop.v1; use "
                    "REFUSAL_REASON_OTHER with a code in detail")
            refusal = (partner_pb2.RefusalReason.Name(reason), request.refusal.detail)
        signature = None
        if request.disclosure_signature:
            signature = (bytes(request.disclosure_signature), request.disclosure_key_id)
        view = self.matcher.submit_disclosure(
            caller(context), request.reveal_request, sealed=sealed, refusal=refusal,
            signature=signature,
        )
        metrics.disclosure("sealed" if refusal is None else refusal[0])
        return partner_pb2.SubmitDisclosureResponse(
            disclosure=f"alerts/{view.alert_name_id}/disclosures/{view.name_id}",
            audit_index=view.audit_index,
        )


