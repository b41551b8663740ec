"""Published policies: publish, revoke, and the in-force set the matching path uses.

The matcher verifies every policy itself before it publishes it (schema, semantic lint against
the catalogue, two officer signatures against its trust file, validity dates) with the
`policies` package, the same code the privacy officer's CLI and every gateway run. The active
set is read from the database in each transaction (a small indexed query), so a policy
published or revoked through one replica takes effect on all of them at once; parsed documents
and in-force verdicts are cached per digest and day.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from policies.in_force import in_force
from policies.model import Policy, parse_policy
from policies.trust import Trust
from services.matcher.schema import policies

ACTIVE = "active"
REVOKED = "revoked"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class ActivePolicy:
    row_id: int
    policy: Policy
    digest: str


class PolicyRegistry:
    def __init__(self, trust: Trust) -> None:
        self._trust = trust
        self._parsed: dict[str, Policy] = {}
        self._verdicts: dict[tuple[str, date], bool] = {}
        self._lock = threading.Lock()

    @property
    def trust(self) -> Trust:
        return self._trust

    def parsed(self, digest: str, document_json: str) -> Policy:
        with self._lock:
            found = self._parsed.get(digest)
        if found is None:
            found = parse_policy(json.loads(document_json))
            with self._lock:
                self._parsed[digest] = found
        return found

    def is_in_force(self, policy: Policy, digest: str, on: date) -> bool:
        key = (digest, on)
        with self._lock:
            cached = self._verdicts.get(key)
        if cached is None:
            cached = in_force(policy, self._trust, on).in_force
            with self._lock:
                if len(self._verdicts) > 10_000:
                    self._verdicts.clear()
                self._verdicts[key] = cached
        return cached

    def active(self, conn: sa.Connection, on: date) -> list[ActivePolicy]:
        """Published, not revoked, and in force on `on` (signatures and validity dates)."""
        rows = conn.execute(
            sa.select(policies.c.id, policies.c.digest, policies.c.document_json)
            .where(policies.c.state == ACTIVE)
            .order_by(policies.c.policy_id)
        ).all()
        out: list[ActivePolicy] = []
        for row_id, digest, document_json in rows:
            policy = self.parsed(digest, document_json)
            if self.is_in_force(policy, digest, on):
                out.append(ActivePolicy(int(row_id), policy, digest))
        return out

    def active_by_id(self, conn: sa.Connection, policy_id: str, on: date) -> ActivePolicy | None:
        for ap in self.active(conn, on):
            if ap.policy.id == policy_id:
                return ap
        return None
