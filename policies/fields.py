"""Identity fields a policy may allow a gateway to disclose.

These are the canonical export columns held in a partner gateway's identity vault. A policy's
`disclosure` section names, per partner kind, a subset of them; nothing outside this list can
ever be disclosed, because the gateway seals only fields it finds here.
"""

from __future__ import annotations

from domain.formats.kinds import ADDRESS_COLUMNS, IDENTITY_COLUMNS

IDENTITY_FIELDS: tuple[str, ...] = ("bsn", *ADDRESS_COLUMNS, *IDENTITY_COLUMNS)
"""Every field a disclosure may name, in the order of the gateway's export columns."""

MENTAL_HEALTH_KIND = "mental_health"
"""The partner kind bound by medical professional secrecy (GGZ)."""

MENTAL_HEALTH_ALLOWED: frozenset[str] = frozenset({"contactpersoon"})
"""What a GGZ partner may disclose: the name of its contact person, never anything about the
client (no BSN, no address, no diagnosis). A policy asking for more does not lint."""
