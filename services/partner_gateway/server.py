"""`samenloop gateway serve`: the outbound loop that answers reveal requests.

The gateway makes outbound connections only: it long-polls the matcher for reveal requests
addressed to it, decides each one (`Discloser.decide`), and answers. Requests approved locally
are answered on the next turn; the vault is purged of expired rows once a day. A matcher that
is away is said once per outage and retried with backoff; the loop ends on SIGTERM/SIGINT.
"""

from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration

from samenloop.v1 import partner_pb2
from services.common.logging import get_logger
from services.partner_gateway import approvals as queue
from services.partner_gateway import audit as events
from services.partner_gateway.connections import GatewayConnectionError, call_with_retry
from services.partner_gateway.disclosure import Discloser
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.store import approvals


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
    """One turn: answer locally decided requests, then pull and answer new ones."""
    for request in queue.pending_approved(discloser):
        queue.send_approved(discloser, request)
    with discloser.gw.engine.connect() as conn:
        refused = list(conn.execute(sa.select(approvals.c.request).where(
            approvals.c.state == queue.REFUSED)).scalars())
    for request in refused:
        queue.refuse_again(discloser, request)
    gw = discloser.gw
    req = partner_pb2.PullRevealRequestsRequest(max_requests=100)
    req.wait.CopyFrom(Duration(seconds=int(wait_seconds)))
    stub = gw.partner_stub
    pulled = call_with_retry(
        "the matcher", gw.settings.matcher,
        lambda: stub.PullRevealRequests(req, timeout=wait_seconds + gw.retry.timeout_seconds),
        gw.retry).reveal_requests
    for signed in pulled:
        discloser.answer(discloser.decide(signed))
    return len(pulled)


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
            serve_once(discloser, gw.settings.pull_wait_seconds)
            if away:
                log.info("matcher_reachable_again")
                away = False
        except GatewayConnectionError as exc:
            if not away:
                log.warning("matcher_unreachable", error=str(exc))
                away = True
            stop.wait(min(30.0, gw.retry.max_seconds))
