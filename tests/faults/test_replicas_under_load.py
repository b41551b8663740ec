"""Two matcher replicas on one PostgreSQL, fed at the same time by two gateway processes.

The housing gateway sends to one replica, the municipality gateway to the other, over the
same households from opposite ends (the municipality's export in descending order). Both are
under way before either goes on (the first is held with SIGSTOP until the second has sent a
batch), so whatever their relative speed they meet in the middle: there the two signals that
make a household's alert arrive at different replicas at about the same moment, and on each
side of it one replica or the other makes the alerts. Every alert must be made exactly once,
from the right two signals, and the audit log must say exactly what the tables hold. (Gap-free
leaf indexes across replicas are the audit-log sequencer's to prove, issue 13.)

The crossing is about one batch wide, so this is not the test that the per-household row lock
is needed (tests/matcher/test_replicas.py lines the two signals up exactly and fails without
it); this one shows the whole path — gateway processes, retries, two replicas — holds up.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.conftest import (
    PATIENT,
    GatewayRun,
    MatcherService,
    Scenario,
    assert_audit_consistent,
    assert_exactly_once,
    housing_gateway,
    municipality_gateway,
    publish_policy,
    report_outcomes,
    wait_until,
)
from tests.gateway.conftest import Deployment, summary_counts
from tests.support.databases import postgres_schema_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def test_two_replicas_two_gateways_exactly_once_alerts(
        deployment: Deployment, postgres_url: str, tmp_path: Path) -> None:
    replicas = [MatcherService(deployment, tmp_path / f"matcher-{n}", database_url=postgres_url)
                for n in (1, 2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(MatcherService.start, replicas))
        publish_policy(deployment, replicas[0].target)
        scenario = Scenario(households=600, postcode="3076LM")
        housing_csv, municipality_csv = scenario.write(tmp_path / "exports",
                                                       municipality_descending=True)
        housing = GatewayRun(
            housing_gateway(deployment, tmp_path / "wr", replicas[0].target, batch_size=100),
            housing_csv, env=PATIENT, report=tmp_path / "wr.jsonl")
        wait_until(lambda: housing.done_rows() >= 100, timeout=60, what="a housing batch",
                   while_running=housing)
        housing.pause()
        try:
            municipality = GatewayRun(
                municipality_gateway(deployment, tmp_path / "gm", replicas[1].target,
                                     batch_size=50),
                municipality_csv, env=PATIENT, report=tmp_path / "gm.jsonl")
            wait_until(lambda: municipality.done_rows() >= 50, timeout=60,
                       what="a municipality batch", while_running=municipality)
        finally:
            housing.resume()
        for run, rows in ((housing, scenario.households),
                          (municipality, len(scenario.municipality_ids()))):
            finished = run.wait()
            assert finished.returncode == 0, finished.stderr[-3000:]
            assert summary_counts(finished.stdout)["accepted"] == rows
        assert report_outcomes(tmp_path / "wr.jsonl") == {"accepted": scenario.households}
        assert report_outcomes(tmp_path / "gm.jsonl") == {
            "accepted": len(scenario.municipality_ids())}

        assert_exactly_once(postgres_url, scenario)
        assert assert_audit_consistent(postgres_url, deployment.pki.directory) > 0
        # both replicas made alerts: the gateways really did run at the same time
        for replica in replicas:
            made = sum(int(e.get("alerts_created", 0))
                       for e in replica.events("signals_received"))
            assert made > 0, f"replica on {replica.target} created no alert"
    finally:
        codes = [replica.stop() for replica in replicas]
    assert codes == [0, 0]
