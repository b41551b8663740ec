"""A gateway witnesses a real matcher's audit log, and detects it when that log is rewritten.

Real processes on loopback over mTLS: the pseudonymiser and the matcher (from the configs
`pki dev-setup` writes), and `samenloop gateway serve`. A standing policy flags a household on
two housing signals; the gateway discloses, proves the matcher's entries of its answers, and
cosigns the checkpoints, which the matcher then serves with the cosignature (checked here with
crypto.cosignature against the witness key dev-setup made).

Then the matcher turns dishonest, as its operator could with the database and the matcher's
own key: the triggers dropped, one audit entry the gateway had already cosigned rewritten, and
the tree rebuilt and re-signed by the matcher's own sequencer from the rewritten rows. The
gateway must raise the alarm (an error line with the code), refuse to cosign, and
`samenloop gateway audit check` must exit 1 naming the rewrite.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from crypto.checkpoint import parse_note
from crypto.cosignature import CosignatureVerifier, verify_cosignature
from crypto.jcs import canonical_bytes
from crypto.keys import load_verify_key
from samenloop.v1 import audit_pb2, audit_pb2_grpc
from services.common.db import migrate
from services.common.tls import secure_channel
from services.matcher.config import MIGRATIONS
from services.partner_gateway.evidence import Evidence
from services.partner_gateway.store import open_store
from services.partner_gateway.witness_checks import INCONSISTENT
from tests.gateway.conftest import (
    OFFICER,
    ROOT,
    Deployment,
    MatcherProcess,
    gateway_config,
    matcher_config,
    run_cli,
)
from tests.gateway.test_disclosure import EXPORT, publish
from tests.support.processes import start_server_process

pytestmark = pytest.mark.slow

HOUSING = "woonstad-rotterdam"
BSN, POSTCODE, NAME = "999990007", "3072AB", "Jansen"
EMPTY_ROOT = hashlib.sha256(b"").digest()


@pytest.fixture
def matcher(deployment: Deployment, tmp_path: Path) -> Iterator[MatcherProcess]:
    """A matcher that signs a checkpoint within a second of new entries."""
    directory = tmp_path / "matcher"
    directory.mkdir()
    config = matcher_config(deployment, directory)
    data = yaml.safe_load(config.read_text())
    data["audit"]["checkpoint_interval_seconds"] = 1
    config.write_text(yaml.safe_dump(data))
    url = f"sqlite:///{directory / 'matcher-data' / 'matcher.sqlite'}"
    (directory / "matcher-data").mkdir()
    migrate(MIGRATIONS, url)
    process, port = start_server_process(["matcher", "serve", "--config", str(config)],
                                         directory / "matcher.log")
    try:
        yield MatcherProcess(port, url, process, directory / "matcher.log")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(what: str, found: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def events(log: Path, name: str) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                out.append(event)
    return out


def officer_stub(deployment: Deployment, matcher: MatcherProcess) -> Any:
    channel = secure_channel(matcher.target, deployment.pki.tls(OFFICER), server_role="matcher")
    return channel, audit_pb2_grpc.AuditServiceStub(channel)


def rebuild_with_a_rewritten_entry(url: str, leaf_index: int) -> None:
    """The dishonest operator: drop the guards, rewrite one sequenced entry, and let the
    matcher's own sequencer rebuild and re-sign the whole tree from the rows as they now are."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name in conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all():
            conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
        event_id = conn.execute(sa.text("SELECT event_id FROM audit_leaves WHERE leaf_index = :i"),
                                {"i": leaf_index}).scalar_one()
        leaf = conn.execute(sa.text("SELECT leaf FROM audit_events WHERE id = :id"),
                            {"id": event_id}).scalar_one()
        doc = json.loads(leaf)
        doc["name"] = "signal_withdrawn"  # history says something else now
        conn.execute(sa.text("UPDATE audit_events SET name = :n, leaf = :l WHERE id = :id"),
                     {"n": doc["name"], "l": canonical_bytes(doc), "id": event_id})
        # and one entry more than the gateway verified, so the new tree is also larger
        columns = ", ".join(c for c in conn.execute(sa.text(
            "SELECT name FROM pragma_table_info('audit_events')")).scalars() if c != "id")
        conn.execute(sa.text(f"INSERT INTO audit_events ({columns}) SELECT {columns} "
                             "FROM audit_events ORDER BY id DESC LIMIT 1"))
        for table in ("audit_cosignatures", "audit_checkpoints", "audit_tree_nodes",
                      "audit_leaves", "audit_queue"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
        conn.execute(sa.text("UPDATE audit_tree_state SET tree_size = 0, root_hash = :r"),
                     {"r": EMPTY_ROOT})
        conn.execute(sa.text("INSERT INTO audit_queue (event_id) SELECT id FROM audit_events "
                             "ORDER BY id"))
    engine.dispose()


def test_a_gateway_witnesses_the_log_and_detects_it_rewritten_after_it_cosigned(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    publish(deployment, matcher)
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target,
                            mapping=None, witness_interval_seconds=0.5, pull_wait_seconds=1)
    settings = yaml.safe_load(config.read_text())
    assert settings["checkpoint_vkey"] and settings["witness_key"]  # from dev-setup
    export = tmp_path / "export.csv"
    export.write_text(EXPORT.format(d=(date.today() - timedelta(days=3)).isoformat()))
    done = run_cli("gateway", "ingest", str(export), "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr

    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "samenloop.cli.main", "gateway", "serve", "--config",
             str(config)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        engine = open_store(f"sqlite:///{tmp_path / 'gw' / 'data' / 'gateway.sqlite'}")
        evidence = Evidence(engine)

        def proven() -> bool:
            states = [r.state for r in evidence.receipts()]
            return len(states) == 2 and set(states) == {"proven"}

        # both answers (the two reveal requests) are proven in the central log
        wait_for("the disclosures' entries proven", proven)
        cosigned = wait_for("a cosigned checkpoint", lambda: [
            c for c in evidence.checkpoints() if c.cosignature])
        # the matcher serves the checkpoint with the gateway's cosignature, and it verifies
        witness = CosignatureVerifier(HOUSING, load_verify_key(Path(
            f"{settings['witness_key']}.pub")))
        channel, stub = officer_stub(deployment, matcher)
        with channel:
            at = cosigned[-1]
            served = stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(tree_size=at.tree_size),
                                        timeout=30)
            [line] = [c.signature_line for c in served.cosignatures
                      if c.witness_name == HOUSING]
            verify_cosignature(parse_note(served.signed_note).text, line, witness)
        ok = run_cli("gateway", "audit", "check", "--config", str(config))
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("ok: local audit log of ")
        assert "2 answers proven in the central log" in ok.stdout

        verified = max(c.tree_size for c in evidence.checkpoints() if c.ok)
        rebuild_with_a_rewritten_entry(matcher.url, leaf_index=1)
        alarm = wait_for("the alarm", lambda: events(log, "central_log_alarm"))[0]
        assert alarm["level"] == "error" and alarm["code"] == INCONSISTENT
        assert alarm["verified_size"] >= verified
        time.sleep(1.5)  # a few more looks: still no cosignature on the rewritten log
        channel, stub = officer_stub(deployment, matcher)
        with channel:
            latest = stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=30)
            assert HOUSING not in {c.witness_name for c in latest.cosignatures}
        engine.dispose()
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(20)

    check = run_cli("gateway", "audit", "check", "--config", str(config))
    assert check.returncode == 1 and check.stdout == ""
    assert check.stderr.count("\n") == 1
    assert "rewritten or forked" in check.stderr and INCONSISTENT in check.stderr
    # what the gateway printed and logged holds no identity
    for text in (log.read_text(), check.stderr, ok.stdout):
        for value in (BSN, POSTCODE, NAME):
            assert value not in text

