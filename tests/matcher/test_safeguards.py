"""Safeguards checked from the outside: what the matcher stores, and what its database refuses.

- Keyed pseudonyms: every pseudonym in the matcher's tables is HMAC-SHA256(matcher key, VOPRF
  output). The expected values are computed here, independently of the code under test: the
  VOPRF output with the `voprf` package (an independent RFC 9497 implementation) as client of
  the running pseudonymiser, the key read from the matcher's key file, the HMAC from `hmac`.
- Exactly-once: the partial unique index `uq_alerts_one_open_per_household` refuses a second
  open alert for the same policy and household, whatever code inserts it.

Both run on SQLite and on PostgreSQL (`db_url`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
import sqlalchemy as sa

from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from services.common.tls import secure_channel
from services.matcher.schema import alerts, households, persons, signals
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
