"""Logging shared by every service: one JSON object per line, bound context, no personal data.

Log events are verbs with key-value pairs (`batch_received rows=1000 accepted=997`). The values
that may appear are counts, ids and codes. As a last line of defence the `redact_personal_data`
processor removes personal data a programming mistake might still put in a line:

- anything shaped like a BSN: nine digits passing the elfproef, also written `1234.56.782`,
  `123 456 782` or `123-45-6782`, and eight digits that pass it with the leading zero restored
  (a BSN that went through an integer), in text and in integer values;
- Dutch postcodes (`3071AB`, `3071 ab`) and e-mail addresses;
- the whole value of a field whose name says it holds a name, address, date of birth or contact
  detail (`naam`, `straat`, `geboortedatum`, `email`, ...), also as `naam=...` inside text.

Every logger goes through the same pipeline: structlog's own, and the standard library's (gRPC,
SQLAlchemy, Alembic, ...) through `structlog.stdlib.ProcessorFormatter`, so a library that logs
an exception with a BSN in it is redacted too. Each event carries `service`, and `trace_id` and
`span_id` when logged inside an OpenTelemetry span. On a terminal the lines are rendered for
people; otherwise JSON (sorted keys).

gRPC's C core writes to stderr by itself, outside Python logging. `quiet_grpc_core()` sets
`GRPC_VERBOSITY=ERROR` (unless the operator set it) before grpc is imported; see ADR 0016.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from services.common.tracing import add_trace_context

REDACTED = "[redacted]"
REDACTED_BSN = "[redacted:bsn]"
REDACTED_POSTCODE = "[redacted:postcode]"
REDACTED_EMAIL = "[redacted:email]"

# Eight or nine digits, optionally grouped by single spaces, dots or hyphens (1234.56.782), not
# inside a hexadecimal token (certificate serials, fingerprints, trace and alert ids).
_BSN_SHAPED = re.compile(r"(?<![0-9A-Fa-f])\d(?:[ .\-]?\d){7,8}(?![0-9A-Fa-f])")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_POSTCODE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{3}[ \t]{0,2}[A-Za-z]{2}(?![0-9A-Za-z=])")

PERSONAL_FIELDS = frozenset({
    "naam", "name", "voornaam", "voornamen", "achternaam", "geslachtsnaam", "tussenvoegsel",
    "first_name", "last_name", "full_name", "given_name", "surname", "family_name",
    "straat", "straatnaam", "street", "adres", "address", "woonadres", "huisnummer",
    "house_number", "woonplaats", "city", "postcode", "zip", "zipcode", "postal_code",
    "geboortedatum", "birth_date", "birthdate", "date_of_birth", "dob",
    "email", "e_mail", "emailadres", "telefoon", "telefoonnummer", "phone", "phone_number",
    "mobiel", "bsn",
})
"""Field names whose whole value is redacted (compared lower-case, `-` read as `_`)."""

_FIELD_IN_TEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(" + "|".join(sorted(PERSONAL_FIELDS, key=len, reverse=True))
    + r")(['\"]?\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;)}\]]+(?:[ \t]+(?![\w-]+\s*[=:])[^\s,;)}\]=:]+)*)"
)


_OWN_IDS = frozenset({"trace_id", "span_id", "timestamp", "level", "logger", "service"})


def _passes_elfproef(digits: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def _is_bsn(digits: str) -> bool:
    """Nine digits passing the elfproef, or eight that do with a leading zero restored."""
    if len(digits) == 8:
        digits = "0" + digits
    return len(digits) == 9 and _passes_elfproef(digits)


def _bsn_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"[ .\-]", "", text)
    return REDACTED_BSN if _is_bsn(digits) else text


def scrub(text: str) -> str:
    """Replace BSN-shaped numbers, postcodes, e-mail addresses and `naam=...` values in `text`."""
    text = _FIELD_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _EMAIL.sub(REDACTED_EMAIL, text)
    text = _BSN_SHAPED.sub(_bsn_match, text)
    return _POSTCODE.sub(REDACTED_POSTCODE, text)


def is_personal_field(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in PERSONAL_FIELDS


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return REDACTED_BSN if 10**7 <= value < 10**9 and _is_bsn(str(value)) else value
    if isinstance(value, Mapping):
        return {k: REDACTED if is_personal_field(k) else _scrub_value(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, bytes | bytearray):
        return scrub(repr(bytes(value)))  # what the JSON renderer would show, scrubbed
    return scrub(str(value))  # anything else is rendered as text anyway


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the redaction described in the module docstring, on every value."""
    for key in list(event_dict):
        if key.startswith("_") or key in _OWN_IDS:
            continue  # structlog's bookkeeping (`_record`), our own hex trace ids
        event_dict[key] = (REDACTED if is_personal_field(key)
                           else _scrub_value(event_dict[key]))
    return event_dict


def _add_service(service: str) -> Callable[[Any, str, MutableMapping[str, Any]],
                                           MutableMapping[str, Any]]:
    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        # A processor, not a context variable: gRPC handlers run in pool threads that do not
        # see the main thread's contextvars.
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test capture replaces it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_HANDLER_NAME = "samenloop"
_LOGGER_NAME = "samenloop"  # the stdlib logger structlog's events pass through


def quiet_grpc_core() -> None:
    """Keep gRPC's C core from writing plain-text lines to stderr (only errors, if any).

    Must run before `grpc` is imported to take effect; the operator's own setting wins.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("GRPC_TRACE", "")


def configure_logging(service: str, *, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log line of this process, structlog's and the stdlib's, through one pipeline.

    JSON lines on `stream` (the current stderr by default), or a console rendering when that is
    a terminal. Calling it again replaces the previous configuration.
    """
    numeric_level = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
        add_trace_context,
    ]
    target = stream if stream is not None else sys.stderr
    renderer: Any
    if target.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=True)
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler())
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries (gRPC, SQLAlchemy, Alembic, ...) report warnings and errors; their INFO chatter
    # is not this service's log. Our own events use the configured level.
    root.setLevel(max(numeric_level, logging.WARNING))
    logging.getLogger(_LOGGER_NAME).setLevel(numeric_level)
    logging.captureWarnings(True)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger(_LOGGER_NAME).bind(**bound)
