"""Reveal and disclosures: signed reveal requests to the partners, their sealed answers back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from services.common.error_reason import REVEAL_REQUEST_CLOSED
from services.matcher import alerts, audit, store
from services.matcher.core import MatcherCore, resource_id
from services.matcher.disclosure_signature import check_disclosure_signature
from services.matcher.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.matcher.notify import POLL_INTERVAL
from services.matcher.schema import (
    ANSWERED,
    PENDING,
    disclosures,
    households,
    reveal_requests,
)
from services.matcher.schema import (
    alerts as alerts_t,
)
from services.matcher.settings import PartnerEntry
from services.matcher.views import (
    MAX_PULL,
    MAX_SEALED_BYTES,
    MAX_WAIT,
    Caller,
    DisclosureView,
    RevealRequestView,
    disclosure_view,
)


def _requests_with_alert() -> sa.Select[Any]:
    """Reveal requests with their alert's name and policy and the household's pseudonym (the
    audit subject): what delivering and answering a request both need."""
    return (sa.select(reveal_requests, alerts_t.c.name_id.label("alert_name_id"),
                      alerts_t.c.policy_id.label("alert_policy_id"),
                      alerts_t.c.policy_digest.label("alert_policy_digest"),
                      households.c.pseudonym.label("household_pseudonym"))
            .join(alerts_t, alerts_t.c.id == reveal_requests.c.alert_id)
            .join(households, households.c.id == alerts_t.c.household_id))


class DisclosureUseCases(MatcherCore):
    """PullRevealRequests, SubmitDisclosure."""

    def pull_reveal_requests(
        self, caller: Caller, max_requests: int, wait_seconds: float,
        is_active: Callable[[], bool] = lambda: True,
    ) -> list[RevealRequestView]:
        partner = self.partner(caller)
        limit = max(1, min(max_requests or 100, MAX_PULL))
        deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT))
        actor = self._actor(caller)
        while True:
            seen = self.notifier.generation
            found = store.run_transaction(
                self.engine, lambda conn: self._deliver(conn, partner, limit, actor))
            if found or time.monotonic() >= deadline or not is_active():
                return found
            self.notifier.wait(seen, min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    def _deliver(
        self, conn: sa.Connection, partner: PartnerEntry, limit: int, actor: audit.Actor
    ) -> list[RevealRequestView]:
        now = self.clock.now()
        rows = conn.execute(
            _requests_with_alert()
            .where(reveal_requests.c.partner == partner.organisation,
                   reveal_requests.c.state == PENDING,
                   reveal_requests.c.expire_at > now)
            .order_by(reveal_requests.c.id)
            .limit(limit)
        ).all()
        if not rows:
            return []
        conn.execute(
            reveal_requests.update()
            .where(reveal_requests.c.id.in_([r.id for r in rows]))
            .values(delivered_count=reveal_requests.c.delivered_count + 1, last_delivered_at=now)
        )
        under: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r.alert_policy_digest not in under:
                under[r.alert_policy_digest] = self._under_policy(conn, r.alert_policy_id,
                                                                  r.alert_policy_digest)
        events = [
            audit.AuditEvent(
                "reveal_request_delivered",
                data_subject_id=bytes(r.household_pseudonym).hex(),
                data_subject_id_type=audit.HOUSEHOLD,
                attributes={"reveal_request": f"revealRequests/{r.name_id}",
                            "partner": r.partner, "delivery": str(int(r.delivered_count) + 1)},
                **under[r.alert_policy_digest])
            for r in rows
        ]
        audit.write(conn, actor, events, now)
        return [
            RevealRequestView(r.name_id, r.alert_name_id, bytes(r.payload), bytes(r.signature),
                              r.key_id, json.loads(bytes(r.payload)))
            for r in rows
        ]

    def submit_disclosure(
        self,
        caller: Caller,
        reveal_request: str,
        *,
        sealed: tuple[bytes, str] | None,
        refusal: tuple[str, str] | None,
        signature: tuple[bytes, str] | None = None,
    ) -> DisclosureView:
        partner = self.partner(caller)
        rr_id = resource_id(reveal_request, "revealRequests")
        if (sealed is None) == (refusal is None):
            raise InvalidArgument("exactly one of sealed or refusal is required")
        if sealed is not None:
            if not sealed[0]:
                raise InvalidArgument("sealed.ciphertext is required")
            if len(sealed[0]) > MAX_SEALED_BYTES:
                raise InvalidArgument(f"sealed.ciphertext is larger than {MAX_SEALED_BYTES} bytes")
            signature = check_disclosure_signature(partner, f"revealRequests/{rr_id}",
                                                   sealed[0], signature)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> DisclosureView:
            now = self.clock.now()
            rr = conn.execute(
                _requests_with_alert().where(reveal_requests.c.name_id == rr_id)).first()
            if rr is None or rr.partner != partner.organisation:
                raise NotFound(f"revealRequests/{rr_id} not found")
            document = json.loads(bytes(rr.payload))
            if sealed is not None and sealed[1] != document["recipient_public_key"]:
                raise InvalidArgument(
                    "sealed.recipient_public_key is not the recipient key of the policy")
            claimed = conn.execute(
                reveal_requests.update()
                .where(reveal_requests.c.id == rr.id, reveal_requests.c.state == PENDING)
                .values(state=ANSWERED)
            ).rowcount
            if not claimed:
                prior = conn.execute(sa.select(disclosures).where(
                    disclosures.c.reveal_request_id == rr.id)).first()
                if prior is not None:
                    return disclosure_view(prior, rr.alert_name_id, rr_id, rr.signal_id)
                raise FailedPrecondition(
                    f"revealRequests/{rr_id} is {rr.state}: no answer is expected any more",
                    reason=REVEAL_REQUEST_CLOSED)
            if sealed is not None and rr.expire_at <= now:
                raise FailedPrecondition(f"revealRequests/{rr_id} expired; it was not answered",
                                         reason=REVEAL_REQUEST_CLOSED)
            name = "disclosure_received" if sealed is not None else "disclosure_refused"
            d_name = alerts.new_name_id()
            attrs = {"alert": f"alerts/{rr.alert_name_id}",
                     "reveal_request": f"revealRequests/{rr_id}", "partner": rr.partner,
                     "disclosure": f"alerts/{rr.alert_name_id}/disclosures/{d_name}"}
            if refusal is not None:
                attrs["refusal_reason"] = refusal[0]
            else:
                attrs["fields"] = ",".join(rr.fields)
            [index] = audit.write(conn, actor, [audit.AuditEvent(
                name, data_subject_id=bytes(rr.household_pseudonym).hex(),
                data_subject_id_type=audit.HOUSEHOLD, attributes=attrs,
                **self._under_policy(conn, rr.alert_policy_id, rr.alert_policy_digest))], now)
            values = {
                "name_id": d_name, "alert_id": rr.alert_id, "reveal_request_id": rr.id,
                "partner": rr.partner, "partner_kind": rr.partner_kind, "fields": rr.fields,
                "ciphertext": sealed[0] if sealed else None,
                "recipient_public_key": sealed[1] if sealed else None,
                "refusal_reason": refusal[0] if refusal else None,
                "refusal_detail": refusal[1][:500] if refusal else None,
                "signature": signature[0] if sealed and signature else None,
                "signature_key_id": signature[1] if sealed and signature else None,
                "audit_index": index, "created_at": now,
            }
            conn.execute(sa.insert(disclosures), values)
            conn.execute(alerts_t.update().where(alerts_t.c.id == rr.alert_id)
                         .values(updated_at=now))
            return DisclosureView(d_name, rr.alert_name_id, rr.partner, rr.partner_kind,
                                  tuple(rr.fields), values["ciphertext"],
                                  values["recipient_public_key"], values["refusal_reason"],
                                  now, index, rr_id, values["signature"],
                                  values["signature_key_id"], rr.signal_id)

        view = store.run_transaction(self.engine, work)
        self.notifier.notify()
        self.log.info("disclosure_answered", partner=partner.organisation,
                      refused=view.refusal_reason is not None)
        # The gateway gets the entry's leaf index, with a signed checkpoint covering it, so it
        # can fetch the inclusion proof at once (ADR 0022); the row keeps the entry's row id.
        self.sequence_audit_log(force_checkpoint=True)
        leaf = self.leaf_index_of(view.audit_index)
        if leaf is None:  # committed before the sequencing step above, so never
            raise FailedPrecondition("the disclosure's audit entry is not sequenced yet; retry")
        return dataclasses.replace(view, audit_index=leaf)
