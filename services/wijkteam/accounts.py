"""Local team accounts: argon2id password hashes in a file, and login throttling.

A team member is known to the matcher only by a team-local id (`u-12`, `r-17`: the regisseur
id pattern of domain/codes.py), never by name; the team keeps the mapping to a person. The
accounts file holds argon2id hashes only (argon2-cffi, RFC 9106 "low memory" profile), is
written with mode 0600, and passwords are read from a prompt or stdin, never an argument.

Throttling counts failed logins per account and per client address: after `max_failures`
within the lockout period, further attempts are refused without checking the password until
the period is over. An unknown account costs the same hash computation as a known one, so the
response does not tell which accounts exist.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from domain.codes import check_regisseur
from domain.errors import InvalidValue
from domain.text_files import TextInputError, decode_utf8

FORMAT = "samenloop-inbox-users/v1"
MIN_PASSWORD_LENGTH = 12


class AccountError(Exception):
    """A problem with the accounts file or an account; the message says what to do."""


def password_hasher() -> PasswordHasher:
    """argon2id with the RFC 9106 low-memory parameters (t=3, m=64 MiB, p=4)."""
    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


def check_user_id(user: str) -> str:
    """A team-local id (the regisseur id pattern); the message never repeats the value."""
    try:
        return check_regisseur(user, "user")
    except InvalidValue as exc:
        raise AccountError(str(exc)) from None


class AccountStore:
    """The accounts file: `{"format": …, "users": {id: {"hash": …, "created": …}}}`."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or password_hasher()
        self._dummy = self.hasher.hash("samenloop: no such account")
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise AccountError(f"{self.path} is readable by group or others (mode {mode:04o}); "
                               f"run: chmod 600 {self.path}")
        try:
            data = json.loads(decode_utf8(self.path.read_bytes()))
        except TextInputError as exc:
            raise AccountError(f"{self.path}:{exc.line}: not a readable accounts file "
                               f"({exc})") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise AccountError(f"{self.path}: not a readable accounts file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AccountError(f"{self.path}: not an inbox accounts file (format {FORMAT})")
        users = data.get("users", {})
        return users if isinstance(users, dict) else {}

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, "users": users}, handle, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def users(self) -> list[str]:
        return sorted(self._read())

    def add(self, user: str, password: str, *, replace: bool = False) -> None:
        check_user_id(user)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} "
                               "characters")
        with self._lock:
            users = self._read()
            if user in users and not replace:
                raise AccountError(f"account {user} already exists; use --replace to set a new "
                                   "password")
            users[user] = {"hash": self.hasher.hash(password),
                           "created": datetime.now(UTC).isoformat(timespec="seconds")}
            self._write(users)

    def remove(self, user: str) -> None:
        with self._lock:
            users = self._read()
            if user not in users:
                raise AccountError(f"no account {user} in {self.path}")
            del users[user]
            self._write(users)

    def verify(self, user: str, password: str) -> bool:
        """True only for a known account with this password (constant work either way)."""
        entry = self._read().get(user)
        stored = entry.get("hash") if isinstance(entry, dict) else None
        try:
            self.hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored is not None


@dataclass
class _Failures:
    count: int = 0
    since: float = 0.0


@dataclass
class LoginThrottle:
    """Refuse further attempts on an account or from an address after repeated failures."""

    max_failures: int = 5
    lockout_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, user: str, address: str) -> tuple[str, str]:
        return (f"user:{user}", f"addr:{address}")

    def _live(self, key: str, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and now - entry.since >= self.lockout_seconds:
            del self._failures[key]
            return None
        return entry

    def blocked(self, user: str, address: str) -> bool:
        """Whether an attempt must be refused now, before any password is checked."""
        now = self.clock()
        with self._lock:
            return any((e := self._live(k, now)) is not None and e.count >= self.max_failures
                       for k in self._keys(user, address))

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(user, address):
                entry = self._live(key, now)
                if entry is None:
                    entry = self._failures[key] = _Failures(0, now)
                entry.count += 1

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{user}", None)
