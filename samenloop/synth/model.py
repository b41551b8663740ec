"""The synthetic city as the generator knows it: who lives where since when, and what was signalled.

Plain frozen dataclasses, no behaviour beyond small look-ups: the truth (`truth.py`) and the
exports (`exports.py`) both read this model, so what the files say and what the oracle expects
come from one source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.identifiers.address import Address

__all__ = ["City", "Household", "Inquiry", "Link", "Person", "Signal", "Withdrawal"]


@dataclass(frozen=True, slots=True)
class Person:
    """A resident. `bsn` is 9 digits passing the elfproef."""

    bsn: str
    voorletters: str
    voorvoegsel: str
    geslachtsnaam: str
    geboortedatum: date


@dataclass(frozen=True, slots=True)
class Household:
    """An address and everyone who lives there; `hid` is a stable synthetic id (`HH-00001`)."""

    hid: str
    address: Address
    street: str


@dataclass(frozen=True, slots=True)
class Link:
    """BRP: person `bsn` lives at household `hid` from `valid_from` (until a later link)."""

    bsn: str
    hid: str
    valid_from: date


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal as the partner holds it. Exactly one of `bsn` (person) and `hid` (household)."""

    partner_kind: str
    signal_id: str
    signal_type: str
    observed_on: date
    purpose: str
    bsn: str | None = None
    hid: str | None = None


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The partner takes signal `signal_id` back, with a `withdrawal_reason` code."""

    partner_kind: str
    signal_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Inquiry:
    """An on-request inquiry: partner kind `partner_kind` asks about household `hid`."""

    partner_kind: str
    hid: str
    policy_id: str
    reason: str


@dataclass
class City:
    """The whole synthetic city on `as_of`."""

    seed: int
    as_of: date
    households: dict[str, Household] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    inquiries: list[Inquiry] = field(default_factory=list)
    initial_households: int = 0
    """How many households were asked for (movers add new addresses after these)."""

    def withdrawn_ids(self) -> set[tuple[str, str]]:
        """(partner_kind, signal_id) of every withdrawn signal."""
        return {(w.partner_kind, w.signal_id) for w in self.withdrawals}
