"""`samenloop gateway serve`: the outbound loop that answers reveal requests.

The gateway makes outbound connections only: it long-polls the matcher for reveal requests
addressed to it, decides each one (`Discloser.decide`), and answers. Requests approved locally
are answered on the next turn; the vault is purged of expired rows once a day. After answering,
the witness looks at the central log at once, to prove the matcher logged the answers. A
matcher that is away (or refuses the gateway's calls) is said once per outage and retried with
backoff; a request the matcher has closed meanwhile is said and skipped, never waited for. The
loop ends on SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration

from samenloop.v1 import partner_pb2
from services.common.logging import get_logger
from services.common.tracing import continue_trace
from services.partner_gateway import approvals as queue
from services.partner_gateway import audit as events
from services.partner_gateway.connections import (
    GatewayConnectionError,
    PeerRefused,
    call_with_retry,
)
from services.partner_gateway.disclosure import Discloser, RequestClosed
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.store import approvals
from services.partner_gateway.witness import prove_answers


def purge_vault(gw: Gateway, today: date) -> int:
    """Delete vault rows past their retention; logs ids and counts, never content."""
    ids = gw.vault.purge_expired(today)
    if ids:
        events.AuditLog(gw.engine).append(events.VAULT_PURGED, reason_code="retention",
                                          fields=[f"count={len(ids)}"])
    get_logger().info("vault_purged", reason="retention", count=len(ids),
                      signal_ids=ids[:1000])
    return len(ids)


def serve_once(discloser: Discloser, wait_seconds: float) -> int:
    """One turn: answer locally decided requests, then pull and answer new ones. A request
    the matcher has closed meanwhile is logged (`reveal_request_cancelled`) and skipped."""
    for request in queue.pending_approved(discloser):
        _unless_closed(queue.send_approved, discloser, request)
    with discloser.gw.engine.connect() as conn:
        refused = list(conn.execute(sa.select(approvals.c.request).where(
            approvals.c.state == queue.REFUSED)).scalars())
    for request in refused:
        _unless_closed(queue.refuse_again, discloser, request)
    gw = discloser.gw
    req = partner_pb2.PullRevealRequestsRequest(max_requests=100)
    req.wait.CopyFrom(Duration(seconds=int(wait_seconds)))
    stub = gw.partner_stub
    pulled = call_with_retry(
        "the matcher", gw.settings.matcher,
        lambda: stub.PullRevealRequests(req, timeout=wait_seconds + gw.retry.timeout_seconds),
        gw.retry).reveal_requests
    for signed in pulled:
        # In the trace of the batch that created the alert (the request carries it).
        with continue_trace("gateway.reveal_request", signed.request.traceparent):
            try:
                discloser.answer(discloser.decide(signed))
            except RequestClosed:
                continue  # said and audited by `answer`; the next request is not held up
    return len(pulled)


def _unless_closed(send: Callable[[Discloser, str], object], discloser: Discloser,
                   request: str) -> None:
    # A request closed at the matcher meanwhile is marked, logged and audited by `send`.
    with contextlib.suppress(queue.ApprovalError):
        send(discloser, request)


def serve(gw: Gateway, stop: threading.Event) -> None:
    log = get_logger()
    discloser = Discloser(gw)
    purged_on: date | None = None
    away = False
    log.info("gateway_serving", matcher=gw.settings.matcher, four_eyes=gw.settings.four_eyes)
    while not stop.is_set():
        today = date.today()
        if purged_on != today:
            purge_vault(gw, today)
            purged_on = today
        try:
            if serve_once(discloser, gw.settings.pull_wait_seconds):
                prove_answers(gw)
            if away:
                log.info("matcher_reachable_again")
                away = False
        except GatewayConnectionError as exc:
            if not away:
                if isinstance(exc, PeerRefused):  # it answered, but not as expected
                    log.error("matcher_refused", error=str(exc),
                              code=exc.code.name if exc.code else "", reason=exc.reason or "")
                else:
                    log.warning("matcher_unreachable", error=str(exc))
                away = True
            stop.wait(min(30.0, gw.retry.max_seconds))
