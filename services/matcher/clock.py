"""The matcher's clock: one object answers "what day and time is it", so tests can move time.

All instants are stored as naive UTC datetimes (the same on SQLite and PostgreSQL); dates are
the UTC calendar date.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Naive UTC now."""
        ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def today(self) -> date:
        return self.now().date()


class SettableClock:
    """A clock a test (or a simulation) moves explicitly; it still ticks in real time."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._offset = start - SystemClock().now()

    def now(self) -> datetime:
        with self._lock:
            return SystemClock().now() + self._offset

    def today(self) -> date:
        return self.now().date()

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._offset = moment - SystemClock().now()


def to_utc_aware(moment: datetime) -> datetime:
    """Stored naive UTC -> aware UTC (for protobuf Timestamps and RFC 3339 text)."""
    return moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` (seconds precision) of a naive UTC datetime."""
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
