"""The matcher frozen and then killed (SIGKILL) in the middle of a large ingest.

The gateway retries the batch in flight with the same batch id. A frozen matcher (SIGSTOP, as in
a long GC pause or a stalled VM) wakes up and commits batches whose answers the gateway stopped
waiting for, so the retry lands on rows already stored; a killed one loses its open
transaction. Either way every signal must be stored once, every alert made once from the right
signals, the audit log must say exactly that, and the gateway's own report must count every row
as accepted (a retried row it finds already stored was its own).
"""

from __future__ import annotations

import signal
import time
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
    report_outcomes,
    stored_signals,
    wait_until,
)
from tests.gateway.conftest import Deployment, run_cli, summary_counts

pytestmark = [pytest.mark.slow]


def test_matcher_frozen_then_killed_mid_ingest_loses_and_duplicates_nothing(
        deployment: Deployment, matcher_service: MatcherService, tmp_path: Path) -> None:
    matcher = matcher_service
    scenario = Scenario(households=1200)
    housing_csv, municipality_csv = scenario.write(tmp_path / "exports")
    first = run_cli("gateway", "ingest", str(municipality_csv), "--config",
                    str(municipality_gateway(deployment, tmp_path / "gm", matcher.target)))
    assert first.returncode == 0, first.stdout + first.stderr

    config = housing_gateway(deployment, tmp_path / "wr", matcher.target)
    report = tmp_path / "report.jsonl"
    # A short call deadline, so answers from the frozen matcher are given up on (and resent).
    run = GatewayRun(config, housing_csv, report=report,
                     env={**PATIENT, "SAMENLOOP_GATEWAY__RETRY__TIMEOUT_SECONDS": "1.5"})

    def resent() -> list[dict[str, object]]:
        """SubmitSignals calls that found rows of the housing partner already stored."""
        return [e for e in matcher.events("signals_received")
                if e["partner"] == HOUSING and e["duplicate"] > 0]

    # 1. Frozen for 2.5 s while a batch is in flight; it finishes that batch when it wakes. A
    #    batch takes the matcher milliseconds (ADR 0025), so a freeze can fall between two
    #    batches: freeze again a batch later, up to four times, until one was caught.
    for attempt in range(4):
        rows = 200 + 100 * attempt
        wait_until(lambda rows=rows: run.done_rows() >= rows, timeout=60,
                   what=f"{rows} rows done", while_running=run)
        matcher.signal(signal.SIGSTOP)
        time.sleep(2.5)
        matcher.signal(signal.SIGCONT)
        woke = run.done_rows()
        wait_until(lambda woke=woke: run.done_rows() >= woke + 100, timeout=60,
                   what="a batch done after the freeze", while_running=run)
        if resent():
            break

    # 2. Killed a few batches later, and started again on the same port after a moment.
    done_before = run.done_rows()
    wait_until(lambda: run.done_rows() >= done_before + 300, timeout=60,
               what="300 more rows done", while_running=run)
    matcher.kill()
    partial = stored_signals(matcher.url)
    housing_at_kill = sum(n for (p, _), n in partial.items() if p == HOUSING)
    assert 0 < housing_at_kill < scenario.households, "the kill must land mid-file"
    time.sleep(1)
    matcher.start()

    finished = run.wait()
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert summary_counts(finished.stdout) == {
        "read": scenario.households, "accepted": scenario.households, "refreshed": 0,
        "duplicate": 0, "rejected": 0}
    assert report_outcomes(report) == {"accepted": scenario.households}

    assert_exactly_once(matcher.url, scenario)
    assert assert_audit_consistent(matcher.url, deployment.pki.directory) > 0
    # The freeze did what it is here for: a batch the gateway gave up on was committed when
    # the matcher woke, and its resend found the rows already stored.
    assert resent(), "no batch was committed after the gateway stopped waiting for it"
