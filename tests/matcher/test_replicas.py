"""Two `samenloop matcher serve` processes on one PostgreSQL schema: exactly-once alerts.

Overlapping batches (the same signals sent to both replicas, the two signals of a household
arriving at different replicas at the same moment) from several threads; afterwards every
qualifying household has exactly one open alert and no other household has any.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from crypto.keys import load_verify_key
from services.common.tls import secure_channel
from services.matcher.schema import alerts, households
from tests.matcher.client import GatewayTestClient, Pseudonymiser
from tests.matcher.conftest import OFFICER, PARTNERS
from tests.matcher.helpers import (
    HOUSING,
    MUNICIPALITY,
    WGS,
    Pki,
    document_bytes,
    policy_document,
    sign,
)
from tests.support.databases import postgres_schema_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

QUALIFYING = 40
SINGLE = 10


def write_config(tmp: Path, pki: Pki, pseudonymiser: Pseudonymiser, url: str) -> Path:
    config = {
        "bind": "127.0.0.1:0",
        "database_url": url,
        "municipality": "GM0599",
        "pki_dir": str(pki.dir),
        "component": "matcher",
        "officer_trust": str(pki.trust),
        "pseudonymiser_key_ids": [pseudonymiser.key_id],
        "partners": {org: {"kind": p.kind, "purposes": sorted(p.purposes)}
                     for org, p in PARTNERS.items()},
        "purge_interval_seconds": 0,
        "log_level": "WARNING",
    }
    path = tmp / "matcher.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "samenloop.cli.main", "matcher", *args]


def start_replica(config: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(cli("serve", "--config", str(config)), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"matcher listening on port (\d+)", line)
        if found:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain
            return proc, int(found.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the matcher replica did not start")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def test_two_replicas_exactly_once(tmp_path: Path, pki: Pki, pseudonymiser: Pseudonymiser,
                                   pg_url: str) -> None:
    config = write_config(tmp_path, pki, pseudonymiser, pg_url)
    subprocess.run(cli("migrate", "--config", str(config)), check=True, capture_output=True)
    replicas = [start_replica(config), start_replica(config)]
    channels = []
    try:
        key = load_verify_key(pki.dir / pki.component("matcher")["keys"]["signing"]["public_file"])

        def gateway(org: str, port: int) -> GatewayTestClient:
            name = f"gateway-{org}"
            ch = secure_channel(f"127.0.0.1:{port}", pki.tls(name), server_role="matcher")
            channels.append(ch)
            return GatewayTestClient(ch, pseudonymiser, pki, key, name)

        from samenloop.v1 import policy_pb2, policy_pb2_grpc

        officer_channel = secure_channel(f"127.0.0.1:{replicas[0][1]}", pki.tls(OFFICER),
                                         server_role="matcher")
        channels.append(officer_channel)
        doc = sign(pki, policy_document(pki, id="twee-replicas", mode="standing"))
        policy_pb2_grpc.PolicyServiceStub(officer_channel).PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(doc)), timeout=30)

        houses = [f"3071AB {i}" for i in range(1, QUALIFYING + SINGLE + 1)]
        warm = gateway(HOUSING, replicas[0][1])
        warm.warm(addresses=houses)
        streams = []
        for org, signal_type, count in ((HOUSING, "huurachterstand", QUALIFYING + SINGLE),
                                        (MUNICIPALITY, "energie_achterstand", QUALIFYING)):
            for _, port in replicas:
                client = gateway(org, port)
                rows = [client.signal(f"{signal_type}-{i}", signal_type,
                                      household=houses[i], purpose=WGS) for i in range(count)]
                random.Random(port + count).shuffle(rows)
                streams.append((client, rows))

        errors: list[BaseException] = []
        barrier = threading.Barrier(len(streams))

        def run(client: GatewayTestClient, rows: list) -> None:  # type: ignore[type-arg]
            try:
                barrier.wait()
                for start in range(0, len(rows), 4):
                    client.submit(*rows[start:start + 4])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=s) for s in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors

        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(households.c.pseudonym, sa.func.count(alerts.c.id))
                .join(alerts, alerts.c.household_id == households.c.id)
                .where(alerts.c.state != "closed")
                .group_by(households.c.pseudonym)).all()
            total_households = conn.execute(
                sa.select(sa.func.count()).select_from(households)).scalar_one()
        engine.dispose()
        assert total_households == QUALIFYING + SINGLE
        assert len(rows) == QUALIFYING  # none lost, none for the single-signal households
        assert {n for _, n in rows} == {1}  # none duplicated
    finally:
        for ch in channels:
            ch.close()
        for proc, _ in replicas:
            proc.terminate()
        codes = []
        for proc, _ in replicas:
            try:
                codes.append(proc.wait(timeout=15))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
    assert codes == [0, 0]  # SIGTERM: graceful shutdown, clean exit
