"""The inbox's use cases, shared by the web app and the CLI.

Every call goes to the matcher over mTLS with the team's certificate and names the team member
(`user`, a team-local id) so the matcher's audit log records who listed, viewed, assigned,
decided and closed. Sealed disclosures are opened here, in memory, only when a member asks to
see them with a coded reason (`view_reason`); each one is verified first (verify.py) and one that
fails is never shown: it is reported to the matcher's audit log and logged locally. Handling an
alert continues its trace (`Alert.traceparent`), so one trace runs from the partner's batch to
the team.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import grpc

from crypto.keys import load_verify_key, load_x25519_private_key
from crypto.sealing import X25519PrivateKey
from crypto.signing import VerifyKey
from domain.codes import load_codes
from samenloop.v1 import wijkteam_pb2, wijkteam_pb2_grpc
from services.common.enum_names import (
    ALERT_OUTCOMES,
    ALERT_STATES,
    PARTNER_KINDS,
    REVIEW_DECISIONS,
)
from services.common.logging import get_logger
from services.common.tls import secure_channel
from services.common.tracing import continue_trace
from services.wijkteam.accounts import check_user_id
from services.wijkteam.policy_view import PolicyInfo, policy_info
from services.wijkteam.settings import InboxSettings
from services.wijkteam.verify import DisclosureRejected, open_verified

TIMEOUT = 15.0

TABS: dict[str, tuple[str, ...]] = {
    "new": ("open",),
    "assigned": ("assigned", "reviewed"),
    "closed": ("closed",),
}
DECISIONS = REVIEW_DECISIONS
OUTCOMES = ALERT_OUTCOMES


class InboxError(Exception):
    """A request the inbox refuses before asking the matcher (the message is for people)."""


class NotFound(InboxError):
    """The alert does not exist or is not this team's (the matcher does not say which)."""


@dataclass(frozen=True)
class AlertSummary:
    name: str
    state: str
    policy: PolicyInfo
    domains: tuple[str, ...]
    created: date
    regisseur: str

    @property
    def alert_id(self) -> str:
        return self.name.removeprefix("alerts/")


@dataclass(frozen=True)
class SignalLine:
    signal_type: str
    partner_kind: str
    observed_on: str


@dataclass(frozen=True)
class DisclosureItem:
    name: str
    partner: str
    partner_kind: str
    fields: tuple[str, ...]
    status: str
    """`opened` (verified, values shown), `sealed` (not opened yet), `refused`, `unverified`."""
    values: dict[str, str] = field(default_factory=dict)
    refusal_reason: str = ""
    signal_id: str = ""
    """The partner's id of the signal: when `opened`, the one inside the verified box (which
    must equal the matcher's); otherwise as the matcher names it."""


@dataclass(frozen=True)
class AlertDetail:
    summary: AlertSummary
    signals: tuple[SignalLine, ...]
    partner_kinds: tuple[str, ...]
    disclosures: tuple[DisclosureItem, ...]
    pending: tuple[tuple[str, int], ...]
    """(partner kind, number of reveal requests still waiting for that partner's answer); a
    request cancelled (signal withdrawn, alert closed) or expired is not waited for."""
    decision: str
    decision_reason: str
    outcome: str
    identity_shown: bool


class Inbox:
    """One team's view of its alerts at the matcher."""

    def __init__(
        self,
        settings: InboxSettings,
        *,
        private_key: X25519PrivateKey | None = None,
        partner_keys: dict[str, VerifyKey] | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.settings = settings
        # The team's key lives in this process only; it is never written anywhere.
        self._private_key = private_key or load_x25519_private_key(settings.inbox_key)
        self.public_key = self._private_key.public_key.to_base64()
        self.partner_keys = partner_keys if partner_keys is not None else {
            org: load_verify_key(path) for org, path in settings.partner_keys.items()}
        self._channel = channel or secure_channel(
            settings.matcher, settings.tls.material(), server_role="matcher",
            max_message_bytes=settings.max_message_bytes)
        self.stub = wijkteam_pb2_grpc.WijkteamServiceStub(self._channel)

    @property
    def log(self) -> Any:
        return get_logger(component="inbox")

    @property
    def channel(self) -> grpc.Channel:
        """The mTLS channel to the matcher (for its health check)."""
        return self._channel

    def close(self) -> None:
        self._channel.close()

    # ------------------------------------------------------------------ reading

    def _policy(self, alert: wijkteam_pb2.Alert) -> PolicyInfo:
        return policy_info(bytes(alert.policy_document), policy_id=alert.policy_id,
                           version=alert.policy_version, digest=alert.policy_digest,
                           team=self.settings.team, team_public_key=self.public_key)

    def _summary(self, alert: wijkteam_pb2.Alert) -> AlertSummary:
        created = (alert.create_time.ToDatetime(tzinfo=UTC).date() if alert.HasField("create_time")
                   else datetime.now(UTC).date())
        return AlertSummary(alert.name, ALERT_STATES.name_of(alert.state, "open"),
                            self._policy(alert),
                            tuple(alert.domains), created, alert.regisseur)

    def list_alerts(self, user: str, tab: str | None = None) -> list[AlertSummary]:
        """The team's alerts, newest first; `tab` is new / assigned / closed. No identities."""
        check_user_id(user)
        states = TABS.get(tab or "", ())
        out: list[AlertSummary] = []
        token = ""
        while True:
            response = self._call(self.stub.ListAlerts, wijkteam_pb2.ListAlertsRequest(
                page_size=500, page_token=token, user=user))
            out.extend(self._summary(a) for a in response.alerts
                       if not states or ALERT_STATES.name_of(a.state) in states)
            token = response.next_page_token
            if not token or len(out) >= 2000:
                return out

    def alert(self, user: str, name: str, view_reason: str = "") -> AlertDetail:
        """One alert; with `view_reason` its disclosures are verified, opened and shown."""
        check_user_id(user)
        name = _alert_name(name)
        if view_reason:
            load_codes().view_reason.check(view_reason, "view_reason")
        alert = self._call(self.stub.GetAlert, wijkteam_pb2.GetAlertRequest(
            name=name, user=user, view_reason=view_reason))
        summary = self._summary(alert)
        # Handling the alert continues the trace of the batch that created it (Alert.traceparent).
        with continue_trace("inbox.alert", alert.traceparent) as span:
            span.set_attribute("samenloop.alert", alert.name)
            items = tuple(self._disclosure(user, alert, summary.policy, d,
                                           open_box=bool(view_reason))
                          for d in alert.disclosures)
        kinds = {PARTNER_KINDS.name_of(s.partner_kind) for s in alert.signals}
        pending = Counter(PARTNER_KINDS.name_of(p.partner_kind)
                          for p in alert.pending_disclosures)
        return AlertDetail(
            summary=summary,
            signals=tuple(SignalLine(s.signal_type, PARTNER_KINDS.name_of(s.partner_kind),
                                     s.observed_on) for s in alert.signals),
            partner_kinds=tuple(sorted(k for k in kinds if k)),
            disclosures=items,
            pending=tuple(sorted(pending.items())),
            decision=REVIEW_DECISIONS.name_of(alert.decision),
            decision_reason=alert.decision_reason,
            outcome=ALERT_OUTCOMES.name_of(alert.outcome),
            identity_shown=bool(view_reason),
        )

    def _disclosure(self, user: str, alert: wijkteam_pb2.Alert, policy: PolicyInfo,
                    d: wijkteam_pb2.Disclosure, *, open_box: bool) -> DisclosureItem:
        kind = PARTNER_KINDS.name_of(d.partner_kind)

        def item(status: str, values: dict[str, str] | None = None) -> DisclosureItem:
            return DisclosureItem(d.name, d.partner, kind, tuple(d.fields), status,
                                  values or {}, d.refusal_reason, d.signal_id)

        if not d.HasField("sealed"):
            return item("refused")
        if not open_box:
            return item("sealed")
        allowed = policy.disclosure.get(kind, ()) if policy.verified else tuple(d.fields)
        try:
            values = open_verified(alert, d, private_key=self._private_key,
                                   partner_keys=self.partner_keys, allowed_fields=allowed)
        except DisclosureRejected as exc:
            self._report_unverified(user, d.name, str(exc))
            return item("unverified")
        return item("opened", values)

    def _report_unverified(self, user: str, name: str, why: str) -> None:
        # The reason names the check that failed, never a disclosed value.
        self.log.warning("disclosure_unverified", disclosure=name, user=user, reason=why)
        try:
            self._call(self.stub.ReportUnverifiedDisclosure,
                       wijkteam_pb2.ReportUnverifiedDisclosureRequest(name=name, user=user))
        except InboxError:
            self.log.error("disclosure_unverified_not_reported", disclosure=name)

    # ------------------------------------------------------------------ case flow

    def assign(self, user: str, name: str, regisseur: str) -> AlertSummary:
        check_user_id(user)
        check_user_id(regisseur)
        alert = self._call(self.stub.AssignAlert, wijkteam_pb2.AssignAlertRequest(
            name=_alert_name(name), regisseur=regisseur, user=user))
        return self._summary(alert)

    def decide(self, user: str, name: str, decision: str, reason: str) -> AlertSummary:
        """Record the regisseur's decision after review; only the assigned regisseur may."""
        check_user_id(user)
        if decision not in DECISIONS:
            raise InboxError(f"decision must be one of {', '.join(DECISIONS)}")
        load_codes().review_decision_reason.check(reason, "reason")
        name = _alert_name(name)
        current = self._call(self.stub.GetAlert, wijkteam_pb2.GetAlertRequest(
            name=name, user=user))
        if not current.regisseur:
            raise InboxError("assign a regisseur first: the decision follows the regisseur's "
                             "review")
        if current.regisseur != user:
            raise InboxError(f"only the assigned regisseur ({current.regisseur}) records the "
                             "decision")
        alert = self._call(self.stub.ReviewAlert, wijkteam_pb2.ReviewAlertRequest(
            name=name, decision=DECISIONS[decision], reason=reason, user=user))
        return self._summary(alert)

    def close_alert(self, user: str, name: str, outcome: str) -> AlertSummary:
        check_user_id(user)
        if outcome not in OUTCOMES:
            raise InboxError(f"outcome must be one of {', '.join(OUTCOMES)}")
        alert = self._call(self.stub.CloseAlert, wijkteam_pb2.CloseAlertRequest(
            name=_alert_name(name), outcome=OUTCOMES[outcome], user=user))
        return self._summary(alert)

    # ------------------------------------------------------------------ transport

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=TIMEOUT)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(details or "not found") from None
            name = code.name if code is not None else "UNKNOWN"
            raise MatcherRefused(name, details or "") from None


class MatcherRefused(InboxError):
    """The matcher answered with an error status (or could not be reached)."""

    def __init__(self, status: str, details: str) -> None:
        self.status = status
        self.details = details
        if status == "UNAVAILABLE":
            text = f"the matcher is unreachable: {details}"
        else:
            text = f"the matcher answered {status}: {details}"
        super().__init__(text)


def _alert_name(name: str) -> str:
    """`alerts/{id}` from an id or a name; anything else is refused before any call."""
    value = name.strip()
    alert_id = value.removeprefix("alerts/")
    if not alert_id or "/" in alert_id or not alert_id.replace("-", "").replace("_", "").isalnum():
        raise InboxError("an alert is named alerts/ID (or just ID), as `samenloop inbox alerts` "
                         "lists them")
    return f"alerts/{alert_id}"
