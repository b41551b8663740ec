"""Wake long-polls and alert streams in this process as soon as a transaction commits.

Across replicas the waiters also poll the database (every `POLL_INTERVAL` seconds), so a
request created by another replica is seen within that interval.
"""

from __future__ import annotations

import threading

POLL_INTERVAL = 0.2


class Notifier:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, seen: int, timeout: float = POLL_INTERVAL) -> int:
        """Wait until something happened after generation `seen`, or `timeout` passed."""
        with self._cond:
            if self._generation == seen:
                self._cond.wait(timeout)
            return self._generation
