"""Published policies: publish, revoke, and the in-force set the matching path uses.

The matcher verifies every policy itself before it publishes it (schema, semantic lint against
the catalogue, two officer signatures against its trust file, validity dates) with the
`policies` package, the same code the privacy officer's CLI and every gateway run. The active
set is read from the database in each transaction (a small indexed query), so a policy
published or revoked through one replica takes effect on all of them at once.

"In force" is decided again for every evaluation, on the evaluation day, under the trust file
as it is now: a policy stops matching the day after its `valid_until`, and as soon as the trust
file no longer holds enough of its signers (the file is re-read when it changes, and on SIGHUP;
`policies.trust_file`). Parsed documents are cached per digest; verdicts per digest, day and
trust-file generation, so a reload invalidates every cached verdict at once.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from policies.in_force import Verdict, in_force
from policies.model import Policy, parse_policy
from policies.trust import Trust
from policies.trust_file import TrustFile
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
    def __init__(self, trust: Trust | TrustFile, *, controller: str | None = None) -> None:
        """`trust`: a fixed set of officers, or the trust file to follow. `controller`: the
        organisation whose officers must be among a policy's approvers (None: not checked)."""
        self._trust = trust
        self.controller = controller
        self._parsed: dict[str, Policy] = {}
        self._verdicts: dict[tuple[str, date, int], bool] = {}
        self._lock = threading.Lock()

    def _snapshot(self) -> tuple[int, Trust]:
        if isinstance(self._trust, TrustFile):
            return self._trust.snapshot()
        return 0, self._trust

    @property
    def trust(self) -> Trust:
        """The officers as they are now (a changed trust file is re-read first)."""
        return self._snapshot()[1]

    def reload_trust(self) -> None:
        """Re-read the trust file now (SIGHUP); a fixed trust has nothing to reload."""
        if isinstance(self._trust, TrustFile):
            self._trust.reload()

    def verdict(self, policy: Policy, on: date, revoked: frozenset[str] = frozenset(),
                now: datetime | None = None) -> Verdict:
        """The full in-force verdict (with reasons) under the current trust file; `now`
        (aware) is the clock approvals' signing times are checked against."""
        return in_force(policy, self.trust, on, revoked, now=now, controller=self.controller)

    def parsed(self, digest: str, document_json: str) -> Policy:
        with self._lock:
            found = self._parsed.get(digest)
        if found is None:
            found = parse_policy(json.loads(document_json))
            with self._lock:
                self._parsed[digest] = found
        return found

    def is_in_force(self, policy: Policy, digest: str, on: date) -> bool:
        """In force on `on` under the trust file as it is now (cached per file generation)."""
        generation, trust = self._snapshot()
        key = (digest, on, generation)
        with self._lock:
            cached = self._verdicts.get(key)
        if cached is None:
            cached = in_force(policy, trust, on, controller=self.controller).in_force
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
