"""A trust file that follows its file on disk: removing an officer takes effect without a restart.

A long-running service (the matcher, a gateway) asks `TrustFile.current()` for every decision
that depends on the officers. That call stats the file (a microsecond) and re-reads it when its
mtime, ctime, size or inode changed since the last read, so a copy that kept its old mtime
(`cp -p`, rsync) is still noticed through its ctime; `reload()` re-reads unconditionally (the
matcher calls it on SIGHUP, for file systems whose timestamps cannot be trusted).

Fail closed: a file that cannot be read or parsed after a change yields an empty trust (no
officer is trusted, so no policy is in force and no revocation verifies) until a valid file is
in place, and the error is logged once per file state. Keeping the previous officers instead
would keep trusting an officer an operator was removing. Replace the file atomically (write a
new file, then rename it over the old one) so a half-written file is never read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from policies.errors import TrustFileError
from policies.trust import Trust, load_trust

EMPTY = Trust(())

_Stamp = tuple[int, int, int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


class TrustFile:
    """The officer trust file at `path`, re-read whenever it changes."""

    def __init__(
        self, path: str | Path, *, on_error: Callable[[TrustFileError], None] | None = None
    ) -> None:
        """Read the file now; a file that is missing or invalid at start raises
        `TrustFileError` (a service must not start without its officers)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._on_error = on_error
        self._stamp = _stamp(self.path)
        self._trust = load_trust(self.path)
        self._generation = 0

    @property
    def generation(self) -> int:
        """Increases on every (re)load; callers key caches of trust-dependent verdicts on it."""
        with self._lock:
            return self._generation

    def current(self) -> Trust:
        """The officers as the file says now (re-read if it changed since the last read)."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, Trust]:
        """(generation, officers), consistent with each other; re-reads a changed file."""
        stamp = _stamp(self.path)
        with self._lock:
            if stamp == self._stamp:
                return self._generation, self._trust
        return self._load(stamp)

    def reload(self) -> Trust:
        """Re-read the file whatever its stamp says."""
        return self._load(_stamp(self.path))[1]

    def _load(self, stamp: _Stamp) -> tuple[int, Trust]:
        error: TrustFileError | None = None
        try:
            trust = load_trust(self.path)
        except TrustFileError as exc:
            trust, error = EMPTY, exc
        with self._lock:
            self._stamp = stamp
            self._trust = trust
            self._generation += 1
            generation = self._generation
        if error is not None and self._on_error is not None:
            self._on_error(error)
        return generation, trust
