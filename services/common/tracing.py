"""OpenTelemetry tracing: W3C trace context across services, OTLP export when configured.

Spans carry ids, counts and codes only. The exporter is enabled by the standard
OTEL_EXPORTER_OTLP_ENDPOINT environment variable; without it spans stay in process (they still
give every audit entry its trace and span ids).

Every RPC is traced on both ends: the server interceptor in `services.common.server` and, once
`configure_tracing` (or `instrument_grpc_clients`) has run, every channel the process opens.
The trace context travels in the W3C `traceparent` header (gRPC metadata). Where work crosses
a queue instead of a call (an alert created by a gateway's batch and read later by the inbox),
the producer stores the `traceparent` and the consumer continues it with `continue_trace`: the
gateway answers a reveal request, and the inbox handles an alert, in the trace of the batch
that created it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_clients_instrumented = False


def instrument_grpc_clients() -> None:
    """Give every gRPC channel this process opens a client span and the `traceparent` header.

    Patches `grpc.secure_channel` once (OpenTelemetry's client instrumentor); health checks are
    traced too, so a probe's path can be followed.
    """
    global _clients_instrumented
    if _clients_instrumented:
        return
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient

    GrpcInstrumentorClient(filter_=_not_server_streaming).instrument()  # type: ignore[no-untyped-call]
    _clients_instrumented = True


def _not_server_streaming(client_info: Any) -> bool:
    """Server-streaming calls (StreamAlerts) stay uninstrumented on the client: the
    instrumentor would hand back a bare generator instead of the call object, and callers rely
    on `initial_metadata()` and `cancel()`. Their server side is still traced, and what they
    carry (alerts) brings its own `traceparent`."""
    return not getattr(client_info, "is_server_stream", False) or bool(
        getattr(client_info, "is_client_stream", False))


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the active span, to store with work another process continues."""
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def continue_trace(name: str, traceparent: str | None,
                   kind: trace.SpanKind = trace.SpanKind.CONSUMER) -> Iterator[trace.Span]:
    """A span that continues the trace `traceparent` names (e.g. an alert's, in the inbox).

    A missing or malformed value starts a new trace instead: observability never refuses work.
    """
    parent = otel_context.Context()
    if traceparent and _TRACEPARENT.match(traceparent):
        parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    with trace.get_tracer("samenloop").start_as_current_span(name, context=parent,
                                                               kind=kind) as span:
        yield span


def start_detached_span(name: str, **attributes: str | int) -> trace.Span:
    """A new root span for work handed between threads (a gateway's batch: pseudonymised on
    one thread, submitted on another). Each thread makes it current with
    `trace.use_span(span, end_on_exit=…)`; the last one ends it."""
    return trace.get_tracer("samenloop").start_span(name, attributes=attributes)


_configured = False


def configure_tracing(service: str) -> None:
    """The process's tracer provider: OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    global _configured
    if _configured:
        return
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # set once per process; OpenTelemetry refuses twice
        provider = current
    else:
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"samenloop-{service}"}))
        trace.set_tracer_provider(provider)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    instrument_grpc_clients()
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current span's `trace_id` and `span_id` (W3C hex), if any.

    With these a log line can be found from a trace and an audit entry, and the other way round.
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(context.span_id))
    return event_dict
