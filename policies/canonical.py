"""The policy digest: what officers sign and what every party pins.

    digest = hex(SHA-256(RFC 8785 canonical JSON of the document without `approvals`))

The document is the JSON form of the policy as written: every field the author wrote (defaults
are *not* filled in), dates as `YYYY-MM-DD` text. Adding or removing approvals never changes the
digest; changing any other character of any value does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from crypto.jcs import canonical_bytes
from policies.model import Policy


def signed_part(document: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of `document` without its `approvals`."""
    return {k: v for k, v in document.items() if k != "approvals"}


def canonical_form(document: Mapping[str, Any] | Policy) -> bytes:
    """RFC 8785 bytes of the document without approvals."""
    doc = document.signed_document() if isinstance(document, Policy) else signed_part(document)
    return canonical_bytes(doc)


def policy_digest(document: Mapping[str, Any] | Policy) -> str:
    """Hex SHA-256 of `canonical_form(document)`: the policy digest."""
    return hashlib.sha256(canonical_form(document)).hexdigest()
