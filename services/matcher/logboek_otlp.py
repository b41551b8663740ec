"""Audit entries to an external Logboek Dataverwerkingen as OpenTelemetry spans (OTLP/gRPC).

The Logius standard recommends OTLP between an application and its Logboek, and requires the
Logboek to acknowledge every record it writes. When `logboek.export` is configured, the matcher
sends the records a transaction wrote in one `TraceService/Export` call just before that
transaction commits, and commits only on a full acknowledgement: an answer without error and
without rejected spans. Otherwise the transaction rolls back and the caller gets UNAVAILABLE,
so no action counts as done without its entries in the external Logboek (ADR 0023).

Each record becomes one span with the record's own ids, times, status and attributes (the
`dpl.core.*` attributes and the matcher's `samenloop.*` ones). Spans are built here, not by the
OpenTelemetry SDK: the SDK drops spans of unsampled traces, and an entry is never sampled.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from services.matcher.errors import LogboekUnavailable
from services.matcher.logboek import ERROR, OK
from services.matcher.settings import LogboekExport

SERVICE_NAME = "samenloop-matcher"
SCOPE_NAME = "samenloop.audit"
_STATUS = {
    OK: trace_pb2.Status.STATUS_CODE_OK,
    ERROR: trace_pb2.Status.STATUS_CODE_ERROR,
}


def _value(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    return common_pb2.AnyValue(string_value=str(value))


def span(record: dict[str, Any]) -> trace_pb2.Span:
    """One Logboek record as an OTLP span (times: milliseconds to nanoseconds)."""
    return trace_pb2.Span(
        trace_id=bytes.fromhex(record["trace_id"]),
        span_id=bytes.fromhex(record["span_id"]),
        parent_span_id=bytes.fromhex(record.get("parent_span_id", "")),
        name=record["name"],
        kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=int(record["start_time"]) * 1_000_000,
        end_time_unix_nano=int(record["end_time"]) * 1_000_000,
        attributes=[common_pb2.KeyValue(key=k, value=_value(v))
                    for k, v in sorted(record["attributes"].items())],
        status=trace_pb2.Status(code=_STATUS.get(record["status"],
                                                 trace_pb2.Status.STATUS_CODE_UNSET)),
    )


def export_request(
    records: Sequence[dict[str, Any]],
) -> trace_service_pb2.ExportTraceServiceRequest:
    """One Export call: the matcher as the resource, the records as spans of one scope."""
    resource = resource_pb2.Resource(attributes=[
        common_pb2.KeyValue(key="service.name", value=_value(SERVICE_NAME))])
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name=SCOPE_NAME),
            spans=[span(r) for r in records])])])


class OtlpLogboek:
    """The external Logboek behind `logboek.export` (one TLS channel, opened on first use)."""

    def __init__(self, target: LogboekExport) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._stub: Any = None

    def _connect(self) -> Any:
        with self._lock:
            if self._stub is None:
                t = self.target
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=t.ca.read_bytes(),
                    private_key=t.key.read_bytes() if t.key else None,
                    certificate_chain=t.cert.read_bytes() if t.cert else None)
                options = [("grpc.ssl_target_name_override", t.server_name)] \
                    if t.server_name else []
                channel = grpc.secure_channel(t.endpoint, credentials, options=options)
                self._stub = trace_service_pb2_grpc.TraceServiceStub(  # type: ignore[no-untyped-call]
                    channel)
            return self._stub

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        """Return once the Logboek acknowledged every record; else `LogboekUnavailable`."""
        if not records:
            return
        where = f"the external Logboek at {self.target.endpoint}"
        try:
            answer = self._connect().Export(export_request(records),
                                            timeout=self.target.timeout_seconds)
        except grpc.RpcError as exc:
            status = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
            raise LogboekUnavailable(
                f"{where} did not acknowledge {len(records)} audit entries ({status}); the "
                "action was not done: try again when it is reachable"
            ) from None
        except OSError as exc:  # a certificate file went missing
            raise LogboekUnavailable(f"{where}: {exc.strerror}: {exc.filename}") from None
        rejected = answer.partial_success.rejected_spans
        if rejected:
            raise LogboekUnavailable(
                f"{where} rejected {rejected} of {len(records)} audit entries; the action was "
                "not done")
