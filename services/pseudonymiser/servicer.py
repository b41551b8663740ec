"""gRPC handlers of the Pseudonymiser service: thin shell around `crypto.oprf`.

Logged per request: the calling organisation, the number of elements, the decision. Never the
elements themselves (they are blinded and meaningless, but there is no reason to keep them).
"""

from __future__ import annotations

import grpc

from crypto import oprf
from crypto.errors import CryptoError, InvalidElement
from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from services.common import metrics
from services.common.identity import peer_identity
from services.common.logging import get_logger
from services.pseudonymiser.quota import QuotaLedger

CIPHERSUITE = "ristretto255-SHA512"


class PseudonymiserServicer(pseudonymiser_pb2_grpc.PseudonymiserServicer):
    def __init__(self, key: oprf.VoprfServer, quota: QuotaLedger, max_batch_size: int) -> None:
        """`key` is the one VOPRF key this pseudonymiser serves (rotation: see ADR 0006)."""
        self._key = key
        self._quota = quota
        self._max_batch = max_batch_size

    def GetPublicKey(
        self, request: pseudonymiser_pb2.GetPublicKeyRequest, context: grpc.ServicerContext
    ) -> pseudonymiser_pb2.PublicKeyInfo:
        return pseudonymiser_pb2.PublicKeyInfo(
            key_id=self._key.key_id,
            public_key=self._key.public_key.to_bytes(),
            ciphersuite=CIPHERSUITE,
            mode=int(oprf.OprfMode.VOPRF),
            max_batch_size=self._max_batch,
        )

    def BlindEvaluate(
        self, request: pseudonymiser_pb2.BlindEvaluateRequest, context: grpc.ServicerContext
    ) -> pseudonymiser_pb2.BlindEvaluateResponse:
        caller = peer_identity(context)
        count = len(request.blinded_elements)
        # resolved per call, so a logging configuration made after start-up applies
        log = get_logger(component="pseudonymiser", key_id=self._key.key_id).bind(
            organisation=caller.organisation, elements=count, request_id=request.request_id[:64])
        if request.key_id != self._key.key_id:
            log.warning("evaluation_refused", reason="unknown_key_id")
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"this pseudonymiser serves key {self._key.key_id}, the request names "
                f"{request.key_id[:80]!r}; check the pinned key in the gateway configuration",
            )
        if count == 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the batch holds no blinded elements")
        if count > self._max_batch:
            log.warning("evaluation_refused", reason="batch_too_large")
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"a batch holds at most {self._max_batch} blinded elements, this one {count}; "
                "split it into smaller batches",
            )
        if self._quota.limits_for(caller.organisation) is None:
            log.warning("evaluation_refused", reason="organisation_not_served")
            metrics.pseudonymiser_elements(count, organisation=caller.organisation,
                                           result="organisation_not_served")
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"organisation {caller.organisation} is not served by this pseudonymiser; "
                "its operator must list it under `organisations` with its own quota",
            )
        decision = self._quota.charge(caller.organisation, count)
        if not decision.allowed:
            log.warning("evaluation_refused", reason=decision.code,
                        used_today=decision.used_today, daily_limit=decision.daily_limit)
            metrics.pseudonymiser_elements(count, organisation=caller.organisation,
                                           result=decision.code)
            if decision.code == "daily_quota":
                message = (
                    f"daily quota of {decision.daily_limit} evaluations for "
                    f"{caller.organisation} reached ({decision.used_today} used today); "
                    "the quota resets at 00:00 UTC. An unexpected volume is treated as a "
                    "possible dictionary attack: contact the pseudonymisation operator"
                )
            else:
                message = (
                    f"rate limit for {caller.organisation} exceeded; retry after "
                    f"{decision.retry_after_seconds:.1f} s"
                )
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
        try:
            evaluated, proof = self._key.evaluate_batch(list(request.blinded_elements))
        except InvalidElement as exc:
            log.warning("evaluation_refused", reason="invalid_element")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid blinded element: {exc}")
        except CryptoError as exc:
            log.warning("evaluation_refused", reason="evaluation_failed")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot evaluate the batch: {exc}")
        log.info("batch_evaluated", used_today=decision.used_today)
        metrics.pseudonymiser_elements(count, organisation=caller.organisation,
                                       result="evaluated")
        return pseudonymiser_pb2.BlindEvaluateResponse(
            key_id=self._key.key_id, evaluated_elements=evaluated, proof=proof
        )
