"""Audit entries to an external Logboek over OTLP, acknowledged before the action commits.

The Logboek here is a real OTLP/gRPC trace receiver (the `opentelemetry-proto` TraceService)
served in the test over TLS with a certificate of the test CA. The spans it receives are
compared with the entries in the matcher's database; when it refuses (an error status, or
spans it says it rejected), the action fails with UNAVAILABLE and nothing of it is stored.

The second test runs `samenloop matcher serve` as a process, with the OpenTelemetry SDK the
command configures, and sends a call whose W3C `traceparent` says sampled=0: the entry is
written and exported all the same, in the caller's trace.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
import yaml
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from crypto.devsetup import issue_component, load_ca
from samenloop.v1 import policy_pb2, policy_pb2_grpc
from services.common.db import create_engine, migrate
from services.common.tls import secure_channel
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.schema import audit_events, signals
from services.matcher.server import serve
from services.matcher.settings import LogboekExport, LogboekSettings
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import OFFICER, Harness, settings_for
from tests.matcher.helpers import HOUSING, Pki, build_matcher_for_test
from tests.matcher.test_replicas import Replica, write_config

LOGBOEK_HOST = "logboek.example.nl"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """An OTLP trace receiver that keeps what it acknowledged and can be told to refuse."""

    def __init__(self) -> None:
        self.spans: list[trace_pb2.Span] = []
        self.refuse: grpc.StatusCode | None = None
        self.reject = 0
        self.lock = threading.Lock()

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.refuse is not None:
            context.abort(self.refuse, "the Logboek is down")
        with self.lock:
            received = [s for rs in request.resource_spans for ss in rs.scope_spans
                        for s in ss.spans]
            response = trace_service_pb2.ExportTraceServiceResponse()
            if self.reject:
                response.partial_success.rejected_spans = self.reject
                return response
            self.spans.extend(received)
        return response


@pytest.fixture
def logboek(tmp_path: Path, pki: Pki) -> Iterator[tuple[Receiver, int, Path]]:
    """The receiver on loopback over TLS (certificate for logboek.example.nl from the test CA)."""
    # Any role will do: the matcher checks only the CA and the DNS name of an external Logboek.
    issue_component(tmp_path, load_ca(pki.dir), name="logboek", organisation="logboek-org",
                    role="matcher", dns_names=(LOGBOEK_HOST,))
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    credentials = grpc.ssl_server_credentials([(
        (tmp_path / "logboek" / "tls.key").read_bytes(),
        (tmp_path / "logboek" / "tls.crt").read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield receiver, port, pki.dir / "ca" / "ca.crt"
    server.stop(0)


def spans_as_records(spans: list[trace_pb2.Span]) -> dict[str, dict[str, Any]]:
    """What the receiver got, keyed by span id, in the Logboek record's terms."""
    out = {}
    for s in spans:
        attributes = {a.key: (a.value.int_value if a.value.HasField("int_value")
                              else a.value.string_value) for a in s.attributes}
        record: dict[str, Any] = {
            "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(), "name": s.name,
            "start_time": s.start_time_unix_nano // 1_000_000,
            "end_time": s.end_time_unix_nano // 1_000_000,
            "status": {trace_pb2.Status.STATUS_CODE_OK: "Ok",
                       trace_pb2.Status.STATUS_CODE_ERROR: "Error"}.get(s.status.code, "Unset"),
            "attributes": attributes}
        if s.parent_span_id:
            record["parent_span_id"] = s.parent_span_id.hex()
        out[record["span_id"]] = record
    return out


def stored(url: str) -> tuple[list[dict[str, Any]], int]:
    """Every entry's leaf record, and the number of signals, in the matcher's database."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        leaves = [json.loads(bytes(leaf)) for (leaf,) in conn.execute(
            sa.select(audit_events.c.leaf).order_by(audit_events.c.id))]
        count = int(conn.execute(sa.select(sa.func.count()).select_from(signals)).scalar_one())
    engine.dispose()
    return leaves, count


def test_entries_reach_the_logboek_before_the_action_counts_as_done(
    db_url: str, pki: Pki, pseudonymiser: Pseudonymiser, tmp_path: Path,
    logboek: tuple[Receiver, int, Path],
) -> None:
    receiver, port, ca = logboek
    migrate(MIGRATIONS, db_url)
    engine = create_engine(db_url)
    export = LogboekExport(f"127.0.0.1:{port}", ca, server_name=LOGBOEK_HOST,
                           timeout_seconds=5)
    settings = settings_for(pki, pseudonymiser, logboek=LogboekSettings(export=export))
    trust = tmp_path / "officers.yaml"
    shutil.copy(pki.trust, trust)
    m = build_matcher_for_test(engine, pki, settings, SettableClock(SystemClock().now()), trust)
    server = serve(m, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=4)
    h = Harness(pki, pseudonymiser, m, server, SettableClock(SystemClock().now()), trust)
    try:
        housing = h.gateway(HOUSING)
        housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
        leaves, count = stored(db_url)
        assert count == 1 and {r["name"] for r in leaves} == {"batch_received",
                                                                "signal_received"}
        # The Logboek holds exactly the stored records, span for span.
        assert spans_as_records(receiver.spans) == {r["span_id"]: r for r in leaves}

        # The Logboek refuses: the batch fails and nothing of it is stored.
        for refuse, reject in ((grpc.StatusCode.UNAVAILABLE, 0), (None, 1)):
            receiver.refuse, receiver.reject = refuse, reject
            with pytest.raises(grpc.RpcError) as err:
                housing.submit(housing.signal("h-2", "huurachterstand", household="3071AB 2"),
                               batch_id="b-2")
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert f"Logboek at 127.0.0.1:{port}" in (err.value.details() or "")
            assert stored(db_url) == (leaves, 1)
        # Reads need their entry too.
        with pytest.raises(grpc.RpcError) as err:
            h.officer().ListPolicies(policy_pb2.ListPoliciesRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        # Back up: the retried batch is done, and logged in both places.
        receiver.refuse, receiver.reject = None, 0
        housing.submit(housing.signal("h-2", "huurachterstand", household="3071AB 2"),
                       batch_id="b-2")
        leaves, count = stored(db_url)
        assert count == 2 and len(leaves) == 4
        assert spans_as_records(receiver.spans) == {r["span_id"]: r for r in leaves}
    finally:
        h.close()
        server.stop(0)
        engine.dispose()


@pytest.mark.slow
def test_an_unsampled_call_to_the_served_matcher_is_logged_and_exported(
    tmp_path: Path, pki: Pki, pseudonymiser: Pseudonymiser,
    logboek: tuple[Receiver, int, Path],
) -> None:
    receiver, port, ca = logboek
    url = f"sqlite:///{tmp_path / 'matcher.sqlite'}"
    config = write_config(tmp_path, pki, pseudonymiser, url)
    settings = yaml.safe_load(config.read_text())
    settings["logboek"] = {"export": {"endpoint": f"127.0.0.1:{port}", "ca": str(ca),
                                      "server_name": LOGBOEK_HOST}}
    config.write_text(yaml.safe_dump(settings))
    migrate(MIGRATIONS, url)
    replica = Replica(config)
    try:
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        channel = secure_channel(f"127.0.0.1:{replica.port}", pki.tls(OFFICER),
                                 server_role="matcher")
        with suppress_instrumentation():
            policy_pb2_grpc.PolicyServiceStub(channel).ListPolicies(
                policy_pb2.ListPoliciesRequest(), timeout=10,
                metadata=(("traceparent", f"00-{trace_id}-{span_id}-00"),))
        channel.close()
    finally:
        assert replica.stop() == 0
    [entry] = stored(url)[0]
    assert (entry["name"], entry["trace_id"]) == ("policies_listed", trace_id)
    assert entry["attributes"]["dpl.core.foreign_operation.span_id"] == span_id
    assert entry["attributes"]["dpl.core.foreign_operation.processor"] == (
        "https://verwerkingsregister.invalid/organisaties/gemeente-rotterdam")
    assert spans_as_records(receiver.spans) == {entry["span_id"]: entry}
