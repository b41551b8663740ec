"""PolicyService: publish, revoke, read, simulate and monitor policies (server side)."""

from __future__ import annotations

import base64
from typing import Any

import grpc

from policies.revocation import Revocation, RevocationError
from policies.suppression import Count
from samenloop.v1 import policy_pb2, policy_pb2_grpc
from services.matcher.errors import InvalidArgument
from services.matcher.service import Matcher
from services.matcher.servicers._common import caller, handle, timestamp
from services.matcher.views import PolicyView

_STATES = {
    "active": policy_pb2.POLICY_STATE_ACTIVE,
    "revoked": policy_pb2.POLICY_STATE_REVOKED,
    "out_of_validity": policy_pb2.POLICY_STATE_OUT_OF_VALIDITY,
    "superseded": policy_pb2.POLICY_STATE_OUT_OF_VALIDITY,
    "not_in_force": policy_pb2.POLICY_STATE_NOT_IN_FORCE,
}


def policy_message(view: PolicyView) -> policy_pb2.PublishedPolicy:
    return policy_pb2.PublishedPolicy(
        name=f"policies/{view.policy_id}",
        policy_id=view.policy_id,
        version=view.version,
        digest=view.digest,
        document_json=view.document_json.encode("utf-8"),
        state=_STATES[view.state],
        revoke_reason=view.revoke_reason or "",
        publish_time=timestamp(view.published_at),
        revoke_time=timestamp(view.revoked_at),
        revocation=revocation_message(view.revocation),
        state_reason=view.state_reason,
    )


def revocation_message(document: dict[str, Any] | None) -> policy_pb2.PolicyRevocation | None:
    """The stored statement as protobuf (signature as raw bytes)."""
    if document is None:
        return None
    return policy_pb2.PolicyRevocation(
        **{k: v for k, v in document.items() if k != "signature"},
        signature=base64.b64decode(document["signature"]),
    )


def revocation_from_message(request: policy_pb2.RevokePolicyRequest) -> Revocation | None:
    """The statement in a request, or None when there is none; malformed: InvalidArgument."""
    if not request.HasField("revocation"):
        return None
    m = request.revocation
    try:
        return Revocation.from_document({
            "policy_id": m.policy_id, "version": m.version, "digest": m.digest,
            "reason": m.reason, "revoked_at": m.revoked_at, "officer_id": m.officer_id,
            "key_id": m.key_id, "signature": base64.b64encode(m.signature).decode("ascii"),
        })
    except RevocationError as exc:
        raise InvalidArgument(str(exc)) from None


def count_message(count: Count) -> policy_pb2.SuppressedCount:
    return policy_pb2.SuppressedCount(
        value=count.value, suppressed=count.suppressed, display=count.display
    )


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @handle
    def PublishPolicy(
        self, request: policy_pb2.PublishPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.PublishedPolicy:
        return policy_message(self.matcher.publish_policy(caller(context), request.document))

    @handle
    def RevokePolicy(
        self, request: policy_pb2.RevokePolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.PublishedPolicy:
        view = self.matcher.revoke_policy(caller(context), request.name,
                                          revocation_from_message(request))
        return policy_message(view)

    @handle
    def GetPolicy(
        self, request: policy_pb2.GetPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.PublishedPolicy:
        return policy_message(self.matcher.get_policy(caller(context), request.name))

    @handle
    def ListPolicies(
        self, request: policy_pb2.ListPoliciesRequest, context: grpc.ServicerContext
    ) -> policy_pb2.ListPoliciesResponse:
        views, token = self.matcher.list_policies(
            caller(context), request.page_size, request.page_token, request.include_inactive
        )
        return policy_pb2.ListPoliciesResponse(
            policies=[policy_message(v) for v in views], next_page_token=token
        )

    @handle
    def SimulatePolicy(
        self, request: policy_pb2.SimulatePolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.SimulatePolicyResponse:
        report = self.matcher.simulate_policy(caller(context), request.document,
                                              request.evaluate_on)
        return policy_pb2.SimulatePolicyResponse(
            policy_id=report.policy_id,
            evaluate_on=report.evaluate_on.isoformat(),
            households_evaluated=count_message(report.households_evaluated),
            households_flagged=count_message(report.households_flagged),
            by_domains=[
                policy_pb2.SimulationCell(domains=list(c.domains),
                                          households=count_message(c.households))
                for c in report.by_domains
            ],
            by_area=[
                policy_pb2.SimulationCell(area_code=c.area_code,
                                          households=count_message(c.households))
                for c in report.by_area
            ],
        )

    @handle
    def GetFairnessReport(
        self, request: policy_pb2.GetFairnessReportRequest, context: grpc.ServicerContext
    ) -> policy_pb2.FairnessReport:
        report = self.matcher.fairness(caller(context), request.name)
        return policy_pb2.FairnessReport(
            policy_id=report.policy_id,
            rows=[
                policy_pb2.FairnessRow(
                    area_code=r.area_code,
                    signals=count_message(r.signals),
                    alerts=count_message(r.alerts),
                    relative_rate=r.relative_rate or 0.0,
                )
                for r in report.rows
            ],
        )
