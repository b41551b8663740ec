"""One trace from the gateway through the pseudonymiser and the matcher to the inbox, and no
personal data in any span or metric.

Real servers on loopback (the pseudonymiser and the matcher over mTLS, dev PKI) and the real
clients: two partner gateways (`services.partner_gateway`, configured as `dev-setup` writes
them) ingest an export each, the housing gateway answers its reveal request as `serve` does,
and the wijkteam inbox (`services.wijkteam.inbox.Inbox`) opens the alert. All run in this
process, so one in-memory exporter sees every span.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.formats import ExportKind, PartnerMapping
from samenloop.deploy_configs import gateway_config, inbox_config
from samenloop.v1 import common_pb2, wijkteam_pb2
from services.common.metrics import render_prometheus
from services.partner_gateway.disclosure import Discloser
from services.partner_gateway.ingest import ingest_file
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.server import serve_once
from services.partner_gateway.settings import load_settings
from services.wijkteam.inbox import Inbox
from services.wijkteam.settings import load_inbox_settings
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, MUNICIPALITY, TEAM, WGS

NOT_A_SIGNAL = "geen_bestaand_signaal"
_random = random.Random()


def _fresh_bsn() -> str:
    """An elfproef-valid BSN the session's pseudonym cache has not seen."""
    while True:
        digits = [_random.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(last)


# Fresh identities per run: the pseudonymiser's outputs are cached for the session, and a
# cached one would make no pseudonymiser call to trace.
ADDRESS = f"3071AB {_random.randrange(1, 9999)}"
OTHER_ADDRESS = f"3072CD {_random.randrange(1, 9999)}"
BSN = _fresh_bsn()
COLUMNS = "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer,geslachtsnaam"


def _absolute(config: dict[str, Any], base: Path) -> dict[str, Any]:
    """dev-setup's relative paths, resolved against the PKI folder."""
    out = dict(config)
    for key, value in config.items():
        if isinstance(value, str) and "/" in value and (base / value).exists():
            out[key] = str(base / value)
    out["tls"] = {k: str(base / v) for k, v in config["tls"].items()}
    return out


def _gateway(h: Harness, org: str, directory: Path) -> Gateway:
    """The partner's gateway as `dev-setup` configures it, pointed at the running services."""
    config = _absolute(gateway_config(h.pki.manifest, f"gateway-{org}", None), h.pki.dir)
    config.pop("link_mapping", None)  # canonical columns: only signals are sent here
    config.update(matcher=h.target, pseudonymiser=f"127.0.0.1:{h.pseudonymiser.port}",
                  officer_trust=str(h.trust_file), data_dir=str(directory / org),
                  four_eyes=False, log_level="WARNING")
    path = directory / f"{org}.yaml"
    path.write_text(yaml.safe_dump(config))
    return Gateway(load_settings(path))


def _inbox(h: Harness, directory: Path) -> Inbox:
    config = _absolute(inbox_config(h.pki.manifest, TEAM), h.pki.dir)
    config.update(matcher=h.target, users_file=str(directory / "users.json"),
                  partner_keys={org: str(h.pki.dir / key)
                                for org, key in config["partner_keys"].items()})
    path = directory / "inbox.yaml"
    path.write_text(yaml.safe_dump(config))
    return Inbox(load_inbox_settings(path))


def _ingest(gw: Gateway, path: Path, *rows: str) -> None:
    path.write_text("\n".join([COLUMNS, *rows]) + "\n")
    summary = ingest_file(gw, path, ExportKind.SIGNALS, PartnerMapping())
    assert summary.outcomes["accepted"] == len(rows), summary.as_dict()


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path


def _run_flow(matcher: Harness, directory: Path) -> dict[str, Any]:
    """Gateway -> pseudonymiser -> matcher -> inbox, and the disclosure back in the trace."""
    global ADDRESS, OTHER_ADDRESS, BSN
    ADDRESS = f"3071AB {_random.randrange(1, 9999)}"
    OTHER_ADDRESS = f"3072CD {_random.randrange(1, 9999)}"
    BSN = _fresh_bsn()
    matcher.publish_policy(mode="standing", purposes=[WGS])
    day = (date.today() - timedelta(days=2)).isoformat()
    postcode, number = ADDRESS.split()
    housing = _gateway(matcher, HOUSING, directory)
    gemeente = _gateway(matcher, MUNICIPALITY, directory)
    inbox = _inbox(matcher, directory)
    try:
        _ingest(housing, directory / "housing.csv",
                f"h-1,huurachterstand,{day},{WGS},,{postcode},{number},Jansen")
        _ingest(gemeente, directory / "gemeente.csv",
                f"m-1,energie_achterstand,{day},{WGS},{BSN},{postcode},{number},Jansen")
        # The housing gateway answers its reveal request, as `gateway serve` does.
        assert serve_once(Discloser(housing), 0) == 1
        # The team opens the alert in its inbox.
        [summary] = inbox.list_alerts("u-1")
        detail = inbox.alert("u-1", summary.name, view_reason="review_alert")
        assert [(d.partner_kind, d.status) for d in detail.disclosures] == [
            ("housing", "opened")]
    finally:
        for closable in (housing, gemeente, inbox):
            closable.close()
    return {"alert": summary.name}


def _trace(spans: list[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context.trace_id == trace_id]


def test_one_connected_trace_across_the_services(
    matcher: Harness, spans: InMemorySpanExporter, directory: Path
) -> None:
    ids = _run_flow(matcher, directory)
    finished = list(spans.get_finished_spans())
    [inbox] = [s for s in finished if s.name == "inbox.alert"]
    assert inbox.attributes is not None and inbox.attributes["samenloop.alert"] == ids["alert"]
    flow = _trace(finished, inbox.context.trace_id)
    # (A pseudonymiser client checks the served key with GetPublicKey once per gateway before
    # its first batch, outside any batch: left out of the count.)
    names = Counter((s.name, s.kind.name) for s in flow if not s.name.endswith("/GetPublicKey"))
    expected = {
        # the municipality's batch: its signal makes the alert
        ("gateway.batch", "INTERNAL"): 1,
        # pseudonymising the address and the BSN (one VOPRF batch): client and server side
        ("/samenloop.v1.Pseudonymiser/BlindEvaluate", "CLIENT"): 1,
        ("/samenloop.v1.Pseudonymiser/BlindEvaluate", "SERVER"): 1,
        ("/samenloop.v1.PartnerService/SubmitSignals", "CLIENT"): 1,
        ("/samenloop.v1.PartnerService/SubmitSignals", "SERVER"): 1,
        # the housing gateway answers the reveal request inside the alert's trace
        ("gateway.reveal_request", "CONSUMER"): 1,
        ("/samenloop.v1.PolicyService/GetPolicy", "CLIENT"): 1,
        ("/samenloop.v1.PolicyService/GetPolicy", "SERVER"): 1,
        ("/samenloop.v1.PartnerService/SubmitDisclosure", "CLIENT"): 1,
        ("/samenloop.v1.PartnerService/SubmitDisclosure", "SERVER"): 1,
        # the inbox opens the alert in the same trace
        ("inbox.alert", "CONSUMER"): 1,
    }
    assert dict(names) == expected
    # Connected: every span but the root has its parent in the same trace.
    by_id = {s.context.span_id: s for s in flow}
    roots = [s for s in flow if s.parent is None]
    assert [s.name for s in roots] == ["gateway.batch"]
    for s in flow:
        if s.parent is not None:
            assert s.parent.span_id in by_id, f"{s.name}: parent outside the trace"
    # Each server span is the child of its client span (W3C context crossed the wire).
    for s in flow:
        if s.kind.name == "SERVER":
            parent = by_id[s.parent.span_id]  # type: ignore[union-attr]
            assert (parent.kind.name, parent.name) == ("CLIENT", s.name)
    # The gateway's answer and the inbox's handling hang under the matcher's span that
    # created the alert.
    for name in ("inbox.alert", "gateway.reveal_request"):
        consumer = next(s for s in flow if s.name == name)
        creator = by_id[consumer.parent.span_id]  # type: ignore[union-attr]
        assert (creator.name, creator.kind.name) == (
            "/samenloop.v1.PartnerService/SubmitSignals", "SERVER"), name


# ---- no personal data in telemetry ------------------------------------------------------

_POSTCODE = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{3}\s?[A-Za-z]{2}(?![0-9A-Za-z])")
_NINE_DIGITS = re.compile(r"(?<![0-9a-f])[0-9]{9}(?![0-9a-f])")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _strings(v)]
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")]
    return [str(value)]


def _span_texts(span: ReadableSpan) -> list[str]:
    texts = [span.name, span.status.description or ""]
    for attrs in [span.attributes, span.resource.attributes,
                  *[e.attributes for e in span.events], *[lk.attributes for lk in span.links]]:
        for key, value in (attrs or {}).items():
            texts.append(key)
            texts.extend(_strings(value))
    return texts


def _metric_texts(reader: InMemoryMetricReader) -> list[str]:
    data = reader.get_metrics_data()
    texts: list[str] = []
    for rm in data.resource_metrics:  # type: ignore[union-attr]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                texts.append(metric.name)
                for point in metric.data.data_points:
                    for key, value in (point.attributes or {}).items():
                        texts += [key, *_strings(value)]
    return texts


def _personal_data(texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        known = any(p in text for p in (ADDRESS, OTHER_ADDRESS, "3071AB", "3072CD", BSN))
        if known or _POSTCODE.search(text) or _NINE_DIGITS.search(text):
            found.append(text)
    return found


def test_no_span_or_metric_attribute_carries_personal_data(
    matcher: Harness, spans: InMemorySpanExporter, metric_reader: InMemoryMetricReader,
    directory: Path,
) -> None:
    _run_flow(matcher, directory)
    # A refused call too: its error text lands in the span's status and events.
    gemeente = matcher.gateway(MUNICIPALITY)
    with pytest.raises(Exception, match="policies/"):
        gemeente.inquire("no-such-policy", ADDRESS)
    span_texts = [t for s in spans.get_finished_spans() for t in _span_texts(s)]
    metric_texts = _metric_texts(metric_reader)
    assert len(span_texts) > 100 and len(metric_texts) > 20, "the scan saw too little"
    assert _personal_data(span_texts) == []
    assert _personal_data(metric_texts) == []


def test_the_scan_finds_personal_data_where_there_is_some() -> None:
    """The oracle itself: it must not be blind."""
    assert _personal_data(["addr 3071AB 12", "x", "bsn=111222333", "3072 cd", BSN]) == [
        "addr 3071AB 12", "bsn=111222333", "3072 cd", BSN]
    assert _personal_data(["trace 4bf92f3577b34da6a3ce929d0e0e4736", "rows=1000",
                           "alerts/01902abcc6ec4f1e822baf4176ed8775"]) == []


# ---- the metrics the flow produced ------------------------------------------------------


def _points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for rm in reader.get_metrics_data().resource_metrics:  # type: ignore[union-attr]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    if value is None:
                        value = p.count  # histogram: how many recorded
                    out.setdefault(metric.name, []).append((dict(p.attributes or {}), value))
    return out


def test_the_flow_is_counted(matcher: Harness, metric_reader: InMemoryMetricReader) -> None:
    matcher.publish_policy(mode="standing", purposes=[WGS])
    housing = matcher.gateway(HOUSING)
    gemeente = matcher.gateway(MUNICIPALITY)
    first = housing.submit(
        housing.signal("h-1", "huurachterstand", household=ADDRESS, purpose=WGS),
        housing.signal("h-2", NOT_A_SIGNAL, household=OTHER_ADDRESS, purpose=WGS))
    rejected_reason = first.results[1].reason_code
    assert first.results[1].outcome == common_pb2.ROW_OUTCOME_REJECTED
    gemeente.submit(gemeente.signal("m-1", "energie_achterstand", household=ADDRESS,
                                    purpose=WGS))
    gemeente.submit(gemeente.signal("m-1", "energie_achterstand", household=ADDRESS,
                                    purpose=WGS))  # the same row again: a duplicate
    before_pull = _points(metric_reader)
    pending = len(housing.pull()) + len(gemeente.pull())  # what the partners can fetch
    assert pending == 2
    signed = housing.pull()[0]
    housing.refuse(signed)
    gemeente.disclose(gemeente.pull()[0], {"bsn": "-"})
    with pytest.raises(Exception, match="policies/"):
        gemeente.inquire("no-such-policy", ADDRESS)
    matcher.publish_policy(id="wams")  # on request: inquiries are for these
    housing.inquire("wams", ADDRESS)
    points = _points(metric_reader)

    assert sorted((a["partner_kind"], v) for a, v in points["samenloop.signals.ingested"]) == [
        ("housing", 1), ("municipality", 1)]
    assert points["samenloop.signals.rejected"] == [
        ({"partner_kind": "housing", "reason": rejected_reason}, 1)]
    assert points["samenloop.alerts.created"] == [({}, 1)]
    assert before_pull["samenloop.reveal_requests.pending"] == [({}, pending)]
    assert points["samenloop.reveal_requests.pending"] == [({}, 0)]
    assert sorted((a["outcome"], v) for a, v in points["samenloop.disclosures"]) == [
        ("REFUSAL_REASON_SIGNAL_NOT_LIVE", 1), ("sealed", 1)]
    assert sorted((a["result"], v) for a, v in points["samenloop.inquiries"]) == [
        ("answered", 1), ("refused", 1)]
    durations = {(a["rpc.method"], a["rpc.grpc.status_code"]): n
                 for a, n in points["rpc.server.duration"]}
    assert durations[("SubmitSignals", "OK")] == 3
    assert durations[("SubmitDisclosure", "OK")] == 2
    assert durations[("CreateInquiry", "NOT_FOUND")] == 1
    text = render_prometheus(metric_reader.get_metrics_data()).decode()
    assert "samenloop_alerts_created_total 1\n" in text
    assert 'rpc_server_duration_milliseconds_count{rpc_grpc_status_code="OK",' \
           'rpc_method="SubmitSignals",rpc_service="samenloop.v1.PartnerService"} 3\n' in text


def test_a_server_stream_keeps_its_call_object_when_clients_are_traced(
    matcher: Harness,
) -> None:
    """StreamAlerts callers wait for the initial metadata and cancel the call; the client
    instrumentation must not turn the call into a bare generator."""
    stream = matcher.team().StreamAlerts(wijkteam_pb2.StreamAlertsRequest(), timeout=30)
    try:
        assert stream.initial_metadata() is not None
    finally:
        stream.cancel()
