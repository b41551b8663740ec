"""The demo's scorecard: alerts against truth.json, and the scan for identities where none may be.

Scoring needs to know which household each alert is about, which nobody in the system may know
without a disclosure. The demo, holding the development keys of its own throw-away deployment,
computes each truth household's stored pseudonym itself (VOPRF with the pseudonymiser's key,
then the matcher's HMAC: `crypto.pseudonyms`) and compares with the households the matcher
alerted on. This runs in the demo process only, as an examiner's check; no service does it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crypto.keys import load_hmac_key, load_voprf_key
from crypto.oprf import evaluate
from crypto.pseudonyms import matcher_pseudonym, voprf_input
from samenloop.demo.deployment import Deployment


def _component(dep: Deployment, role: str) -> str:
    return next(str(n) for n, c in dep.manifest["components"].items() if c["role"] == role)


class Pseudonymiser:
    """The stored household pseudonym of a canonical address, as the matcher keeps it."""

    def __init__(self, dep: Deployment) -> None:
        self._voprf = load_voprf_key(dep.key_file(_component(dep, "pseudonymiser"), "voprf"))
        self._hmac = load_hmac_key(dep.key_file(_component(dep, "matcher"), "hmac"))

    def household(self, canonical_address: str) -> bytes:
        output = evaluate(self._voprf, voprf_input("household", canonical_address))
        return matcher_pseudonym(self._hmac, output)


def matcher_sqlite(dep: Deployment) -> Path:
    return dep.path("matcher-data") / "matcher.sqlite"


def alerted_households(database: Path) -> dict[str, tuple[str, bytes]]:
    """alert id -> (policy id, household pseudonym), read from the matcher's database."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT a.name_id, a.policy_id, h.pseudonym FROM alerts a "
            "JOIN households h ON h.id = a.household_id").fetchall()
    return {str(r[0]): (str(r[1]), bytes(r[2])) for r in rows}


@dataclass
class Score:
    expected: int
    alerted: int
    true_positives: int

    @property
    def precision(self) -> float:
        return 1.0 if self.alerted == 0 else self.true_positives / self.alerted

    @property
    def recall(self) -> float:
        return 1.0 if self.expected == 0 else self.true_positives / self.expected


def score(truth: dict[str, list[str]], alerts: dict[str, tuple[str, bytes]],
          pseudonymiser: Pseudonymiser) -> dict[str, Score]:
    """Per policy: truth (canonical addresses to flag) against the households alerted on."""
    out = {}
    for policy_id, addresses in truth.items():
        expected = {pseudonymiser.household(a) for a in addresses}
        alerted = {p for pid, p in alerts.values() if pid == policy_id}
        out[policy_id] = Score(len(expected), len(alerted), len(expected & alerted))
    return out


# ------------------------------------------------------------------ identity scan

@dataclass
class Identities:
    """The values that must never appear in a log or in the matcher's database."""

    bsns: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    postcodes: set[str] = field(default_factory=set)
    birth_dates: set[str] = field(default_factory=set)

    def add_bsn(self, bsn: str) -> None:
        self.bsns.add(bsn)
        if bsn.startswith("0"):
            self.bsns.add(bsn[1:])  # as a spreadsheet writes it

    def add_name(self, name: str) -> None:
        name = name.strip()
        if len(name) >= 2:
            self.names.add(name)


_DIGITS = re.compile(rb"(?<![0-9])[0-9]{8,9}(?![0-9])")
_POSTCODE = re.compile(rb"(?<![0-9A-Za-z])([1-9][0-9]{3}) ?([A-Za-z]{2})(?![A-Za-z])")
_DATE = re.compile(rb"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])")
_LETTERS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Finding:
    file: Path
    what: str  # bsn | name | postcode | birth date — never the value itself


def scan(files: Iterable[Path], identities: Identities) -> list[Finding]:
    """Every log file in which some identity value occurs (one finding per file and kind)."""
    return [Finding(path, what) for path in files
            for what in _kinds_found(path.read_bytes(), identities)]


def scan_database(database: Path, identities: Identities) -> list[Finding]:
    """Every value in every table of a SQLite database (through SQLite, so its write-ahead log
    counts too): text and numbers as they are, blobs only when they are UTF-8 text (a
    pseudonym's random bytes would match short names by chance)."""
    if not database.is_file():
        return [Finding(database, "missing database")]
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        values: list[str] = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (names from SQLite)
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            values.append(value.decode("utf-8"))
                        except UnicodeDecodeError:
                            continue
                    elif value is not None:
                        values.append(str(value))
    text = "\n".join(values).encode("utf-8")
    return [Finding(database, what) for what in _kinds_found(text, identities)]


def _kinds_found(data: bytes, identities: Identities) -> list[str]:
    found = []
    if {m.decode() for m in _DIGITS.findall(data)} & identities.bsns:
        found.append("bsn")
    postcodes = {(a + b).decode().upper() for a, b in _POSTCODE.findall(data)}
    if postcodes & identities.postcodes:
        found.append("postcode")
    if identities.birth_dates and (
            {m.decode() for m in _DATE.findall(data)} & identities.birth_dates):
        found.append("birth date")
    text = data.decode("utf-8", errors="replace")
    # Candidates by the name's first run of letters (so "Jansen-1" or "Jansen's" still count),
    # then the whole name, not inside a longer word.
    words = set(_LETTERS.findall(text))
    first_words: dict[str, list[str]] = {}
    for name in identities.names:
        first = _LETTERS.search(name)
        if first is not None:
            first_words.setdefault(first.group(), []).append(name)
    for word in words & set(first_words):
        if any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text) for n in first_words[word]):
            found.append("name")
            break
    return found
