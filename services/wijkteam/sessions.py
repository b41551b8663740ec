"""Server-side sessions and their CSRF tokens, held in memory only.

The cookie carries a random 256-bit session id and nothing else; who is logged in, the CSRF
token, the language and which identities the member has opened (with the coded reason given at
the first view) live in this process. A restart logs everyone out, which is the right failure
for a tool that shows identities. Sessions expire after a period without use.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "samenloop_inbox"
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    csrf: str
    language: str
    user: str | None = None
    last_seen: float = 0.0
    view_reasons: dict[str, str] = field(default_factory=dict)
    """alert name -> the view_reason code given when this member first opened its identity."""

    def csrf_ok(self, token: str) -> bool:
        """Constant-time comparison with the session's token; empty never matches."""
        return bool(token) and hmac.compare_digest(self.csrf.encode(), token.encode())


class SessionStore:
    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, language: str) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), language,
                          last_seen=now)
        with self._lock:
            self._prune(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def login(self, old: Session, user: str) -> Session:
        """A fresh session id and CSRF token at login (no session fixation)."""
        with self._lock:
            self._sessions.pop(old.id, None)
        session = self.new(old.language)
        session.user = user
        return session

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def _prune(self, now: float) -> None:
        expired = [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_seconds]
        for k in expired:
            del self._sessions[k]
        if len(self._sessions) >= MAX_SESSIONS:  # drop the least recently used
            for k, _ in sorted(self._sessions.items(), key=lambda kv: kv[1].last_seen)[
                    : len(self._sessions) - MAX_SESSIONS + 1]:
                del self._sessions[k]
