"""Export switches and the Prometheus text format, checked against hand-written expectations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.common import metrics
from services.common.metrics import render_prometheus

_PROBE = textwrap.dedent("""
    import json
    from opentelemetry import metrics as m, trace
    from services.common.metrics import configure_metrics
    from services.common.tracing import configure_tracing
    configure_tracing("matcher")
    renderer = configure_metrics("matcher", prometheus=False)
    provider = trace.get_tracer_provider()
    processors = provider._active_span_processor._span_processors
    exporters = [type(p.span_exporter).__name__ for p in processors]
    readers = [type(r).__name__ for r in m.get_meter_provider()._all_metric_readers]
    print(json.dumps({"span_exporters": exporters, "metric_readers": readers,
                      "renderer": renderer is not None}))
""")


def _exporters(endpoint: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_nothing_is_exported_without_an_otlp_endpoint() -> None:
    assert _exporters(None) == {"span_exporters": [], "metric_readers": [], "renderer": False}


def test_otlp_export_when_the_endpoint_is_set() -> None:
    assert _exporters("http://127.0.0.1:4317") == {
        "span_exporters": ["OTLPSpanExporter"],
        "metric_readers": ["PeriodicExportingMetricReader"],
        "renderer": False,
    }


def test_prometheus_text_format() -> None:
    reader = InMemoryMetricReader()
    metrics.use_provider(MeterProvider(metric_readers=[reader]))
    try:
        metrics.signals_ingested(3, partner_kind="housing")
        metrics.signals_rejected({"unknown_signal_type": 2}, partner_kind="police")
        metrics.disclosure('odd"reason')
        metrics.observe_reveal_requests_pending(lambda: 4)
        histogram = metrics._current.rpc_duration
        for ms in (0.5, 3.0, 40.0):
            histogram.record(ms, {"rpc.method": "Ping"})
        text = render_prometheus(reader.get_metrics_data()).decode()
    finally:
        metrics.observe_reveal_requests_pending(lambda: 0)
        metrics.use_provider(MeterProvider())
    buckets = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
    cumulative = {1: 1, 2: 1}  # 0.5 ms; then 3 ms falls in le=5, 40 ms in le=50
    counts = [1 if b < 5 else 2 if b < 50 else 3 for b in buckets]
    assert all(cumulative[b] == c for b, c in zip((1, 2), counts, strict=False))
    expected = [
        "# HELP rpc_server_duration_milliseconds time to answer an RPC",
        "# TYPE rpc_server_duration_milliseconds histogram",
        *[f'rpc_server_duration_milliseconds_bucket{{le="{b}",rpc_method="Ping"}} {c}'
          for b, c in zip(buckets, counts, strict=True)],
        'rpc_server_duration_milliseconds_bucket{le="+Inf",rpc_method="Ping"} 3',
        'rpc_server_duration_milliseconds_sum{rpc_method="Ping"} 43.5',
        'rpc_server_duration_milliseconds_count{rpc_method="Ping"} 3',
        "# HELP samenloop_disclosures_total answers to reveal requests, by outcome",
        "# TYPE samenloop_disclosures_total counter",
        'samenloop_disclosures_total{outcome="odd\\"reason"} 1',
        "# HELP samenloop_reveal_requests_pending reveal requests waiting for a partner's answer",
        "# TYPE samenloop_reveal_requests_pending gauge",
        "samenloop_reveal_requests_pending 4",
        "# HELP samenloop_signals_ingested_total signals accepted by the matcher",
        "# TYPE samenloop_signals_ingested_total counter",
        'samenloop_signals_ingested_total{partner_kind="housing"} 3',
        "# HELP samenloop_signals_rejected_total "
        "signal rows refused by the matcher, by reason code",
        "# TYPE samenloop_signals_rejected_total counter",
        'samenloop_signals_rejected_total{partner_kind="police",reason="unknown_signal_type"} 2',
    ]
    assert text.splitlines() == expected
