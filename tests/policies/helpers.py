"""Shared builders for the policies tests: a valid policy document and signal facts."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, date, datetime
from typing import Any

from nacl.public import PrivateKey

from crypto.signing import SigningKey
from policies.approvals import sign_policy, with_approval
from policies.model import ApprovalRole, Policy, parse_policy
from policies.trigger import SignalFact
from policies.trust import Trust, parse_trust

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
    signal_type: str | None = None,
    domains: str | tuple[str, ...] = "huisvesting",
    *,
    on: date = TODAY,
    purpose: str = "wams-gecoordineerde-aanpak",
    partner_kind: str = "housing",
    key: str | None = None,
) -> SignalFact:
    """A fact; without `signal_type`, one type per domain set (`t_<domains>`)."""
    ds = (domains,) if isinstance(domains, str) else domains
    return SignalFact(
        key=key if key is not None else f"s{next(_counter):05d}",
        signal_type=signal_type if signal_type is not None else "t_" + "_".join(sorted(ds)),
        domains=frozenset(ds),
        purpose=purpose,
        partner_kind=partner_kind,
        observed_on=on,
    )


# --- officers --------------------------------------------------------------------------------


def _key(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


OFFICER_KEYS: dict[str, SigningKey] = {
    "po-jansen": _key(11),
    "po-devries": _key(12),
    "po-bakker": _key(13),
    "ir-visser": _key(21),
}
OFFICER_ROLES: dict[str, ApprovalRole] = {
    "po-jansen": ApprovalRole.PRIVACY_OFFICER,
    "po-devries": ApprovalRole.PRIVACY_OFFICER,
    "po-bakker": ApprovalRole.PRIVACY_OFFICER,
    "ir-visser": ApprovalRole.INDEPENDENT_REVIEW,
}
OFFICER_ORGANISATIONS: dict[str, str] = {
    "po-jansen": "gemeente-teststad",
    "po-devries": "gemeente-teststad",
    "po-bakker": "woonstad-teststad",
    "ir-visser": "toetsingscommissie",
}
CONTROLLER = "gemeente-teststad"
# Before BASE's valid_from: a policy is never in force on a day before it was approved.
SIGNING_TIME = datetime(2024, 12, 20, 9, 30, tzinfo=UTC)


def trust_document() -> dict[str, Any]:
    return {
        "format": "samenloop-officers/v2",
        "officers": [
            {
                "officer_id": oid,
                "organisation": OFFICER_ORGANISATIONS[oid],
                "role": OFFICER_ROLES[oid].value,
                "public_key": key.verify_key.to_base64(),
            }
            for oid, key in OFFICER_KEYS.items()
        ],
    }


def trust() -> Trust:
    return parse_trust(trust_document())


def signed(doc: dict[str, Any], *officers: str) -> dict[str, Any]:
    """`doc` with approvals by `officers` (each in their registered role)."""
    for oid in officers:
        approval = sign_policy(
            parse_policy(doc),
            OFFICER_KEYS[oid],
            officer_id=oid,
            role=OFFICER_ROLES[oid],
            now=SIGNING_TIME,
        )
        doc = with_approval(doc, approval)
    return doc


STANDING_OVERRIDES: dict[str, Any] = {
    "mode": "standing",
    "purposes": ["wgs-vroegsignalering"],
    "legal_basis": [
        {"citation": "Wet gemeentelijke schuldhulpverlening, art. 3 lid 3", "standing": True}
    ],
    "independent_review": {
        "reviewer": "ir-visser",
        "report": "DPIA-2025-07 review",
        "reviewed_on": "2024-12-20",
    },
}
