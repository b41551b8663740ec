"""What the inbox shows of the policy an alert was created under, checked before it is shown.

The matcher sends the signed policy version with each alert. The inbox shows its title, legal
basis, purpose and area only if the document's canonical digest is the alert's `policy_digest`
(the digest every verified disclosure box names too) and the policy names this team as its
recipient with this team's key; otherwise the page says the policy text could not be verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.canonical import policy_digest


@dataclass(frozen=True)
class PolicyInfo:
    policy_id: str
    version: int
    verified: bool
    title: str = ""
    legal_basis: tuple[str, ...] = ()
    purpose: str = ""
    area: str = ""
    disclosure: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Partner kind -> the identity fields the policy lets that kind disclose."""


def _area(scope: Any) -> str:
    if not isinstance(scope, dict):
        return ""
    municipality = str(scope.get("municipality", ""))
    areas = scope.get("areas") or []
    if areas:
        return f"{municipality}: {', '.join(str(a) for a in areas)}"
    return municipality


def policy_info(
    document_json: bytes, *, policy_id: str, version: int, digest: str, team: str,
    team_public_key: str,
) -> PolicyInfo:
    """The displayable policy, or an unverified stub naming only the id and version."""
    stub = PolicyInfo(policy_id, version, verified=False)
    try:
        doc = json.loads(document_json) if document_json else None
    except ValueError:
        return stub
    if not isinstance(doc, dict):
        return stub
    try:
        actual = policy_digest(doc)
    except Exception:  # any malformed document is simply not verified
        return stub
    raw_recipient = doc.get("recipient")
    recipient: dict[str, Any] = raw_recipient if isinstance(raw_recipient, dict) else {}
    if (actual != digest or doc.get("id") != policy_id or doc.get("version") != version
            or recipient.get("team_id") != team
            or recipient.get("public_key") != team_public_key):
        return stub
    legal = tuple(str(b.get("citation", "")) for b in doc.get("legal_basis") or []
                  if isinstance(b, dict))
    disclosure = {str(k): tuple(str(f) for f in v)
                  for k, v in (doc.get("disclosure") or {}).items() if isinstance(v, list)}
    return PolicyInfo(policy_id, version, True, str(doc.get("title", "")), legal,
                      " ".join(str(doc.get("purpose", "")).split()), _area(doc.get("scope")),
                      disclosure)
