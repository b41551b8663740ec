"""A certificate deny-list: revoked client certificates are refused by every service.

The deployment CA cannot take back a certificate it issued; a stolen gateway key stays valid
until it expires. Every service may therefore name a deny-list file in its configuration
(`deny_list: PATH`). One entry per line, `#` starts a comment:

    # gateway laptop stolen 2026-11-30
    3f:a2:19:0b:…                     certificate serial number, hex (colons optional, 0x ok)
    sha256:9c1e…                      SHA-256 fingerprint of the DER certificate (64 hex digits)

A bare 64-digit hex value is a fingerprint (a serial has at most 40 digits, RFC 5280). The file
is read at start-up (a bad line stops the service with file:line) and re-read whenever it
changes, so revoking needs no restart; a broken edit keeps the previous list and is logged.
Serial numbers are matched regardless of issuer: with several CAs, prefer fingerprints.
"""

from __future__ import annotations

import os
import string
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from domain.text_files import TextInputError, decode_utf8
from services.common.config import ConfigError
from services.common.logging import get_logger

_HEX = frozenset(string.hexdigits)


class DenyListError(ConfigError):
    """The deny-list file cannot be read or has a line that is not a serial or fingerprint."""


@dataclass(frozen=True)
class DenyEntries:
    serials: frozenset[int]
    fingerprints: frozenset[str]  # lowercase hex, no separators


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex (what `pki dev-setup` prints, unprefixed)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def parse_deny_list(text: str, source: Path) -> DenyEntries:
    serials: set[int] = set()
    fingerprints: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        raw = line.split("#", 1)[0].strip()
        if not raw:
            continue
        value = raw.lower().replace(":", "").replace(" ", "")
        is_fp = value.startswith("sha256")
        value = value.removeprefix("sha256").removeprefix("0x")
        if not value or not set(value) <= _HEX:
            raise DenyListError(f"{source}:{number}: not a hex serial number or SHA-256 "
                                "fingerprint; write one per line, `#` for comments")
        if is_fp or len(value) == 64:
            if len(value) != 64:
                raise DenyListError(f"{source}:{number}: a SHA-256 fingerprint has 64 hex "
                                    f"digits, this one {len(value)}")
            fingerprints.add(value)
        elif len(value) <= 40:
            serials.add(int(value, 16))
        else:
            raise DenyListError(f"{source}:{number}: {len(value)} hex digits is neither a serial "
                                "number (at most 40) nor a SHA-256 fingerprint (64)")
    return DenyEntries(frozenset(serials), frozenset(fingerprints))


class DenyList:
    """The revoked certificates named in one file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._log = get_logger(component="denylist")
        self._stamp, self._entries = self._read()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> tuple[tuple[int, int, int] | None, DenyEntries]:
        stamp = self._stat()
        try:
            text = decode_utf8(self.path.read_bytes())
        except OSError as exc:
            raise DenyListError(f"cannot read the deny-list {self.path} ({exc.strerror}); "
                                "create it (it may be empty) or fix `deny_list`") from None
        except TextInputError as exc:
            raise DenyListError(f"{self.path}:{exc.line}: the deny-list is {exc}") from None
        return stamp, parse_deny_list(text, self.path)

    def _refresh(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a broken edit is reported once, not on every call
        try:
            self._stamp, entries = self._read()
        except DenyListError as exc:
            self._log.error("deny_list_reload_failed", error=str(exc), kept="previous list")
            return
        self._entries = entries
        self._log.info("deny_list_reloaded", serials=len(entries.serials),
                       fingerprints=len(entries.fingerprints))

    def is_revoked(self, cert: x509.Certificate) -> bool:
        with self._lock:
            self._refresh()
            entries = self._entries
        return cert.serial_number in entries.serials or fingerprint(cert) in entries.fingerprints
