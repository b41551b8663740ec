"""PostgreSQL restarted under the matcher in the middle of a large ingest.

A private cluster (tests/support/pgcluster.py; never the shared server) is stopped with
`pg_ctl -m fast` — open sessions are terminated, the batch in flight rolls back — and started
again. The matcher must say UNAVAILABLE while its database is gone (not INTERNAL: the gateway
gives up on that), take fresh connections when it is back, and the gateway's retries must then
bring every row in: each signal stored once, each alert made once, the audit log as the tables.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import (
    HOUSING,
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
    stored_signals,
    wait_until,
)
from tests.gateway.conftest import Deployment, run_cli, summary_counts
from tests.support.pgcluster import PrivateCluster, private_cluster

pytestmark = [pytest.mark.slow]


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as running:
        yield running


def test_postgres_restart_mid_ingest_loses_nothing(
        deployment: Deployment, cluster: PrivateCluster, tmp_path: Path) -> None:
    matcher = MatcherService(deployment, tmp_path / "matcher", database_url=cluster.url)
    matcher.start()
    try:
        publish_policy(deployment, matcher.target)
        scenario = Scenario(households=800, postcode="3072CD")
        housing_csv, municipality_csv = scenario.write(tmp_path / "exports")
        first = run_cli("gateway", "ingest", str(municipality_csv), "--config",
                        str(municipality_gateway(deployment, tmp_path / "gm", matcher.target)))
        assert first.returncode == 0, first.stdout + first.stderr

        report = tmp_path / "report.jsonl"
        run = GatewayRun(housing_gateway(deployment, tmp_path / "wr", matcher.target),
                         housing_csv, report=report, env=PATIENT)
        wait_until(lambda: run.done_rows() >= 300, timeout=60, what="300 rows done",
                   while_running=run)
        cluster.stop("fast")
        # While it is down the gateway keeps trying and is told UNAVAILABLE each time.
        time.sleep(1.5)
        assert run.running(), run.err.read_text()[-3000:]
        cluster.start()

        finished = run.wait()
        assert finished.returncode == 0, finished.stderr[-3000:]
        assert summary_counts(finished.stdout) == {
            "read": scenario.households, "accepted": scenario.households, "refreshed": 0,
            "duplicate": 0, "rejected": 0}
        assert report_outcomes(report) == {"accepted": scenario.households}
        assert_exactly_once(matcher.url, scenario)
        assert assert_audit_consistent(matcher.url, deployment.pki.directory) > 0
        housing = sum(n for (p, _), n in stored_signals(matcher.url).items() if p == HOUSING)
        assert housing == scenario.households
        # the same matcher process served before and after the restart, and said why it
        # could not while the database was gone
        assert matcher.starts == 1 and matcher.process is not None
        assert matcher.process.poll() is None
        assert matcher.events("database_unavailable"), "the outage is not in the matcher's log"
    finally:
        code = matcher.stop()
    assert code == 0
