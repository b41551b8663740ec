"""Capture this process's log events (JSON lines) while a block runs."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.common.logging import configure_logging


class Events:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line]

    def named(self, event: str, wait: float = 2.0) -> list[dict[str, Any]]:
        """The events called `event`; waits a moment for server threads to write them."""
        deadline = time.monotonic() + wait
        while True:
            found = [e for e in self.all() if e.get("event") == event]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


@contextmanager
def captured(service: str = "hostile-tests") -> Iterator[Events]:
    stream = io.StringIO()
    configure_logging(service, level="INFO", stream=stream)
    try:
        yield Events(stream)
    finally:
        configure_logging("matcher-tests", level="WARNING")
