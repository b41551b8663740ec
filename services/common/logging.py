"""structlog set-up shared by every service: JSON events, bound context, no personal data.

Log events are verbs with key-value pairs (`batch_received rows=1000 accepted=997`). The values
that may appear are counts, ids and codes. As a last line of defence the `redact_personal_data`
processor replaces anything shaped like a BSN (nine digits passing the elfproef) or a Dutch
postcode in any string value, so a programming mistake cannot put one in a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

_NINE_DIGITS = re.compile(r"(?<!\d)(\d{9})(?!\d)")
_POSTCODE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{3}\s?[A-Za-z]{2}(?![A-Za-z])")


def _passes_elfproef(digits: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def scrub(text: str) -> str:
    """Replace BSN-shaped numbers and postcodes in `text` by placeholders."""
    text = _NINE_DIGITS.sub(
        lambda m: "[redacted:bsn]" if _passes_elfproef(m.group(1)) else m.group(1), text
    )
    return _POSTCODE.sub("[redacted:postcode]", text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _scrub_value(event_dict[key])
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Render JSON lines to `stream` (stderr by default) with the service name bound."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper())
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger().bind(**bound)
