"""Per-partner rate limit and daily quota on evaluations.

A gateway that suddenly asks for millions of evaluations is running a dictionary over all BSNs
or addresses: the quota refuses it past the configured daily number of elements, and the rate
limit (a token bucket in elements per second) flattens bursts. Counted in elements, not
requests, since one request can carry a whole batch. State is in memory in the one
pseudonymiser process; see docs/decisions/0006-pseudonymiser-quotas-and-key-rotation.md.
There is no default: an organisation without its own limits is not served at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class QuotaLimits:
    """Limits for one partner organisation."""

    daily_elements: int
    rate_per_second: float
    burst: int


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    # Machine-readable code when refused: "not_served", "daily_quota" or "rate_limit".
    code: str = ""
    used_today: int = 0
    daily_limit: int = 0
    retry_after_seconds: float = 0.0


@dataclass
class _PartnerState:
    day: date
    used_today: int
    tokens: float
    refilled_at: float


@dataclass
class QuotaLedger:
    """Thread-safe accounting of evaluations per organisation (only the listed ones)."""

    per_organisation: dict[str, QuotaLimits]
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], date] = lambda: datetime.now(UTC).date()
    _state: dict[str, _PartnerState] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def limits_for(self, organisation: str) -> QuotaLimits | None:
        """The organisation's limits, or None when it is not served."""
        return self.per_organisation.get(organisation)

    def charge(self, organisation: str, elements: int) -> QuotaDecision:
        """Charge `elements` evaluations to `organisation` if both limits allow it.

        A refused request charges nothing, so a gateway that backs off and retries later is
        not punished twice.
        """
        limits = self.limits_for(organisation)
        if limits is None:
            return QuotaDecision(False, "not_served")
        now, today = self.clock(), self.today()
        with self._lock:
            state = self._state.get(organisation)
            if state is None:
                state = _PartnerState(today, 0, float(limits.burst), now)
                self._state[organisation] = state
            if state.day != today:
                state.day, state.used_today = today, 0
            state.tokens = min(
                float(limits.burst),
                state.tokens + (now - state.refilled_at) * limits.rate_per_second,
            )
            state.refilled_at = now
            if state.used_today + elements > limits.daily_elements:
                return QuotaDecision(False, "daily_quota", state.used_today, limits.daily_elements)
            if elements > state.tokens:
                missing = elements - state.tokens
                wait = missing / limits.rate_per_second if limits.rate_per_second > 0 else 86400.0
                return QuotaDecision(False, "rate_limit", state.used_today,
                                     limits.daily_elements, retry_after_seconds=wait)
            state.tokens -= elements
            state.used_today += elements
            return QuotaDecision(True, "", state.used_today, limits.daily_elements)
