"""The gateway's local audit log: append-only in the database, hash-chained, values never."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.store import open_store


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(open_store(f"sqlite:///{tmp_path / 'gateway.sqlite'}"))


def test_entries_chain_and_cannot_be_changed_or_deleted(log: AuditLog) -> None:
    log.append(events.DISCLOSED, request="revealRequests/a", policy="p@1", policy_digest="d" * 64,
               signal_id="s-1", fields=["geslachtsnaam", "postcode"])
    log.append(events.REFUSED, request="revealRequests/b", reason_code="signal_not_live")
    assert log.verify_chain() is None
    [first, second] = log.entries()
    assert first.fields == "geslachtsnaam,postcode" and second.reason_code == "signal_not_live"
    with log.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(sa.text("UPDATE audit_log SET reason_code = 'x' WHERE seq = 2"))
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 1"))


def test_a_rewritten_entry_breaks_the_chain(log: AuditLog) -> None:
    for n in range(3):
        log.append(events.DISCLOSED, request=f"revealRequests/{n}", fields=["postcode"])
    with log.engine.begin() as conn:  # someone with the database file drops the guard
        conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        conn.execute(sa.text("UPDATE audit_log SET fields = 'bsn' WHERE seq = 2"))
    assert log.verify_chain() == 2


def test_counts_of_todays_disclosures_per_policy(log: AuditLog) -> None:
    from datetime import date

    log.append(events.DISCLOSED, request="revealRequests/a", policy="wgs_wonen@1")
    log.append(events.DISCLOSED, request="revealRequests/a", policy="wgs_wonen@1")  # redelivered
    log.append(events.DISCLOSED, request="revealRequests/b", policy="wgsXwonen@1")
    log.append(events.REFUSED, request="revealRequests/c", policy="wgs_wonen@1")
    today = date.today()
    assert log.disclosed_on(today) == 2
    assert log.disclosed_on(today, "wgs_wonen") == 1  # `_` is no wildcard
