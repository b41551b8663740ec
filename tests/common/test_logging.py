"""Log redaction and the one log format: what an operator's log may and may not contain.

The expected texts are written out here. The BSNs are test numbers that pass the elfproef
(123456782; 012345672, which loses its leading zero when stored as a number); 123456789 fails it.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
import sqlalchemy as sa
import structlog
from opentelemetry.sdk.trace import TracerProvider

from services.common.logging import configure_logging, get_logger, scrub

BSN = "123456782"
BSN_WITHOUT_ZERO = "12345672"  # 012345672 stored as an integer
PERSONAL = [BSN, "1234.56.782", "123 456 782", "123-45-6782", BSN_WITHOUT_ZERO,
            "3071AB", "3071 AB", "3071ab", "Jan de Vries", "Lange Haven", "1980-02-29",
            "jan@example.nl", "0612345678"]


@pytest.mark.parametrize(("text", "expected"), [
    ("123456782", "[redacted:bsn]"),
    ("bsn 1234.56.782 onbekend", "bsn [redacted:bsn] onbekend"),
    ("bsn 123 456 782 onbekend", "bsn [redacted:bsn] onbekend"),
    ("bsn 123-45-6782", "bsn [redacted:bsn]"),
    ("person=12345672", "person=[redacted:bsn]"),  # leading zero dropped: still a BSN
    ("(012345672,)", "([redacted:bsn],)"),
    ("BSN123456782", "BSN[redacted:bsn]"),
    ("signal_123456782_x", "signal_[redacted:bsn]_x"),
    ("3071AB", "[redacted:postcode]"),
    ("3071 AB 12", "[redacted:postcode] 12"),
    ("at 3071ab", "at [redacted:postcode]"),
    ("at 3071 ab.", "at [redacted:postcode]."),
    ("naam=Jan de Vries", "naam=[redacted]"),
    ("naam=Jan de Vries rows=3", "naam=[redacted] rows=3"),
    ("{'straat': 'Lange Haven', 'rows': 1}", "{'straat': [redacted], 'rows': 1}"),
    ('{"address": "Lange Haven 1"}', '{"address": [redacted]}'),
    ("geboortedatum: 1980-02-29", "geboortedatum: [redacted]"),
    ("mail to jan.de-vries@example.nl.", "mail to [redacted:email]."),
    ("Email=jan@example.nl, telefoon=0612345678", "Email=[redacted], telefoon=[redacted]"),
])
def test_scrub_redacts_personal_data(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "123456789",  # nine digits failing the elfproef: an id, not a BSN
    "12345678",  # eight digits failing it with a leading zero
    "1234567",
    "rows=1000 accepted=997 id=42",
    "area 3071",  # a PC4 area code is what the fairness report shows
    "2026-12-01T23:40:57.123456+00:00",
    "alerts/4bf92f3577b34da6a3ce929d0e0e4736",
    "alerts/6490ab505fb46b4ba7917acb503cf855",
    "serial 2229c969cdd03ed259ec4f991159822bef0a5d0e",  # 991159822 passes, but is hex here
])
def test_scrub_leaves_counts_ids_and_times(text: str) -> None:
    assert scrub(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("logtest", level="INFO", stream=stream)
    yield stream
    configure_logging("logtest", level="WARNING")  # back to stderr, quiet


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    """Every line must be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_no_personal_data(stream: io.StringIO) -> None:
    text = stream.getvalue()
    for value in PERSONAL:
        assert value not in text, value


def test_structlog_events_are_redacted_in_values_fields_and_exceptions(
    captured: io.StringIO,
) -> None:
    log = get_logger(component="test")
    log.info("lookup", detail=f"bsn {BSN} at 3071AB", bsn_as_number=int(BSN),
             zero_dropped=int(BSN_WITHOUT_ZERO), naam="Jan de Vries",
             subject={"straat": "Lange Haven", "geboortedatum": "1980-02-29", "rows": 3},
             contacts=["jan@example.nl"], telefoon="0612345678", rows=123456789,
             raw=BSN.encode())
    try:
        raise ValueError("no person 1234.56.782 at 3071 ab")
    except ValueError:
        log.exception("lookup_failed")
    first, second = lines(captured)
    assert first["detail"] == "bsn [redacted:bsn] at [redacted:postcode]"
    assert first["bsn_as_number"] == first["zero_dropped"] == "[redacted:bsn]"
    assert first["naam"] == first["telefoon"] == "[redacted]"
    assert first["subject"] == {"straat": "[redacted]", "geboortedatum": "[redacted]", "rows": 3}
    assert first["contacts"] == ["[redacted:email]"]
    assert first["rows"] == 123456789  # a count that is no BSN stays a number
    assert first["raw"] == "b'[redacted:bsn]'"
    assert "[redacted:bsn] at [redacted:postcode]" in str(second["exception"])
    assert_no_personal_data(captured)


def test_stdlib_loggers_go_through_the_same_redaction(captured: io.StringIO) -> None:
    logging.getLogger("samenloop.elsewhere").warning(
        "no match for %s (%s), naam=%s", "123 456 782", "3071 AB", "Jan de Vries")
    logging.getLogger("alembic.runtime.migration").warning("person %s", BSN_WITHOUT_ZERO)
    [first, second] = lines(captured)
    assert first["event"] == "no match for [redacted:bsn] ([redacted:postcode]), naam=[redacted]"
    assert first["logger"] == "samenloop.elsewhere" and first["level"] == "warning"
    assert second["event"] == "person [redacted:bsn]"
    assert {first["service"], second["service"]} == {"logtest"}
    assert_no_personal_data(captured)


def test_sqlalchemy_statement_parameters_are_redacted(captured: io.StringIO) -> None:
    """SQLAlchemy's own engine logger, logging real statement parameters."""
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        engine = sa.create_engine("sqlite://")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT :bsn, :postcode, :naam"),
                         {"bsn": BSN, "postcode": "3071AB", "naam": "Jan de Vries"})
        engine.dispose()
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    events = lines(captured)
    assert any(e["logger"] == "sqlalchemy.engine.Engine" and "[redacted:bsn]" in str(e["event"])
               for e in events)
    assert {e["service"] for e in events} == {"logtest"}
    text = captured.getvalue()
    assert BSN not in text and "3071AB" not in text


def test_grpc_logs_a_failing_handler_redacted(captured: io.StringIO) -> None:
    """gRPC's `grpc._server` logger reports an exception with a BSN in it, traceback included."""

    def fail(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        raise ValueError(f"unknown person {BSN} at 3071 AB")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Fail", {"Call": grpc.unary_unary_rpc_method_handler(fail)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with (grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
              pytest.raises(grpc.RpcError)):
            channel.unary_unary("/test.Fail/Call")(b"", timeout=10)
    finally:
        server.stop(0).wait()
    events = [e for e in lines(captured) if str(e.get("logger", "")).startswith("grpc")]
    assert events, captured.getvalue()
    assert "unknown person [redacted:bsn] at [redacted:postcode]" in json.dumps(events)
    assert {e["service"] for e in events} == {"logtest"}
    assert_no_personal_data(captured)


def test_service_on_events_from_other_threads(captured: io.StringIO) -> None:
    worker = threading.Thread(target=lambda: get_logger().info("from_a_pool_thread"))
    worker.start()
    worker.join()
    [event] = lines(captured)
    assert event["service"] == "logtest" and event["event"] == "from_a_pool_thread"


def test_trace_and_span_ids_inside_a_span(captured: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    get_logger().info("outside")
    with tracer.start_as_current_span("inside") as span:
        get_logger().info("inside")
        logging.getLogger("samenloop.elsewhere").warning("stdlib inside")
    context = span.get_span_context()
    outside, inside, stdlib_inside = lines(captured)
    assert "trace_id" not in outside and "span_id" not in outside
    for event in (inside, stdlib_inside):
        assert event["trace_id"] == f"{context.trace_id:032x}"
        assert event["span_id"] == f"{context.span_id:016x}"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_rendering_on_a_terminal_is_redacted_too() -> None:
    stream = Terminal()
    configure_logging("logtest", stream=stream)
    try:
        get_logger().info("lookup", detail=f"bsn {BSN}")
        logging.getLogger("samenloop.elsewhere").warning("postcode %s", "3071 AB")
    finally:
        configure_logging("logtest", level="WARNING")
    text = stream.getvalue()
    assert "lookup" in text and "[redacted:bsn]" in text and "[redacted:postcode]" in text
    assert not text.lstrip().startswith("{")  # rendered for people, not JSON
    assert BSN not in text and "3071 AB" not in text


def test_level_filters_structlog_and_stdlib_alike(captured: io.StringIO) -> None:
    configure_logging("logtest", level="WARNING", stream=captured)
    get_logger().info("not_shown")
    logging.getLogger("samenloop.elsewhere").info("not shown either")
    get_logger().warning("shown")
    assert [e["event"] for e in lines(captured)] == ["shown"]
    assert structlog.is_configured()


def test_libraries_report_warnings_not_their_info_chatter(captured: io.StringIO) -> None:
    get_logger().info("ours")  # INFO configured: our own events at INFO are shown
    logging.getLogger("alembic.runtime.plugins").info("setup plugin")
    logging.getLogger("grpc._cython.cygrpc").warning("a library warning")
    assert [e["event"] for e in lines(captured)] == ["ours", "a library warning"]
