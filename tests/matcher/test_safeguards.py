"""Safeguards checked from the outside: what the matcher stores, and what its database refuses.

- Keyed pseudonyms: every pseudonym in the matcher's tables is HMAC-SHA256(matcher key, VOPRF
  output). The expected values are computed here, independently of the code under test: the
  VOPRF output with the `voprf` package (an independent RFC 9497 implementation) as client of
  the running pseudonymiser, the key read from the matcher's key file, the HMAC from `hmac`.
- Exactly-once: the partial unique index `uq_alerts_one_open_per_household` refuses a second
  open alert for the same policy and household, whatever code inserts it; the matcher's bulk
  alert insert (ON CONFLICT on that index) reports an alert another transaction opened
  meanwhile as already open instead of failing or duplicating it.

Both run on SQLite and on PostgreSQL (`db_url`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from services.common.tls import secure_channel
from services.matcher import audit, matching, store
from services.matcher.alerts import Attempt, AttemptResult, Candidate, open_alerts
from services.matcher.schema import alerts, households, persons, reveal_requests, signals
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, MUNICIPALITY, POLICE, WGS

ristretto = pytest.importorskip("voprf.ristretto", reason="the voprf package (dev extra) is needed")

ADDRESS, CANONICAL_ADDRESS = "3071AB 7", b"3071AB|7||"  # postcode|number|letter|addition
BSN = "111222333"  # passes the elfproef


def independent_voprf_outputs(matcher: Harness, inputs: list[bytes]) -> list[bytes]:
    """Blind with the `voprf` package, evaluate on the real pseudonymiser, unblind and verify."""
    public = matcher.pseudonymiser.public_key
    clients, blinded = zip(*(ristretto.Client.blind(x) for x in inputs), strict=True)
    channel = secure_channel(f"127.0.0.1:{matcher.pseudonymiser.port}",
                             matcher.pki.tls(f"gateway-{POLICE}"), server_role="pseudonymiser")
    try:
        response = pseudonymiser_pb2_grpc.PseudonymiserStub(channel).BlindEvaluate(
            pseudonymiser_pb2.BlindEvaluateRequest(
                key_id=matcher.pseudonymiser.key_id,
                blinded_elements=[b.serialize() for b in blinded]), timeout=30)
    finally:
        channel.close()
    batch = ristretto.VerifiableBatchOutput.deserialize(
        response.proof + b"".join(response.evaluated_elements))
    return [bytes(o) for o in ristretto.Client.finalize_batch(
        list(clients), batch, ristretto.PublicKey.deserialize(public))]


def matcher_key_from_file(matcher: Harness) -> bytes:
    """The key file is a JSON document with the key base64-encoded under `secret`."""
    document = json.loads(matcher.pki.key_file("matcher", "hmac").read_bytes())
    return base64.b64decode(document["secret"])


def test_stored_pseudonyms_are_hmacs_of_the_voprf_output_under_the_matcher_key(
    matcher: Harness,
) -> None:
    police = matcher.gateway(POLICE)
    police.submit(police.signal("p-1", "huiselijk_geweld_incident", household=ADDRESS,
                                person=BSN))
    household_out, person_out = independent_voprf_outputs(matcher, [
        b"samenloop:v1:household\x00" + CANONICAL_ADDRESS,
        b"samenloop:v1:person\x00" + BSN.encode(),
    ])
    assert len(household_out) == len(person_out) == 64
    key = matcher_key_from_file(matcher)
    expected_household = hmac.new(key, household_out, hashlib.sha256).digest()
    expected_person = hmac.new(key, person_out, hashlib.sha256).digest()

    with matcher.matcher.engine.connect() as conn:
        stored_households = [bytes(p) for (p,) in conn.execute(sa.select(households.c.pseudonym))]
        stored_persons = [bytes(p) for (p,) in conn.execute(sa.select(persons.c.pseudonym))]
        signal = conn.execute(
            sa.select(households.c.pseudonym.label("household"),
                      persons.c.pseudonym.label("person"))
            .select_from(signals.join(households, households.c.id == signals.c.household_id)
                         .join(persons, persons.c.id == signals.c.person_id))
            .where(signals.c.signal_id == "p-1")).one()
    assert stored_households == [expected_household]
    assert stored_persons == [expected_person]
    assert (bytes(signal.household), bytes(signal.person)) == (expected_household,
                                                                expected_person)


def test_the_database_refuses_a_second_open_alert_for_a_household_and_policy(
    matcher: Harness,
) -> None:
    matcher.publish_policy(id="eenmaal", mode="standing")
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    housing.submit(housing.signal("h-1", "huurachterstand", household=ADDRESS, purpose=WGS))
    gemeente.submit(gemeente.signal("g-1", "energie_achterstand", household=ADDRESS,
                                    purpose=WGS))
    engine = matcher.matcher.engine
    with engine.connect() as conn:
        [alert] = [dict(r._mapping) for r in conn.execute(sa.select(alerts))]
    assert alert["state"] == "open"

    def copy(**changes: object) -> dict[str, object]:
        row = {k: v for k, v in alert.items() if k != "id"}
        row["name_id"] = uuid.uuid4().hex
        row.update(changes)
        return row

    for state in ("open", "assigned", "reviewed"):
        with pytest.raises(sa.exc.IntegrityError) as refused, engine.begin() as conn:
            conn.execute(alerts.insert().values(**copy(state=state)))
        message = str(refused.value.orig)
        assert ("uq_alerts_one_open_per_household" in message  # PostgreSQL names the index
                or "alerts.policy_id, alerts.household_id" in message), message  # SQLite
    # A closed alert for the same household and policy is history, not a second open one.
    with engine.begin() as conn:
        conn.execute(alerts.insert().values(**copy(state="closed")))
    with engine.connect() as conn:
        states = sorted(s for (s,) in conn.execute(sa.select(alerts.c.state)))
    assert states == ["closed", "open"]


def test_an_alert_another_transaction_opened_meanwhile_is_reported_not_duplicated(
    matcher: Harness,
) -> None:
    """The bulk insert's ON CONFLICT on the one-open-alert index, without the household lock:
    transaction B decides to open the alert transaction A has just inserted but not committed.
    On PostgreSQL B's INSERT waits for A, then skips its row and reports A's alert as already
    open; on SQLite B starts only after A (BEGIN IMMEDIATE) and finds A's alert first."""
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    housing.submit(housing.signal("h-1", "huurachterstand", household=ADDRESS, purpose=WGS))
    gemeente.submit(gemeente.signal("g-1", "energie_achterstand", household=ADDRESS,
                                    purpose=WGS))
    matcher.publish_policy(id="eenmaal", mode="standing")  # no signal since: no alert yet
    m = matcher.matcher
    now = m.clock.now()
    engine = m.engine
    with engine.connect() as conn:
        [active] = [a for a in m.registry.active(conn, now.date()) if a.policy.id == "eenmaal"]
        [hid] = conn.execute(sa.select(households.c.id)).scalars().all()
        home = matching.load_households(conn, [hid])[hid]
        rows = store.live_signals_by_household(conn, [hid], now.date())[hid]
    outcome = matching.evaluate_policy(active, home, rows, m.catalogue, now.date())
    assert outcome is not None and outcome.met
    candidate = Candidate(active, home, outcome, {str(r.id): r for r in rows})

    def open_in(conn: sa.Connection) -> Attempt:
        [attempt] = open_alerts(
            conn, [candidate], mode="standing", now=now, actor=audit.Actor.system("test"),
            signing_key=m.signing_key, reveal_ttl=m.env.reveal_ttl,
            alert_signal_retention_days=m.env.alert_signal_retention_days)
        return attempt

    results: dict[str, Attempt] = {}
    with engine.begin() as conn_a:
        results["a"] = open_in(conn_a)
        assert results["a"].result is AttemptResult.CREATED
        b_pid: list[int] = []

        failures: list[BaseException] = []

        def transaction_b() -> None:
            try:
                with engine.begin() as conn_b:
                    if engine.dialect.name == "postgresql":
                        b_pid.append(
                            conn_b.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                    results["b"] = open_in(conn_b)
            except Exception as exc:  # reported below, in the test's thread
                failures.append(exc)

        b = threading.Thread(target=transaction_b)
        b.start()
        if engine.dialect.name == "postgresql":  # B waits on A's row in the unique index
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with engine.connect() as probe:
                    waiting = probe.exec_driver_sql(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %(pid)s",
                        {"pid": b_pid[0]}).scalar() if b_pid else None
                if waiting == "Lock":
                    break
                time.sleep(0.05)
            assert waiting == "Lock", "transaction B never waited for A's alert"
        else:
            time.sleep(0.3)
    b.join(timeout=30)
    assert not failures, f"transaction B failed instead of finding the open alert: {failures}"
    assert results["b"].result is AttemptResult.ALREADY_OPEN
    assert results["b"].alert_name_id == results["a"].alert_name_id
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar() == 1
        requests = conn.execute(sa.select(reveal_requests.c.alert_id)).scalars().all()
    assert requests == [results["a"].alert_row_id] * results["a"].reveal_requests
