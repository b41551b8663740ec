"""The pseudonymiser going down in the middle of a large ingest.

With few retries the gateway gives up: one line on stderr names the pseudonymiser, its address
and what to do, no traceback, and the journal keeps every row already sent. Run again once
the pseudonymiser is back, it sends only the rest. With patient retries it waits the outage
out in the same run, saying in its log what it is waiting for. Every signal ends up at the
matcher once, every alert once.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.faults.conftest import (
    HOUSING,
    PATIENT,
    GatewayRun,
    MatcherService,
    Scenario,
    assert_audit_consistent,
    assert_exactly_once,
    error_lines,
    housing_gateway,
    journal_rows,
    municipality_gateway,
    report_outcomes,
    stored_signals,
    vault_ids,
    wait_until,
)
from tests.gateway.conftest import Deployment, run_cli, summary_counts
from tests.support.pgcluster import free_port
from tests.support.processes import start_server_process

pytestmark = [pytest.mark.slow]

IMPATIENT = {"SAMENLOOP_GATEWAY__RETRY__ATTEMPTS": "3",
             "SAMENLOOP_GATEWAY__RETRY__BASE_SECONDS": "0.1",
             "SAMENLOOP_GATEWAY__RETRY__MAX_SECONDS": "0.2"}


class Pseudonymiser:
    """`samenloop pseudonymiser serve` on a fixed port, to be killed and started again."""

    def __init__(self, deployment: Deployment, directory: Path) -> None:
        base = deployment.pki.directory
        self.port = free_port()
        settings = yaml.safe_load((base / "pseudonymiser.yaml").read_text())
        settings["bind"] = f"127.0.0.1:{self.port}"
        # next to dev-setup's file, so its relative paths hold
        self.config = base / f"pseudonymiser-{self.port}.yaml"
        self.config.write_text(yaml.safe_dump(settings))
        self.directory = directory
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        self.process, port = start_server_process(
            ["pseudonymiser", "serve", "--config", str(self.config)],
            self.directory / f"pseudonymiser-{self.starts}.log", timeout=60)
        assert port == self.port

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.config.unlink(missing_ok=True)


@pytest.fixture
def pseudonymiser(deployment: Deployment, tmp_path: Path) -> Iterator[Pseudonymiser]:
    service = Pseudonymiser(deployment, tmp_path)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_pseudonymiser_down_is_said_in_one_line_and_the_journal_resumes(
        deployment: Deployment, matcher_service: MatcherService, pseudonymiser: Pseudonymiser,
        tmp_path: Path) -> None:
    matcher = matcher_service
    scenario = Scenario(households=2000, postcode="3073EF")
    housing_csv, municipality_csv = scenario.write(tmp_path / "exports")
    first = run_cli("gateway", "ingest", str(municipality_csv), "--config", str(
        municipality_gateway(deployment, tmp_path / "gm", matcher.target,
                             pseudonymiser=pseudonymiser.target)))
    assert first.returncode == 0, first.stdout + first.stderr
    config = housing_gateway(deployment, tmp_path / "wr", matcher.target,
                             pseudonymiser=pseudonymiser.target)

    # 1. Down mid-file, few retries: the gateway stops with one line and keeps its journal.
    run = GatewayRun(config, housing_csv, env=IMPATIENT)
    wait_until(lambda: run.done_rows() >= 200, timeout=60, what="200 rows done",
               while_running=run)
    pseudonymiser.kill()
    failed = run.wait()
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    [line] = error_lines(failed.stderr)
    assert line.startswith(f"error: the pseudonymiser at {pseudonymiser.target} is unreachable")
    assert "run the same command again" in line
    journal = journal_rows(run.db)
    at_matcher = {s for (p, s), _ in stored_signals(matcher.url).items() if p == HOUSING}
    assert 200 <= journal["done"] < scenario.households
    assert len(at_matcher) == journal["done"] + journal["prepared"]
    assert at_matcher <= vault_ids(run.db)  # every signal sent can be disclosed later

    # 2. Back again, patient retries, and down once more for two seconds during the run:
    #    it waits, says so in its log, and completes; the rows of run 1 are not sent again.
    pseudonymiser.start()
    report = tmp_path / "report.jsonl"
    rerun = GatewayRun(config, housing_csv, env=PATIENT, report=report)
    # (soon after it starts: it pseudonymises a few batches ahead of what the matcher took)
    wait_until(lambda: run.done_rows() >= journal["done"] + 100, timeout=60,
               what="100 more rows done", while_running=rerun)
    pseudonymiser.kill()
    time.sleep(2)
    pseudonymiser.start()
    finished = rerun.wait()
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert not error_lines(finished.stderr)
    assert summary_counts(finished.stdout) == {
        "read": scenario.households, "accepted": scenario.households, "refreshed": 0,
        "duplicate": 0, "rejected": 0}
    assert f"(of which {journal['done']} recorded by an earlier run)" in finished.stdout
    assert report_outcomes(report) == {"accepted": scenario.households}
    waits = [json.loads(x) for x in finished.stderr.splitlines() if x.startswith("{")]
    waits = [e for e in waits if e["event"] == "peer_unavailable"]
    assert waits and {(e["peer"], e["target"]) for e in waits} == {
        ("pseudonymiser", pseudonymiser.target)}

    assert_exactly_once(matcher.url, scenario)
    assert assert_audit_consistent(matcher.url, deployment.pki.directory) > 0
