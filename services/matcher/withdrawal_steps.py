"""The steps of WithdrawSignals, in the order `IngestUseCases.withdraw_signals` runs them.

check reason codes → find the partner's signals → lock their persons and households →
withdraw each (with the repeats merged into it) → cancel their pending reveal requests → audit
→ evaluate (`matching.evaluate_standing`). The steps taking a connection run inside the batch's
one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.codes import load_codes
from services.matcher import audit, store
from services.matcher.core import check_code
from services.matcher.schema import LIVE, MERGED, WITHDRAWN, signals
from services.matcher.views import ACCEPTED, DUPLICATE, REJECTED, RowOutcome


def check_reasons(withdrawals: Sequence[tuple[str, str]]) -> None:
    """A reason is optional, but a code from the list when given (never free text)."""
    reasons = load_codes().withdrawal_reason
    for i, (_, code) in enumerate(withdrawals):
        if code:
            check_code(reasons, code, f"withdrawals[{i}].reason_code")


def find(conn: sa.Connection, partner: str, signal_ids: Sequence[str]) -> dict[str, Any]:
    """signal_id -> the partner's signal row (ids, subjects, date, purpose, type)."""
    found = {}
    for part in store.chunks(sorted(set(signal_ids))):
        for r in conn.execute(
            sa.select(signals.c.id, signals.c.signal_id, signals.c.household_id,
                      signals.c.person_id, signals.c.observed_on, signals.c.purpose,
                      signals.c.signal_type)
            .where(signals.c.partner == partner, signals.c.signal_id.in_(part))
        ):
            found[str(r.signal_id)] = r
    return found


@dataclass
class Withdrawn:
    out: list[RowOutcome] = field(default_factory=list)
    rows: list[tuple[Any, str]] = field(default_factory=list)
    """(signal row, reason code) of each signal this batch withdrew, in batch order."""

    @property
    def ids(self) -> list[int]:
        return [int(r.id) for r, _ in self.rows]


def withdraw(conn: sa.Connection, withdrawals: Sequence[tuple[str, str]],
             found: Mapping[str, Any], now: datetime) -> Withdrawn:
    """Withdraw each listed signal that is live (and its merged repeats); an outcome per row."""
    done = Withdrawn()
    seen: set[str] = set()
    for sid, reason_code in withdrawals:
        r = found.get(sid)
        if r is None:
            done.out.append(RowOutcome(sid, REJECTED, "unknown_signal",
                                       "no signal with this signal_id from this partner"))
            continue
        if sid in seen:
            done.out.append(RowOutcome(sid, DUPLICATE, "duplicate_in_batch",
                                       "the same signal_id appears earlier in this batch"))
            continue
        seen.add(sid)
        result = conn.execute(
            signals.update()
            .where(sa.or_(signals.c.id == r.id, signals.c.merged_into == r.id),
                   signals.c.state.in_([LIVE, MERGED]))
            .values(state=WITHDRAWN, withdrawn_at=now, withdraw_reason=reason_code or None,
                    updated_at=now)
        )
        if not result.rowcount:
            done.out.append(RowOutcome(sid, DUPLICATE, "not_live",
                                       "already withdrawn, expired or purged; nothing changed"))
            continue
        done.rows.append((r, reason_code))
        done.out.append(RowOutcome(sid, ACCEPTED))
    return done


def audit_events(partner: str, done: Withdrawn,
                 subject_keys: Mapping[int, list[tuple[str, str]]]) -> list[audit.AuditEvent]:
    """One `signal_withdrawn` entry per data subject of each withdrawn signal."""
    events = []
    for r, reason_code in done.rows:
        attrs = {"partner": partner, "signal_id": str(r.signal_id),
                 "signal_type": r.signal_type, "reason_code": reason_code or ""}
        for key, kind in subject_keys.get(int(r.id), []):
            events.append(audit.AuditEvent("signal_withdrawn", r.purpose, key, kind, attrs,
                                           purpose=r.purpose))
    return events
