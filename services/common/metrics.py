"""OpenTelemetry metrics: what operators watch, as counts and codes only (issue 16).

Every instrument samenloop records lives here, with the attributes it may carry. Attribute
values are codes from fixed lists (a reason code, an outcome, a partner kind, an RPC method),
never an identity, a pseudonym or free text; `tests/observability` checks that.

| instrument | kind | attributes |
| --- | --- | --- |
| `samenloop.signals.ingested` | counter | `partner_kind` |
| `samenloop.signals.rejected` | counter | `partner_kind`, `reason` (row reason code) |
| `samenloop.alerts.created` | counter | — |
| `samenloop.reveal_requests.pending` | gauge (observed) | — |
| `samenloop.disclosures` | counter | `outcome` (`sealed` or the refusal reason code) |
| `samenloop.inquiries` | counter | `result` (`answered` or `refused`; never the answer) |
| `samenloop.pseudonymiser.elements` | counter | `organisation`, `result` (`evaluated`, refusal) |
| `rpc.server.duration` | histogram, ms | `rpc.service`, `rpc.method`, `rpc.grpc.status_code` |

Exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and rendered in the Prometheus text
format on the health port's `/metrics` when `health.metrics` is true.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc
from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

# Latency buckets in milliseconds: a health check, a batch of 1,000 rows, a long-poll.
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


class _Instruments:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.signals_ingested = meter.create_counter(
            "samenloop.signals.ingested", unit="{signal}",
            description="signals accepted by the matcher")
        self.signals_rejected = meter.create_counter(
            "samenloop.signals.rejected", unit="{signal}",
            description="signal rows refused by the matcher, by reason code")
        self.alerts_created = meter.create_counter(
            "samenloop.alerts.created", unit="{alert}", description="alerts opened")
        self.disclosures = meter.create_counter(
            "samenloop.disclosures", unit="{disclosure}",
            description="answers to reveal requests, by outcome")
        self.inquiries = meter.create_counter(
            "samenloop.inquiries", unit="{inquiry}", description="inquiries, answered or refused")
        self.pseudonymiser_elements = meter.create_counter(
            "samenloop.pseudonymiser.elements", unit="{element}",
            description="VOPRF evaluations, evaluated or refused (quota, rate, size)")
        self.rpc_duration = meter.create_histogram(
            "rpc.server.duration", unit="ms", description="time to answer an RPC",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_MS)
        meter.create_observable_gauge(
            "samenloop.reveal_requests.pending", callbacks=[_observe_pending],
            unit="{request}", description="reveal requests waiting for a partner's answer")


_lock = threading.Lock()
_pending_source: list[Callable[[], int]] = []


def use_provider(provider: MeterProvider) -> None:
    """Record into `provider` from now on (the process's, or a test's in-memory one)."""
    global _current
    with _lock:
        _current = _Instruments(provider.get_meter("samenloop"))


def _observe_pending(_options: CallbackOptions) -> Iterable[Observation]:
    for source in list(_pending_source):
        try:
            value = source()
        except Exception as exc:  # the database is away: no sample rather than a wrong one
            from services.common.logging import get_logger

            get_logger(component="metrics").warning("metric_unavailable",
                                                    metric="reveal_requests.pending",
                                                    kind=type(exc).__name__)
            continue
        yield Observation(value)


_current = _Instruments(otel_metrics.get_meter("samenloop"))


def observe_reveal_requests_pending(source: Callable[[], int]) -> None:
    """Register the function that counts pending reveal requests (the matcher's database)."""
    with _lock:
        _pending_source.clear()
        _pending_source.append(source)


# ---- recording (one function per event; attribute names fixed here) ----------------------


def signals_ingested(count: int, *, partner_kind: str) -> None:
    if count:
        _current.signals_ingested.add(count, {"partner_kind": partner_kind})


def signals_rejected(reasons: Mapping[str, int], *, partner_kind: str) -> None:
    for reason, count in reasons.items():
        _current.signals_rejected.add(count, {"partner_kind": partner_kind, "reason": reason})


def alerts_created(count: int) -> None:
    if count:
        _current.alerts_created.add(count)


def disclosure(outcome: str) -> None:
    _current.disclosures.add(1, {"outcome": outcome})


def inquiry(result: str) -> None:
    _current.inquiries.add(1, {"result": result})


def pseudonymiser_elements(count: int, *, organisation: str, result: str) -> None:
    if count:
        _current.pseudonymiser_elements.add(count, {"organisation": organisation,
                                                    "result": result})


# ---- request latency --------------------------------------------------------------------


class RpcMetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Records `rpc.server.duration` for every call, with its final status code."""

    def intercept_service(self, continuation: Callable[[Any], Any],
                          handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, _, method = handler_call_details.method.strip("/").rpartition("/")

        def record(started: float, context: Any, failed: bool) -> None:
            code = _status(context, failed)
            _current.rpc_duration.record(
                (time.perf_counter() - started) * 1000.0,
                {"rpc.service": service, "rpc.method": method, "rpc.grpc.status_code": code})

        def unary(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                failed = True
                try:
                    result = behaviour(request, context)
                    failed = False
                    return result
                finally:
                    record(started, context, failed)
            return wrapped

        def streaming(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                failed = True
                try:
                    yield from behaviour(request, context)
                    failed = False
                finally:
                    record(started, context, failed)
            return wrapped

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                unary(handler.unary_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                streaming(handler.unary_stream), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                unary(handler.stream_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                streaming(handler.stream_stream), handler.request_deserializer,
                handler.response_serializer)
        return handler


def _status(context: Any, failed: bool) -> str:
    code = None
    try:
        code = context.code()
    except Exception:
        code = None
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    return "UNKNOWN" if failed else "OK"


# ---- set-up and the Prometheus text format ----------------------------------------------


def configure_metrics(service: str, *, prometheus: bool) -> Callable[[], tuple[bytes, str]] | None:
    """The process's meter provider; returns the `/metrics` renderer when `prometheus`.

    OTLP export runs only when OTEL_EXPORTER_OTLP_ENDPOINT is set; with neither, nothing is
    collected beyond the in-process counters.
    """
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
    from opentelemetry.sdk.resources import Resource

    readers: list[MetricReader] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    reader = InMemoryMetricReader() if prometheus else None
    if reader is not None:
        readers.append(reader)
    provider = SdkMeterProvider(
        metric_readers=readers,
        resource=Resource.create({"service.name": f"samenloop-{service}"}))
    if not isinstance(otel_metrics.get_meter_provider(), SdkMeterProvider):
        otel_metrics.set_meter_provider(provider)  # once per process; samenloop's own
    use_provider(provider)  # instruments always record into this one
    if reader is None:
        return None
    return lambda: (render_prometheus(reader.get_metrics_data()), PROMETHEUS_CONTENT_TYPE)


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render_prometheus(data: Any) -> bytes:
    """OpenTelemetry metrics data in the Prometheus text exposition format (0.0.4).

    Counters get `_total`, histograms `_bucket`/`_sum`/`_count`; dots become underscores and the
    unit `ms` becomes a `_milliseconds` suffix, as the OpenTelemetry-Prometheus mapping says.
    """
    from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

    lines: list[str] = []
    metrics_by_name: dict[str, list[Any]] = {}
    if data is not None:
        for resource_metrics in data.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    metrics_by_name.setdefault(metric.name, []).append(metric)
    for name in sorted(metrics_by_name):
        for metric in metrics_by_name[name]:
            base = _prom_name(metric.name, metric.unit)
            points = metric.data.data_points
            if isinstance(metric.data, Sum):
                kind = "counter" if metric.data.is_monotonic else "gauge"
                full = f"{base}_total" if metric.data.is_monotonic else base
                lines += [f"# HELP {full} {_help(metric.description)}", f"# TYPE {full} {kind}"]
                lines += [f"{full}{_labels(p.attributes)} {_num(p.value)}" for p in points]
            elif isinstance(metric.data, Gauge):
                lines += [f"# HELP {base} {_help(metric.description)}", f"# TYPE {base} gauge"]
                lines += [f"{base}{_labels(p.attributes)} {_num(p.value)}" for p in points]
            elif isinstance(metric.data, Histogram):
                lines += [f"# HELP {base} {_help(metric.description)}",
                          f"# TYPE {base} histogram"]
                for p in points:
                    cumulative = 0
                    for bound, count in zip(p.explicit_bounds, p.bucket_counts, strict=False):
                        cumulative += count
                        lines.append(f"{base}_bucket{_labels(p.attributes, le=_num(bound))} "
                                     f"{cumulative}")
                    lines.append(f"{base}_bucket{_labels(p.attributes, le='+Inf')} {p.count}")
                    lines.append(f"{base}_sum{_labels(p.attributes)} {_num(p.sum)}")
                    lines.append(f"{base}_count{_labels(p.attributes)} {p.count}")
    return ("\n".join(lines) + "\n").encode() if lines else b""


_UNITS = {"ms": "milliseconds", "s": "seconds", "By": "bytes"}


def _prom_name(name: str, unit: str | None) -> str:
    base = "".join(c if c.isalnum() else "_" for c in name)
    suffix = _UNITS.get(unit or "")
    return f"{base}_{suffix}" if suffix and not base.endswith(suffix) else base


def _labels(attributes: Mapping[str, Any] | None, **extra: str) -> str:
    items = {**{"".join(c if c.isalnum() else "_" for c in k): str(v)
                for k, v in (attributes or {}).items()}, **extra}
    if not items:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(items.items()))
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(text: str | None) -> str:
    return (text or "").replace("\\", "\\\\").replace("\n", "\\n")


def _num(value: float) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)
