"""Fault tests: real pseudonymiser, matcher and gateway processes on loopback over mTLS, with
one of them killed, frozen, restarted, or starved of disk while a large ingest runs.

Every test generates its own exports and computes what must come out of them here, from the
rows it wrote: the signal ids the matcher must hold once each, and for a standing policy that
flags a household with a housing and a municipality signal, the exact groups of signals each
alert must be made of (so an alert lost, duplicated or built from the wrong signals shows).
The audit log is checked against the same oracle: one `signal_received` entry per stored
signal, one `alert_created` per alert, one `reveal_request_created` per reveal request, nothing
for work that was rolled back, and every leaf the canonical form of its own row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from samenloop.auditverify.database import verify_database
from samenloop.auditverify.trust import load_trust
from samenloop.deploy_configs import AUDIT_KEYS
from samenloop.v1 import policy_pb2, policy_pb2_grpc
from services.common.tls import secure_channel
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import (
    OFFICER,
    ROOT,
    Deployment,
    gateway_config,
    matcher_config,
)
from tests.matcher.helpers import Pki, document_bytes, policy_document, sign
from tests.support.pgcluster import free_port
from tests.support.processes import start_server_process

HOUSING = "woonstad-rotterdam"
MUNICIPALITY = "gemeente-rotterdam"
WGS = "wgs-vroegsignalering"
POLICY_ID = "wgs-samenloop-storing"

# Gateways in these tests wait out an outage of a few seconds instead of giving up.
PATIENT = {"SAMENLOOP_GATEWAY__RETRY__ATTEMPTS": "40",
           "SAMENLOOP_GATEWAY__RETRY__BASE_SECONDS": "0.1",
           "SAMENLOOP_GATEWAY__RETRY__MAX_SECONDS": "1.0"}


deployment = gateway_fixtures.deployment
"""The session's deployment (dev-setup directory, a pseudonymiser process), as in tests/gateway."""


# -- the input and what must come out of it ---------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """`households` households with a housing signal each; every second one also has a
    municipality signal (plus `extra` municipality-only households). The policy flags a
    household with both, so every even household gets exactly one alert."""

    households: int
    postcode: str = "3071AB"
    extra: int = 20

    @property
    def observed_on(self) -> date:
        return date.today() - timedelta(days=3)

    def _line(self, signal_id: str, signal_type: str, n: int) -> str:
        return (f"{signal_id},{signal_type},{self.observed_on.isoformat()},{WGS},,"
                f"{self.postcode},{n + 1}")

    def housing_ids(self) -> list[str]:
        return [f"h-{n:05d}" for n in range(self.households)]

    def municipality_numbers(self) -> list[int]:
        return [*range(0, self.households, 2),
                *range(self.households, self.households + self.extra)]

    def municipality_ids(self) -> list[str]:
        return [f"m-{n:05d}" for n in self.municipality_numbers()]

    def write(self, directory: Path, *, municipality_descending: bool = False
              ) -> tuple[Path, Path]:
        """The two exports, in the gateway's canonical CSV layout; the municipality's rows in
        descending household order if asked (two gateways then meet in the middle)."""
        header = "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer"
        directory.mkdir(parents=True, exist_ok=True)
        housing = directory / "huur.csv"
        housing.write_text("\n".join([header, *(
            self._line(f"h-{n:05d}", "huurachterstand", n) for n in range(self.households))])
            + "\n")
        municipality = directory / "energie.csv"
        numbers = sorted(self.municipality_numbers(), reverse=municipality_descending)
        municipality.write_text("\n".join([header, *(
            self._line(f"m-{n:05d}", "energie_achterstand", n) for n in numbers)]) + "\n")
        return housing, municipality

    def expected_alerts(self, housing: int | None = None) -> Counter[frozenset[tuple[str, str]]]:
        """Each alert as the set of its contributing (partner, signal id), once each; only
        the first `housing` housing rows when fewer were sent."""
        sent = self.households if housing is None else housing
        return Counter(frozenset({(HOUSING, f"h-{n:05d}"), (MUNICIPALITY, f"m-{n:05d}")})
                       for n in range(0, sent, 2))


def helpers_pki(deployment: Deployment) -> Pki:
    return Pki(deployment.pki.directory, deployment.pki.manifest, deployment.trust,
               deployment.pki)


def publish_policy(deployment: Deployment, target: str) -> None:
    """A standing policy under the Wgs purpose: a housing and a municipality signal (two life
    domains) at one household within 90 days make an alert."""
    pki = helpers_pki(deployment)
    doc = sign(pki, policy_document(pki, id=POLICY_ID, mode="standing"))
    with secure_channel(target, deployment.pki.tls(OFFICER), server_role="matcher") as ch:
        policy_pb2_grpc.PolicyServiceStub(ch).PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(doc)), timeout=30)


# -- processes --------------------------------------------------------------------------------

class MatcherService:
    """`samenloop matcher serve` on a fixed port, so it can be killed and started again where
    the gateways expect it. Each start logs to its own file (`logs()` joins them)."""

    def __init__(self, deployment: Deployment, directory: Path, database_url: str | None = None,
                 port: int | None = None) -> None:
        from services.common.db import migrate
        from services.matcher.config import MIGRATIONS

        directory.mkdir(parents=True)
        (directory / "matcher-data").mkdir()
        self.directory = directory
        self.port = port or free_port()
        self.url = database_url or f"sqlite:///{directory / 'matcher-data' / 'matcher.sqlite'}"
        self.config = matcher_config(deployment, directory)
        settings = yaml.safe_load(self.config.read_text())
        settings.update(bind=f"127.0.0.1:{self.port}", database_url=self.url, log_level="INFO")
        self.config.write_text(yaml.safe_dump(settings))
        migrate(MIGRATIONS, self.url)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        self.process, port = start_server_process(
            ["matcher", "serve", "--config", str(self.config)],
            self.directory / f"matcher-{self.starts}.log", timeout=60)
        assert port == self.port

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown, open transactions die with the process."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGCONT)  # in case a test left it frozen
        self.process.terminate()
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")
                       for p in sorted(self.directory.glob("matcher-*.log")))

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == name:
                    out.append(event)
        return out


@pytest.fixture
def matcher_service(deployment: Deployment, tmp_path: Path) -> Iterator[MatcherService]:
    """A started matcher on SQLite, with the test policy published."""
    service = MatcherService(deployment, tmp_path / "matcher")
    service.start()
    try:
        publish_policy(deployment, service.target)
        yield service
    finally:
        service.stop()


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


class GatewayRun:
    """`samenloop gateway ingest FILE` running in the background."""

    def __init__(self, config: Path, export: Path, *, env: dict[str, str] | None = None,
                 report: Path | None = None, prefix: list[str] | None = None) -> None:
        self.directory = config.parent
        self.db = self.directory / "data" / "gateway.sqlite"
        self.out = self.directory / f"ingest-{export.stem}.out"
        self.err = self.directory / f"ingest-{export.stem}.err"
        args = [*(prefix or []), sys.executable, "-m", "samenloop.cli.main", "gateway", "ingest",
                str(export), "--config", str(config)]
        if report is not None:
            args += ["--report", str(report)]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err,
                                            env={**os.environ, **(env or {})})

    def running(self) -> bool:
        return self.process.poll() is None

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def wait(self, timeout: float = 180) -> Finished:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the gateway did not finish within {timeout} s:\n"
                                 + self.err.read_text(errors="replace")[-3000:]) from None
        return Finished(code, self.out.read_text(errors="replace"),
                        self.err.read_text(errors="replace"))

    def done_rows(self) -> int:
        return journal_rows(self.db).get("done", 0)


def journal_rows(db: Path) -> Counter[str]:
    """Journal rows by state in a gateway database (empty while it does not exist yet)."""
    if not db.exists():
        return Counter()
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return Counter({str(state): int(n) for state, n in conn.execute(sa.text(
                "SELECT state, count(*) FROM journal GROUP BY state"))})
    except sa.exc.OperationalError:  # the schema is still being created
        return Counter()
    finally:
        engine.dispose()


def vault_ids(db: Path) -> set[str]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT signal_id FROM vault")).scalars())
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str,
               while_running: GatewayRun | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if while_running is not None and not while_running.running():
            raise AssertionError(f"the gateway ended before {what}:\n"
                                 + while_running.err.read_text(errors="replace")[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def report_outcomes(path: Path) -> Counter[str]:
    return Counter(json.loads(line)["outcome"] for line in path.read_text().splitlines())


def error_lines(stderr: str) -> list[str]:
    """The lines a person reads: everything on stderr that is not a JSON log event."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


# -- what the matcher holds -------------------------------------------------------------------

def stored_signals(url: str) -> Counter[tuple[str, str]]:
    """(partner, signal id) of every signal row, counted."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter((str(p), str(s)) for p, s in conn.execute(
                sa.text("SELECT partner, signal_id FROM signals")))
    finally:
        engine.dispose()


def alert_groups(url: str) -> Counter[frozenset[tuple[str, str]]]:
    """Every alert as the set of its contributing (partner, signal id), counted."""
    engine = sa.create_engine(url)
    groups: dict[int, set[tuple[str, str]]] = {}
    try:
        with engine.connect() as conn:
            for alert_id in conn.execute(sa.text("SELECT id FROM alerts")).scalars():
                groups[int(alert_id)] = set()
            for alert_id, partner, signal_id in conn.execute(sa.text(
                    "SELECT a.alert_id, s.partner, s.signal_id FROM alert_signals a "
                    "JOIN signals s ON s.id = a.signal_ref")):
                groups[int(alert_id)].add((str(partner), str(signal_id)))
    finally:
        engine.dispose()
    return Counter(frozenset(g) for g in groups.values())


def _ms(value: Any) -> int:
    """Milliseconds since the epoch of a naive UTC time (the Logboek record's times)."""
    from datetime import datetime, timedelta

    return (value - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def _record(row: Any, attributes: dict[str, Any], start: Any, end: Any) -> dict[str, Any]:
    """The Logboek Dataverwerkingen record of a row (ADR 0023), rebuilt from its columns."""
    attrs: dict[str, Any] = {"dpl.core.processing_activity_id": row["processing_activity_id"]}
    if row["data_subject_id"]:
        attrs["dpl.core.data_subject_id"] = row["data_subject_id"]
        attrs["dpl.core.data_subject_id_type"] = row["data_subject_id_type"]
    if row["foreign_span_id"]:
        attrs["dpl.core.foreign_operation.span_id"] = row["foreign_span_id"]
    if row["foreign_processor"]:
        attrs["dpl.core.foreign_operation.processor"] = row["foreign_processor"]
    attrs["samenloop.actor.organisation"] = row["actor_organisation"]
    attrs["samenloop.actor.role"] = row["actor_role"]
    for key, column in (("purpose", "purpose"), ("policy.id", "policy_id"),
                        ("policy.version", "policy_version"), ("policy.digest", "policy_digest")):
        if row[column] not in (None, ""):
            attrs[f"samenloop.{key}"] = row[column]
    attrs.update({f"samenloop.{k}": v for k, v in attributes.items()})
    record = {"trace_id": row["trace_id"], "span_id": row["span_id"], "name": row["name"],
              "start_time": _ms(start), "end_time": _ms(end), "status": row["status_code"],
              "attributes": attrs}
    if row["parent_span_id"]:
        record["parent_span_id"] = row["parent_span_id"]
    return record


def assert_audit_consistent(url: str, pki_dir: Path) -> int:
    """The audit log tells exactly what the tables hold, and the officer's verifier (`audit
    verify`, with the dev-setup keys in `pki_dir`) accepts the whole log; returns its number
    of entries.

    One `signal_received` entry per stored signal (these signals have a household only), one
    `alert_created` per alert, one `reveal_request_created` per reveal request, no entry for
    anything not stored (a rolled-back batch leaves none), and every leaf is the RFC 8785 form
    of its own row (the Logboek Dataverwerkingen record, ADR 0023): read back here as JSON
    and compared field by field with the columns.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            signal_keys = Counter((str(p), str(s)) for p, s in conn.execute(
                sa.text("SELECT partner, signal_id FROM signals")))
            alert_names = Counter(f"alerts/{n}" for n in conn.execute(
                sa.text("SELECT name_id FROM alerts")).scalars())
            request_names = Counter(f"revealRequests/{n}" for n in conn.execute(
                sa.text("SELECT name_id FROM reveal_requests")).scalars())
            rows = conn.execute(sa.text(
                "SELECT id, trace_id, span_id, parent_span_id, name, start_time, end_time, "
                "status_code, actor_organisation, actor_role, processing_activity_id, "
                "data_subject_id, data_subject_id_type, foreign_operation, attributes, leaf, "
                "foreign_span_id, foreign_processor, purpose, policy_id, policy_version, "
                "policy_digest FROM audit_events ORDER BY id")).mappings().all()
    finally:
        engine.dispose()
    report = verify_database(url, load_trust(pki_dir / AUDIT_KEYS))
    assert report.ok, report.summary(0)
    # the sequencer gives leaf indexes a second or so after commit: the newest may still wait
    assert 0 < report.entries <= len(rows)
    received: Counter[tuple[str, str]] = Counter()
    created: Counter[str] = Counter()
    requested: Counter[str] = Counter()
    for row in rows:
        attributes = row["attributes"]
        if isinstance(attributes, str):
            attributes = json.loads(attributes)
        leaf = bytes(row["leaf"])
        document = json.loads(leaf)
        assert leaf == json.dumps(document, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode(), f"entry {row['id']}: not canonical"
        start, end = row["start_time"], row["end_time"]
        if isinstance(start, str):  # SQLite through a plain text() query
            from datetime import datetime
            start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
        assert document == _record(row, attributes, start, end), \
            f"audit entry {row['id']}: its leaf is not its row"
        if row["name"] == "signal_received":
            received[(attributes["partner"], attributes["signal_id"])] += 1
        elif row["name"] == "alert_created":
            created[attributes["alert"]] += 1
        elif row["name"] == "reveal_request_created":
            requested[attributes["reveal_request"]] += 1
    assert received == signal_keys, "signal_received entries differ from the stored signals"
    assert created == alert_names, "alert_created entries differ from the alerts"
    assert requested == request_names, "reveal_request_created entries differ from the requests"
    return len(rows)


def assert_exactly_once(url: str, scenario: Scenario) -> None:
    """Every generated signal stored once, and the alerts exactly the expected groups."""
    stored = stored_signals(url)
    expected = Counter({(HOUSING, i): 1 for i in scenario.housing_ids()}
                       | {(MUNICIPALITY, i): 1 for i in scenario.municipality_ids()})
    missing = expected - stored
    extra = stored - expected
    assert not missing and not extra, (
        f"{sum(missing.values())} signals lost, {sum(extra.values())} extra or duplicated")
    groups = alert_groups(url)
    want = scenario.expected_alerts()
    assert groups == want, (f"{sum((want - groups).values())} alerts lost, "
                            f"{sum((groups - want).values())} duplicated or wrong")


def housing_gateway(deployment: Deployment, directory: Path, target: str, **overrides: Any
                    ) -> Path:
    return gateway_config(deployment, directory, "housing", target, mapping=None, **overrides)


def municipality_gateway(deployment: Deployment, directory: Path, target: str,
                         **overrides: Any) -> Path:
    return gateway_config(deployment, directory, "municipality", target, mapping=None,
                          **overrides)
