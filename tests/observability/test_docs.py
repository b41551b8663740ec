"""docs/operations.md lists every metric the services record, under its Prometheus name."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.common import metrics
from services.common.metrics import _prom_name

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_instrument_is_documented_and_nothing_else() -> None:
    reader = InMemoryMetricReader()
    metrics.use_provider(MeterProvider(metric_readers=[reader]))
    try:
        instruments = metrics._current  # every instrument is created up front
        names = {}
        for value in vars(instruments).values():
            name = getattr(value, "name", None)
            if isinstance(name, str) and "." in name:
                names[name] = getattr(value, "unit", None)
    finally:
        metrics.use_provider(MeterProvider())
    source = Path(metrics.__file__).read_text(encoding="utf-8")
    gauges = set(re.findall(r'create_observable_gauge\(\s*"([a-z_.]+)"', source))
    assert gauges == {"samenloop.reveal_requests.pending"}
    assert len(names) == source.count("meter.create_counter(") + 1  # + the histogram
    table = DOC.read_text(encoding="utf-8").split("## What to watch")[1].split("Suggested")[0]
    documented = set(re.findall(r"^\| `([a-z_]+)", table, re.MULTILINE))
    histograms = {"rpc.server.duration"}
    expected = {_prom_name(n, unit) + ("" if n in histograms else "_total")
                for n, unit in names.items()}
    expected |= {_prom_name(n, None) for n in gauges}
    assert documented == expected
