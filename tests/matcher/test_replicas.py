"""Two `samenloop matcher serve` processes on one database: exactly-once alerts.

Overlapping batches (the same signals sent to both replicas, the two signals of a household
arriving at different replicas at the same moment) from several threads; afterwards every
household that received both signal types has exactly one alert and no other household has any.
The expected households are computed here from what was sent, and found in the database by
their pseudonym, computed here as HMAC-SHA256(matcher key from its key file, VOPRF output).

On PostgreSQL this is what the per-household row lock (`store.lock_subjects`) is for: without
it two transactions each see only their own signal and the household's alert is lost. On SQLite
(two processes, one file) every writer is serialised by `BEGIN IMMEDIATE`; the test shows the
busy timeout and retries hold up across processes. Every line either replica writes on stderr
must be one JSON object.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

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
    POLICE,
    WAMS,
    WGS,
    Pki,
    document_bytes,
    policy_document,
    sign,
)
from tests.support.services import matcher_files

pytestmark = [pytest.mark.slow]

QUALIFYING = 40
SINGLE = 10
ROUND = 10  # households per concurrent round in the split phase


def write_config(tmp: Path, pki: Pki, pseudonymiser: Pseudonymiser, url: str) -> Path:
    config = {
        "bind": "127.0.0.1:0",
        "database_url": url,
        "municipality": "GM0599",
        **matcher_files(pki.dir),
        "controller": "gemeente-rotterdam",
        "officer_trust": str(pki.trust),
        "pseudonymiser_key_ids": [pseudonymiser.key_id],
        "partners": {org: {"kind": p.kind, "purposes": sorted(p.purposes),
                           "disclosure_key": str(pki.dir / pki.component(f"gateway-{org}")[
                               "keys"]["disclosure"]["public_file"])}
                     for org, p in PARTNERS.items()},
        "purge_interval_seconds": 0,
        "log_level": "INFO",
    }
    path = tmp / "matcher.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "samenloop.cli.main", "matcher", *args]


class Replica:
    """A `matcher serve` process; its stderr is read to the end on a thread."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(cli("serve", "--config", str(config)),
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self._started = threading.Event()
        self.port = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._started.wait(60):
            self.proc.kill()
            raise AssertionError("the matcher replica did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if not self._started.is_set() and line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "server_started":
                    self.port = int(event["port"])
                    self._started.set()

    def stop(self) -> int | None:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        self._reader.join(timeout=5)
        return code


def matcher_pseudonym(pki: Pki, voprf_output: bytes) -> bytes:
    """The matcher's keyed step, computed here from its key file (JSON, base64 `secret`)."""
    document = json.loads((pki.dir / pki.component("matcher")["keys"]["hmac"]["file"])
                          .read_bytes())
    return hmac.new(base64.b64decode(document["secret"]), voprf_output, hashlib.sha256).digest()


def run_concurrently(streams: list[tuple[GatewayTestClient, list[Any], int]]) -> None:
    """Submit each stream's rows in batches, all streams starting at the same moment."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(streams))

    def run(client: GatewayTestClient, rows: list[Any], batch: int) -> None:
        try:
            barrier.wait()
            for start in range(0, len(rows), batch):
                client.submit(*rows[start:start + batch])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=s) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def alerts_per_household(url: str) -> dict[str, int]:
    """Every alert in the database (any state), counted per household pseudonym (hex)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {bytes(p).hex(): int(n) for p, n in conn.execute(
            sa.select(households.c.pseudonym, sa.func.count(alerts.c.id))
            .join(alerts, alerts.c.household_id == households.c.id)
            .group_by(households.c.pseudonym))}
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one() == sum(
            found.values())
    engine.dispose()
    return found


def test_two_replicas_exactly_once(tmp_path: Path, pki: Pki, pseudonymiser: Pseudonymiser,
                                   db_url: str) -> None:
    config = write_config(tmp_path, pki, pseudonymiser, db_url)
    subprocess.run(cli("migrate", "--config", str(config)), check=True, capture_output=True)
    replicas = [Replica(config), Replica(config)]
    channels = []
    try:
        key = load_verify_key(pki.dir / pki.component("matcher")["keys"]["signing"]["public_file"])

        def gateway(org: str, replica: Replica) -> GatewayTestClient:
            name = f"gateway-{org}"
            ch = secure_channel(f"127.0.0.1:{replica.port}", pki.tls(name), server_role="matcher")
            channels.append(ch)
            return GatewayTestClient(ch, pseudonymiser, pki, key, name)

        from samenloop.v1 import policy_pb2, policy_pb2_grpc

        officer_channel = secure_channel(f"127.0.0.1:{replicas[0].port}", pki.tls(OFFICER),
                                         server_role="matcher")
        channels.append(officer_channel)
        doc = sign(pki, policy_document(pki, id="twee-replicas", mode="standing"))
        policy_pb2_grpc.PolicyServiceStub(officer_channel).PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(doc)), timeout=30)

        sent: dict[str, set[str]] = {}  # address -> signal types sent for it

        def signals(client: GatewayTestClient, signal_type: str, addresses: list[str],
                    prefix: str) -> list[Any]:
            for address in addresses:
                sent.setdefault(address, set()).add(signal_type)
            return [client.signal(f"{prefix}-{signal_type}-{address.replace(' ', '-')}",
                                  signal_type, household=address, purpose=WGS)
                    for address in addresses]

        def expected() -> dict[str, int]:
            # The trigger: a housing and a municipality signal on one household.
            return {matcher_pseudonym(pki, warm.household(address).voprf_output).hex(): 1
                    for address, types in sent.items()
                    if types == {"huurachterstand", "energie_achterstand"}}

        split = [f"3072AB {i}" for i in range(1, QUALIFYING + SINGLE + 1)]
        overlap = [f"3071AB {i}" for i in range(1, QUALIFYING + SINGLE + 1)]
        warm = gateway(HOUSING, replicas[0])
        warm.warm(addresses=split + overlap)

        # 1. Each household's two signals reach different replicas at the same moment, in one
        #    batch per replica per round: the transaction that commits second must see the
        #    first one's signals. The households exist already (a police signal for another
        #    purpose, which this policy does not see), so only the row lock orders the two.
        police = gateway(POLICE, replicas[0])
        police.submit(*[police.signal(f"pre-{i}", "politie_herhaalde_inzet_adres",
                                      household=address, purpose=WAMS)
                        for i, address in enumerate(split)])
        housing, municipality = gateway(HOUSING, replicas[0]), gateway(MUNICIPALITY, replicas[1])
        singles = split[QUALIFYING:]
        for r in range(0, QUALIFYING, ROUND):
            both = split[r:r + ROUND]
            first = signals(housing, "huurachterstand", both + (singles if r == 0 else []), "s")
            second = signals(municipality, "energie_achterstand", both, "s")
            run_concurrently([(housing, first, len(first)), (municipality, second, len(second))])
        assert len(expected()) == QUALIFYING
        assert alerts_per_household(db_url) == expected()

        # 2. The same batches sent to both replicas (a gateway retrying elsewhere), shuffled.
        streams = []
        for org, signal_type, count in ((HOUSING, "huurachterstand", QUALIFYING + SINGLE),
                                        (MUNICIPALITY, "energie_achterstand", QUALIFYING)):
            for replica in replicas:
                client = gateway(org, replica)
                rows = signals(client, signal_type, overlap[:count], "o")
                random.Random(replica.port + count).shuffle(rows)
                streams.append((client, rows, 4))
        run_concurrently(streams)
        assert len(expected()) == 2 * QUALIFYING
        assert alerts_per_household(db_url) == expected()  # none lost, duplicated or extra
        assert len(sent) == 2 * (QUALIFYING + SINGLE)
    finally:
        for ch in channels:
            ch.close()
        codes = [replica.stop() for replica in replicas]
    assert codes == [0, 0]  # SIGTERM: graceful shutdown, clean exit
    for replica in replicas:  # one JSON object per line, nothing else on stderr
        events = [json.loads(line) for line in replica.lines]
        assert {e["service"] for e in events} == {"matcher"}
        assert any(e["event"] == "signals_received" for e in events)
