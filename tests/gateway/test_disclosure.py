"""Reveal requests answered by the gateway, against a real matcher process over mTLS.

A standing policy (two officers and the independent reviewer) flags a household on two housing
signals; the matcher then asks the housing gateway for the identity fields the policy allows.
Tampered, unknown, unsigned, expired or revoked policies, disallowed fields and withdrawn
signals are refused and logged; a valid request yields a box only the team opens, with exactly
the allowed fields, bound to its request (services.common.disclosure.verify_disclosure).
Requests a compromised matcher would send are made here with the matcher's own key and
database, which is what such a matcher holds.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
import structlog.testing

from crypto.keys import load_signing_key, load_verify_key, load_x25519_private_key
from crypto.sealing import X25519PrivateKey, seal
from crypto.signing import SigningKey
from policies.canonical import policy_digest
from policies.model import parse_policy
from samenloop.v1 import (
    common_pb2,
    partner_pb2,
    policy_pb2,
    policy_pb2_grpc,
    wijkteam_pb2,
    wijkteam_pb2_grpc,
)
from services.common.disclosure import DisclosureRejected, statement, verify_disclosure
from services.common.tls import secure_channel
from services.matcher import reveal
from services.partner_gateway import audit as events
from services.partner_gateway.approvals import approve, list_waiting
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.disclosure import HOLD, REFUSE, SEAL, Discloser, RequestClosed
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.server import serve_once
from services.partner_gateway.settings import load_settings
from services.partner_gateway.store import approvals
from tests.gateway.conftest import (
    OFFICER,
    Deployment,
    MatcherProcess,
    gateway_config,
    run_cli,
)
from tests.matcher.helpers import TEAM, Pki, document_bytes, policy_document, sign

HOUSING = "woonstad-rotterdam"
ALLOWED = ["postcode", "huisnummer", "geslachtsnaam"]
EXPORT = (
    "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer,geslachtsnaam,"
    "voorletters,telefoon\n"
    "h-1,huurachterstand,{d},wgs-vroegsignalering,999990007,3072AB,14,Jansen,J.P.,0612345678\n"
    "h-2,ontruiming_aangezegd,{d},wgs-vroegsignalering,999990007,3072AB,14,Jansen,J.P.,"
    "0612345678\n"
)


def helpers_pki(deployment: Deployment) -> Pki:
    return Pki(deployment.pki.directory, deployment.pki.manifest, deployment.trust,
               deployment.pki)


def channel(deployment: Deployment, matcher: MatcherProcess, component: str) -> grpc.Channel:
    return secure_channel(matcher.target, deployment.pki.tls(component), server_role="matcher")


def publish(deployment: Deployment, matcher: MatcherProcess, **overrides: Any) -> dict[str, Any]:
    pki = helpers_pki(deployment)
    doc = sign(pki, policy_document(pki, id="wgs-wonen", mode="standing", **overrides))
    with channel(deployment, matcher, OFFICER) as ch:
        policy_pb2_grpc.PolicyServiceStub(ch).PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(doc)), timeout=30)
    return doc


def publish_on_request(deployment: Deployment, matcher: MatcherProcess, policy_id: str
                       ) -> dict[str, Any]:
    """An on_request policy under the Wams purpose (inquiries), signed by two officers."""
    pki = helpers_pki(deployment)
    doc = sign(pki, policy_document(pki, id=policy_id))
    with channel(deployment, matcher, OFFICER) as ch:
        policy_pb2_grpc.PolicyServiceStub(ch).PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(doc)), timeout=30)
    return doc


class Setup:
    def __init__(self, deployment: Deployment, matcher: MatcherProcess, tmp: Path,
                 **config: Any) -> None:
        self.deployment, self.matcher = deployment, matcher
        self.policy = publish(deployment, matcher)
        self.config = gateway_config(deployment, tmp / "gw", "housing", matcher.target,
                                     mapping=None, **config)
        export = tmp / "export.csv"
        export.write_text(EXPORT.format(d=(date.today() - timedelta(days=3)).isoformat()))
        done = run_cli("gateway", "ingest", str(export), "--config", str(self.config))
        assert done.returncode == 0, done.stdout + done.stderr
        self.gw = Gateway(load_settings(self.config))
        self.discloser = Discloser(self.gw)
        self.matcher_key: SigningKey = load_signing_key(
            deployment.pki.key_file("matcher", "signing"))

    def pull(self) -> list[partner_pb2.SignedRevealRequest]:
        req = partner_pb2.PullRevealRequestsRequest(max_requests=10)
        req.wait.FromSeconds(5)
        return list(self.gw.partner_stub.PullRevealRequests(req, timeout=30).reveal_requests)

    def forged(self, original: partner_pb2.SignedRevealRequest, **changes: Any
               ) -> partner_pb2.SignedRevealRequest:
        """A request as a compromised matcher would make it: changed, and signed again."""
        doc = json.loads(original.signed.payload)
        doc.update(changes)
        signed = reveal.sign(doc, self.matcher_key)
        return partner_pb2.SignedRevealRequest(
            request=partner_pb2.RevealRequest(name=doc["name"]),
            signed=common_pb2.SignedPayload(payload=signed.payload, signature=signed.signature,
                                            key_id=signed.key_id))

    def alert(self) -> wijkteam_pb2.Alert:
        with channel(self.deployment, self.matcher, TEAM) as ch:
            stub = wijkteam_pb2_grpc.WijkteamServiceStub(ch)
            [listed] = stub.ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=30).alerts
            return stub.GetAlert(wijkteam_pb2.GetAlertRequest(name=listed.name), timeout=30)

    def refusals(self) -> dict[str, str]:
        return {e.request: e.reason_code for e in AuditLog(self.gw.engine).entries(events.REFUSED)}

    def close(self) -> None:
        self.gw.close()


@pytest.fixture
def setup(deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> Any:
    s = Setup(deployment, matcher, tmp_path)
    yield s
    s.close()


def team_key(deployment: Deployment) -> X25519PrivateKey:
    return load_x25519_private_key(deployment.pki.key_file(TEAM, "inbox"))


def partner_keys(deployment: Deployment) -> dict[str, Any]:
    path = deployment.pki.directory / f"gateway-{HOUSING}" / "disclosure.key.pub"
    return {HOUSING: load_verify_key(path)}


def open_disclosure(deployment: Deployment, shown: wijkteam_pb2.Alert,
                    d: wijkteam_pb2.Disclosure, **override: Any) -> Any:
    args: dict[str, Any] = dict(
        ciphertext=d.sealed.ciphertext, signature=d.disclosure_signature,
        key_id=d.disclosure_key_id, reveal_request=d.reveal_request, partner=d.partner,
        partner_keys=partner_keys(deployment), private_key=team_key(deployment),
        alert=shown.name, policy_id=shown.policy_id, policy_version=shown.policy_version,
        policy_digest=shown.policy_digest, allowed_fields=list(d.fields))
    args.update(override)
    return verify_disclosure(**args)


def test_a_valid_request_is_sealed_to_the_team_with_exactly_the_allowed_fields(
        setup: Setup, deployment: Deployment) -> None:
    assert serve_once(setup.discloser, 5) == 2
    alert = setup.alert()
    assert len(alert.disclosures) == 2
    for d in alert.disclosures:
        assert list(d.fields) == ALLOWED and d.refusal_reason == ""
        opened = open_disclosure(deployment, alert, d)
        # exactly the policy's fields for housing, with the export's values (normalised)
        assert opened.fields == {"postcode": "3072AB", "huisnummer": "14",
                                 "geslachtsnaam": "Jansen"}
        assert opened.binding.signal_id in {"h-1", "h-2"}
        assert opened.binding.reveal_request == d.reveal_request
    # only the recipient's private key opens the box
    d = alert.disclosures[0]
    with pytest.raises(DisclosureRejected, match="does not open"):
        open_disclosure(deployment, alert, d, private_key=X25519PrivateKey.generate())
    entries = AuditLog(setup.gw.engine).entries(events.DISCLOSED)
    assert len(entries) == 2
    assert {e.fields for e in entries} == {"geslachtsnaam,huisnummer,postcode"}
    assert AuditLog(setup.gw.engine).verify_chain() is None


def test_a_box_moved_under_another_alert_or_substituted_is_detected(
        setup: Setup, deployment: Deployment) -> None:
    serve_once(setup.discloser, 5)
    alert = setup.alert()
    first, second = alert.disclosures
    # moved: the same signed box shown under another alert
    with pytest.raises(DisclosureRejected, match="alert"):
        open_disclosure(deployment, alert, first, alert="alerts/another-alert")
    # moved to the other reveal request of the same alert (signature and all)
    with pytest.raises(DisclosureRejected, match="signature"):
        open_disclosure(deployment, alert, first, reveal_request=second.reveal_request)
    # substituted: a box the matcher sealed itself to the team's public key, same format
    team_public = team_key(deployment).public_key.to_base64()
    plaintext = json.dumps({"type": "samenloop.v1.DisclosurePlaintext", "alert": alert.name,
                            "fields": {"geslachtsnaam": "Iemand"}}).encode()
    forged = seal(team_public, plaintext)
    with pytest.raises(DisclosureRejected, match="signature"):
        open_disclosure(deployment, alert, first, ciphertext=forged)
    matcher_key = load_signing_key(deployment.pki.key_file("matcher", "signing"))
    with pytest.raises(DisclosureRejected, match="registered key"):
        open_disclosure(deployment, alert, first, ciphertext=forged, key_id=matcher_key.key_id,
                        signature=matcher_key.sign_bytes(
                            statement(first.reveal_request, forged, HOUSING)))
    # unsigned
    with pytest.raises(DisclosureRejected, match="not signed"):
        open_disclosure(deployment, alert, first, signature=b"")


def test_the_matcher_refuses_a_box_without_the_partners_signature(setup: Setup) -> None:
    [rr, _] = setup.pull()
    doc = json.loads(rr.signed.payload)
    box = seal(doc["recipient_public_key"], b"{}")
    request = partner_pb2.SubmitDisclosureRequest(
        reveal_request=doc["name"],
        sealed=common_pb2.SealedBox(ciphertext=box,
                                    recipient_public_key=doc["recipient_public_key"]),
        disclosure_signature=setup.gw.disclosure_key.sign_bytes(b"something else"),
        disclosure_key_id=setup.gw.disclosure_key.key_id)
    with pytest.raises(grpc.RpcError) as info:
        setup.gw.partner_stub.SubmitDisclosure(request, timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    request.ClearField("disclosure_signature")
    with pytest.raises(grpc.RpcError) as info:
        setup.gw.partner_stub.SubmitDisclosure(request, timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _insert_policy(matcher: MatcherProcess, doc: dict[str, Any]) -> str:
    """What a compromised matcher can do: serve a policy it never verified."""
    digest = policy_digest(parse_policy(doc))
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = matcher.engine()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO policies (policy_id, version, digest, mode, team_id, document_json, "
            "state, valid_from, valid_until, published_at, published_by) VALUES (:i, :v, :d, "
            ":m, :t, :j, 'active', :f, :u, :n, 'matcher')"),
            {"i": doc["id"], "v": doc["version"], "d": digest, "m": doc["mode"],
             "t": TEAM, "j": json.dumps(doc), "f": date(2026, 1, 1), "u": date(2027, 12, 31),
             "n": now})
    engine.dispose()
    return digest


def test_refusals_for_every_way_a_request_can_be_wrong(
        setup: Setup, deployment: Deployment) -> None:
    [rr, _] = setup.pull()
    doc = json.loads(rr.signed.payload)
    pki = helpers_pki(deployment)
    cases: dict[str, partner_pb2.SignedRevealRequest] = {}

    tampered = partner_pb2.SignedRevealRequest()
    tampered.CopyFrom(rr)
    payload = bytearray(rr.signed.payload)
    payload[payload.index(b"h-")] = ord("x")
    tampered.signed.payload = bytes(payload)
    cases["bad_signature"] = tampered
    cases["policy_unknown"] = setup.forged(rr, name="revealRequests/unknown",
                                           policy_id="no-such-policy")
    unsigned = sign(pki, policy_document(pki, id="alleen-een", mode="standing"), officers=1)
    cases["policy_not_approved"] = setup.forged(
        rr, name="revealRequests/unsigned", policy_id="alleen-een",
        policy_digest=_insert_policy(setup.matcher, unsigned))
    expired = sign(pki, policy_document(pki, id="verlopen", mode="standing",
                                        valid_from="2025-01-01", valid_until="2025-12-31"))
    cases["policy_out_of_validity"] = setup.forged(
        rr, name="revealRequests/expired-policy", policy_id="verlopen",
        policy_digest=_insert_policy(setup.matcher, expired))
    cases["fields_not_allowed"] = setup.forged(rr, name="revealRequests/bsn",
                                               fields=["geslachtsnaam", "bsn"])
    cases["recipient_mismatch"] = setup.forged(
        rr, name="revealRequests/redirect",
        recipient_public_key=X25519PrivateKey.generate().public_key.to_base64())
    cases["expired"] = setup.forged(rr, name="revealRequests/late",
                                    expire_time="2026-01-01T00:00:00Z")
    cases["wrong_partner"] = setup.forged(rr, name="revealRequests/other",
                                          partner="politie-rotterdam")
    for expected, signed in cases.items():
        decision = setup.discloser.decide(signed)
        assert (decision.action, decision.reason_code) == (REFUSE, expected), expected
    refusals = setup.refusals()
    assert refusals[doc["name"]] == "bad_signature"
    for expected, signed in cases.items():
        if expected != "bad_signature":
            assert refusals[signed.request.name] == expected
    # the refusal of the real (tampered) request reaches the matcher and the team
    setup.discloser.answer(setup.discloser.decide(tampered))
    alert = setup.alert()
    assert [d.refusal_reason for d in alert.disclosures] == ["REFUSAL_REASON_BAD_SIGNATURE"]


def test_a_withdrawn_signal_is_refused(setup: Setup, tmp_path: Path) -> None:
    pulled = {json.loads(rr.signed.payload)["signal_id"]: rr for rr in setup.pull()}
    withdrawals = tmp_path / "withdrawals.csv"
    withdrawals.write_text("signal_id,reason\nh-1,resolved\n")
    done = run_cli("gateway", "ingest", str(withdrawals), "--config", str(setup.config))
    assert done.returncode == 0, done.stdout + done.stderr
    # the request delivered before the withdrawal (the matcher cancels what is still pending)
    decision = setup.discloser.decide(pulled["h-1"])
    assert (decision.action, decision.reason_code) == (REFUSE, "signal_not_live")
    assert setup.refusals() == {pulled["h-1"].request.name: "signal_not_live"}
    assert setup.discloser.decide(pulled["h-2"]).action == SEAL


def _revocation(deployment: Deployment, policy: dict[str, Any], signer: str = OFFICER) -> Any:
    from policies.revocation import sign_revocation

    key = load_signing_key(deployment.pki.key_file(signer, "signing"))
    return sign_revocation(policy_id=policy["id"], version=policy["version"],
                           digest=policy_digest(parse_policy(policy)), reason="end_of_use",
                           key=key, officer_id=signer, now=datetime.now(UTC))


def test_a_revoked_policy_is_refused(setup: Setup, deployment: Deployment) -> None:
    [rr, _] = setup.pull()  # delivered before the revocation
    statement = _revocation(deployment, setup.policy)
    with channel(deployment, setup.matcher, OFFICER) as ch:
        policy_pb2_grpc.PolicyServiceStub(ch).RevokePolicy(policy_pb2.RevokePolicyRequest(
            name="policies/wgs-wonen", revocation=policy_pb2.PolicyRevocation(
                **{k: v for k, v in statement.to_document().items() if k != "signature"},
                signature=base64.b64decode(statement.signature))), timeout=30)
    decision = setup.discloser.decide(rr)
    assert (decision.action, decision.reason_code) == (REFUSE, "policy_revoked")


def test_a_revocation_the_matcher_hides_still_counts(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    folder = tmp_path / "revocations"
    folder.mkdir()
    s = Setup(deployment, matcher, tmp_path, revocations=str(folder))
    try:
        [rr, other_rr] = s.pull()
        # the controller publishes a signed revocation; the matcher does not pass it on
        statement = _revocation(deployment, s.policy)
        (folder / "wgs-wonen-1.json").write_text(json.dumps(statement.to_document()))
        # a statement by an officer of another organisation does not count
        other = _revocation(deployment, s.policy, signer="po-woonstad-rotterdam")
        (folder / "forged.json").write_text(json.dumps(other.to_document()))
        decision = s.discloser.decide(rr)
        assert (decision.action, decision.reason_code) == (REFUSE, "policy_revoked")
        (folder / "wgs-wonen-1.json").unlink()
        # a request is answered once (ADR 0028): the refused one stays refused, the next seals
        assert s.discloser.decide(rr).repeated
        assert s.discloser.decide(other_rr).action == SEAL
    finally:
        s.close()


def test_four_eyes_holds_until_a_local_approval(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    s = Setup(deployment, matcher, tmp_path, four_eyes=True)
    try:
        serve_once(s.discloser, 5)
        waiting = list_waiting(s.discloser)
        assert len(waiting) == 2 and {w.why for w in waiting} == {"four_eyes"}
        assert all(w.fields == tuple(ALLOWED) for w in waiting)
        assert s.alert().disclosures == []
        # redelivery while waiting changes nothing
        serve_once(s.discloser, 1)
        assert len(list_waiting(s.discloser)) == 2
        done = run_cli("gateway", "approvals", "approve", waiting[0].request, "--by", "fg-017",
                       "--config", str(s.config))
        assert done.returncode == 0, done.stdout + done.stderr
        done = run_cli("gateway", "approvals", "refuse", waiting[1].request, "--by", "fg-017",
                       "--config", str(s.config))
        assert done.returncode == 0, done.stdout + done.stderr
        alert = s.alert()
        by_request = {d.reveal_request: d for d in alert.disclosures}
        assert by_request[waiting[0].request].sealed.ciphertext
        assert by_request[waiting[1].request].refusal_reason == "REFUSAL_REASON_OTHER"
        log = AuditLog(s.gw.engine)
        assert [e.actor for e in log.entries(events.APPROVED)] == ["fg-017"]
        assert [e.actor for e in log.entries(events.DISCLOSED)] == ["fg-017"]
    finally:
        s.close()


def test_above_the_daily_ceiling_requests_wait_and_an_alarm_is_logged(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    s = Setup(deployment, matcher, tmp_path,
              limits={"disclosures_per_day": 100, "per_policy_per_day": 1})
    try:
        [first, second] = s.pull()
        assert s.discloser.decide(first).action == SEAL
        held = s.discloser.decide(second)
        assert (held.action, held.reason_code) == (HOLD, "limit_per_policy")
        log = AuditLog(s.gw.engine)
        assert [e.reason_code for e in log.entries(events.LIMIT_ALARM)] == ["limit_per_policy"]
        [waiting] = list_waiting(s.discloser)
        assert waiting.request == second.request.name
        decision = approve(s.discloser, waiting.request, "fg-017")
        assert decision.action == SEAL
    finally:
        s.close()


def test_signature_check_is_over_the_exact_statement() -> None:
    key = SigningKey.generate()
    box = b"x" * 64
    sig = key.sign_bytes(statement("revealRequests/a", box, "p"))
    key.verify_key.verify_bytes(statement("revealRequests/a", box, "p"), sig)
    expected = b"samenloop disclosure v1\n" + json.dumps(
        {"box_sha256": __import__("hashlib").sha256(box).hexdigest(), "partner": "p",
         "reveal_request": "revealRequests/a"}, separators=(",", ":"), sort_keys=True).encode()
    assert statement("revealRequests/a", box, "p") == expected
    assert base64.b64encode(sig)


@pytest.mark.slow
def test_a_request_closed_at_the_matcher_is_said_and_skipped_not_waited_for(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    """The matcher cancels a request when its signal is withdrawn there or the alert closes.
    An answer that arrives afterwards is logged and audited as `reveal_request_cancelled`, and
    the gateway goes on with the next request instead of backing off as if the matcher were
    away (issue 12)."""
    s = Setup(deployment, matcher, tmp_path, four_eyes=True)
    try:
        serve_once(s.discloser, 5)
        waiting = {w.signal_id: w.request for w in list_waiting(s.discloser)}
        assert set(waiting) == {"h-1", "h-2"}
        # Both approved locally while the matcher was away (so not sent yet) ...
        with s.gw.engine.begin() as conn:
            conn.execute(approvals.update().values(state="approved", decided_by="fg-017"))
        # ... and meanwhile h-1 is withdrawn at the matcher, which cancels its request.
        s.gw.partner_stub.WithdrawSignals(partner_pb2.WithdrawSignalsRequest(
            batch_id="w-1", withdrawals=[partner_pb2.Withdrawal(signal_id="h-1",
                                                                reason_code="resolved")]),
            timeout=30)
        logged = structlog.testing.CapturingLogger()  # what the discloser logs, in order
        s.discloser.log = logged
        serve_once(s.discloser, 0)  # no exception: nothing for `serve` to back off from
        assert [(c.args[0], c.kwargs["request"]) for c in logged.calls
                if c.args and c.args[0] == "reveal_request_cancelled"] == [
            ("reveal_request_cancelled", waiting["h-1"])]
        assert [d.reveal_request for d in s.alert().disclosures] == [waiting["h-2"]]
        states = {w.request: w.state for w in list_waiting(s.discloser, include_decided=True)}
        assert states == {waiting["h-1"]: "cancelled", waiting["h-2"]: "answered"}
        log = AuditLog(s.gw.engine)
        assert [(e.request, e.reason_code) for e in log.entries(events.CANCELLED)] == [
            (waiting["h-1"], "reveal_request_cancelled")]
        # The same for a request decided as usual and answered after it closed.
        decision = s.discloser.decide(_signed_of(s, waiting["h-1"]), approved_by="fg-017")
        assert decision.action == SEAL  # the vault still holds h-1: only the matcher withdrew
        with pytest.raises(RequestClosed, match="nothing was sent"):
            s.discloser.answer(decision)
    finally:
        s.close()


def _signed_of(s: Setup, request: str) -> partner_pb2.SignedRevealRequest:
    with s.gw.engine.connect() as conn:
        row = conn.execute(sa.select(approvals).where(approvals.c.request == request)).one()
    return partner_pb2.SignedRevealRequest(
        request=partner_pb2.RevealRequest(name=request),
        signed=common_pb2.SignedPayload(payload=bytes(row.payload), signature=bytes(row.signature),
                                        key_id=row.key_id))
