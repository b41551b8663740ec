"""A published policy keeps matching only while it is in force (issue 10 §5).

"In force" is decided again for every evaluation, on the evaluation day, under the officer trust
file as it is then: the day after `valid_until` no new alert is made, and neither once the trust
file no longer holds the officers who signed the policy. The matcher re-reads a trust file that
changed on disk, and on SIGHUP.
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from samenloop.v1 import policy_pb2, wijkteam_pb2
from services.common.tls import secure_channel
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, MUNICIPALITY, WGS, Pki
from tests.matcher.test_replicas import Replica, cli, write_config


def alerts_of(h: Harness, policy_id: str) -> int:
    listed = h.team().ListAlerts(wijkteam_pb2.ListAlertsRequest(page_size=500), timeout=10)
    return sum(1 for a in listed.alerts if a.policy_id == policy_id)


def qualify(h: Harness, house: str, tag: str) -> None:
    """Two signals (housing + municipality, Wgs) that meet the standing test policy, observed
    yesterday by the matcher's clock."""
    housing, gemeente = h.gateway(HOUSING), h.gateway(MUNICIPALITY)
    on = h.clock.today() - timedelta(days=1)
    housing.submit(housing.signal(f"h-{tag}", "huurachterstand", household=house, purpose=WGS,
                                  observed_on=on))
    gemeente.submit(gemeente.signal(f"g-{tag}", "energie_achterstand", household=house,
                                    purpose=WGS, observed_on=on))


def test_no_new_alerts_after_valid_until(matcher: Harness) -> None:
    last_day = matcher.clock.today() + timedelta(days=3)
    matcher.publish_policy(id="verloopt", mode="standing", valid_until=last_day.isoformat())
    qualify(matcher, "3071AB 1", "1")
    assert alerts_of(matcher, "verloopt") == 1
    matcher.clock.advance(timedelta(days=3))  # valid_until itself: still in force
    assert matcher.clock.today() == last_day
    qualify(matcher, "3071AB 2", "2")
    assert alerts_of(matcher, "verloopt") == 2
    matcher.clock.advance(timedelta(days=1))  # the day after: out of validity
    qualify(matcher, "3071AB 3", "3")
    assert alerts_of(matcher, "verloopt") == 2
    got = matcher.officer().GetPolicy(policy_pb2.GetPolicyRequest(name="policies/verloopt"),
                                      timeout=10)
    assert got.state == policy_pb2.POLICY_STATE_OUT_OF_VALIDITY


def get_policy(h: Harness, policy_id: str) -> policy_pb2.PublishedPolicy:
    return h.officer().GetPolicy(policy_pb2.GetPolicyRequest(name=f"policies/{policy_id}"),
                                 timeout=10)


def write_trust_without(h: Harness, officer_id: str) -> None:
    doc = yaml.safe_load(h.trust_file.read_text())
    doc["officers"] = [o for o in doc["officers"] if o["officer_id"] != officer_id]
    tmp = h.trust_file.with_suffix(".new")
    tmp.write_text(yaml.safe_dump(doc))
    os.replace(tmp, h.trust_file)  # the atomic replacement docs/policies.md asks for


# What the in-force evaluation says once each signer is gone (policies/in_force.py wording).
EXPECTED_REASON = {
    "po-woonstad-rotterdam": "2 distinct privacy officers, has 1 (fg-gemeente-rotterdam)",
    "fg-gemeente-rotterdam": "a valid approval by a privacy officer of the controller "
                             "gemeente-rotterdam",
}


@pytest.mark.parametrize("signer", ["po-woonstad-rotterdam", "fg-gemeente-rotterdam"])
def test_no_new_alerts_once_a_signer_is_removed_from_the_trust_file(
    matcher: Harness, signer: str,
) -> None:
    """Either of the two signers: without the partner's officer one privacy officer is left;
    without the controller's officer no controller approval is left."""
    matcher.publish_policy(id="vertrouwen", mode="standing")
    qualify(matcher, "3071AB 1", "1")
    assert alerts_of(matcher, "vertrouwen") == 1
    write_trust_without(matcher, signer)
    qualify(matcher, "3071AB 2", "2")
    assert alerts_of(matcher, "vertrouwen") == 1
    # GetPolicy says what evaluation does: not in force, and why (not "active").
    got = get_policy(matcher, "vertrouwen")
    assert got.state == policy_pb2.POLICY_STATE_NOT_IN_FORCE
    assert EXPECTED_REASON[signer] in got.state_reason, got.state_reason
    listed = matcher.officer().ListPolicies(policy_pb2.ListPoliciesRequest(), timeout=10)
    assert "vertrouwen" not in {p.policy_id for p in listed.policies}
    # Restoring the officer restores matching (the file is followed both ways).
    os.replace(matcher.trust_file, matcher.trust_file.with_suffix(".old"))
    matcher.trust_file.write_text(matcher.pki.trust.read_text())
    qualify(matcher, "3071AB 3", "3")
    assert alerts_of(matcher, "vertrouwen") == 2
    restored = get_policy(matcher, "vertrouwen")
    assert (restored.state, restored.state_reason) == (policy_pb2.POLICY_STATE_ACTIVE, "")


def test_a_broken_trust_file_stops_matching_until_it_is_fixed(matcher: Harness) -> None:
    matcher.publish_policy(id="kapot", mode="standing")
    good = matcher.trust_file.read_text()
    matcher.trust_file.write_text("format: samenloop-officers/v2\nofficers: [\n")
    qualify(matcher, "3071AB 1", "1")
    assert alerts_of(matcher, "kapot") == 0
    matcher.trust_file.write_text(good)
    qualify(matcher, "3071AB 2", "2")
    assert alerts_of(matcher, "kapot") == 1


def test_sighup_reloads_the_trust_file_and_keeps_serving(
    tmp_path: Path, pki: Pki, pseudonymiser: Pseudonymiser,
) -> None:
    url = f"sqlite:///{tmp_path / 'matcher.sqlite'}"
    config = write_config(tmp_path, pki, pseudonymiser, url)
    subprocess.run(cli("migrate", "--config", str(config)), check=True, capture_output=True,
                   timeout=60)
    replica = Replica(config)
    try:
        replica.proc.send_signal(signal.SIGHUP)  # without a handler, SIGHUP would end it
        channel = secure_channel(f"127.0.0.1:{replica.port}", pki.tls("pseudonymiser"),
                                 server_role="matcher")
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="samenloop.v1.PolicyService"),
                timeout=10, wait_for_ready=True).status
        except grpc.RpcError as exc:  # pragma: no cover - the failure this test looks for
            raise AssertionError(f"the matcher stopped on SIGHUP: {exc.code()}") from None
        finally:
            channel.close()
        assert status == health_pb2.HealthCheckResponse.SERVING
        assert replica.proc.poll() is None
    finally:
        replica.stop()
    assert any('"trust_file_reloaded"' in line for line in replica.lines)
