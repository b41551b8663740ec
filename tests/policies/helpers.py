"""Shared builders for the policies tests: a valid policy document and signal facts."""

from __future__ import annotations

import base64
import copy
from datetime import date
from typing import Any

from nacl.public import PrivateKey

from policies.model import Policy, parse_policy
from policies.trigger import SignalFact

# A fixed X25519 key pair for the recipient team (deterministic, test only).
RECIPIENT_PRIVATE = PrivateKey(bytes(range(1, 33)))
RECIPIENT_PUBLIC_B64 = base64.b64encode(bytes(RECIPIENT_PRIVATE.public_key)).decode()

TODAY = date(2025, 6, 15)

BASE: dict[str, Any] = {
    "id": "test-samenloop",
    "version": 1,
    "title": "Test policy",
    "legal_basis": [{"citation": "Wams art. 3 lid 1"}],
    "purpose": "Find households with problems in several life domains early.",
    "processing_activity_id": "GM0363/wams-01",
    "controller": "College van B&W van de gemeente Teststad",
    "mode": "on_request",
    "purposes": ["wams-gecoordineerde-aanpak"],
    "recipient": {
        "team_id": "wijkteam-noord",
        "name": "Wijkteam Noord",
        "public_key": RECIPIENT_PUBLIC_B64,
    },
    "scope": {"municipality": "GM0363", "areas": ["1011", "1012"]},
    "trigger": {
        "window_days": 90,
        "min_domains": 2,
        "min_signals": 2,
    },
    "disclosure": {
        "housing": ["postcode", "huisnummer", "geslachtsnaam"],
        "mental_health": ["contactpersoon"],
    },
    "cooldown_days": 180,
    "retention": {"alert_days": 365},
    "valid_from": "2025-01-01",
    "valid_until": "2026-12-31",
}


def document(**overrides: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level `overrides`; `trigger__x=` sets `trigger.x`."""
    doc = copy.deepcopy(BASE)
    for key, value in overrides.items():
        if "__" in key:
            section, field = key.split("__", 1)
            if value is None:
                doc[section].pop(field, None)
            else:
                doc[section][field] = value
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def policy(**overrides: Any) -> Policy:
    return parse_policy(document(**overrides))


_counter = iter(range(1_000_000))


def fact(
    signal_type: str = "rent_arrears",
    domains: str | tuple[str, ...] = "huisvesting",
    *,
    on: date = TODAY,
    purpose: str = "wams-gecoordineerde-aanpak",
    partner_kind: str = "housing",
    key: str | None = None,
) -> SignalFact:
    ds = (domains,) if isinstance(domains, str) else domains
    return SignalFact(
        key=key if key is not None else f"s{next(_counter):05d}",
        signal_type=signal_type,
        domains=frozenset(ds),
        purpose=purpose,
        partner_kind=partner_kind,
        observed_on=on,
    )
