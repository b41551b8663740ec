"""Telemetry collected in memory while real servers run on loopback (mTLS, dev PKI).

The tracer provider is the process's (OpenTelemetry allows one); an in-memory exporter is added
to it. Metrics go to a provider of this module's own through `services.common.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import metrics
from services.common.tracing import instrument_grpc_clients
from tests.matcher.conftest import _quiet_json_logs, matcher, pki, pseudonymiser  # noqa: F401

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session", autouse=True)
def _telemetry_in_memory() -> None:
    """Before any server or channel exists: spans to memory, every channel instrumented."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    trace.get_tracer_provider().add_span_processor(  # type: ignore[attr-defined]
        SimpleSpanProcessor(_EXPORTER))
    instrument_grpc_clients()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.use_provider(provider)
    yield reader
    metrics.use_provider(MeterProvider())
    provider.shutdown()
