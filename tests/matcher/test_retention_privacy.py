"""Retention purge, the audit trail it leaves, and no personal data anywhere in the matcher."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import sqlalchemy as sa
import structlog

from samenloop.v1 import audit_pb2, wijkteam_pb2
from services.common.logging import configure_logging
from services.matcher.purge import purge
from services.matcher.schema import ALL_TABLES, alerts, audit_events, household_links, signals
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, MUNICIPALITY, POLICE, TEAM, WGS, bsn
from tests.matcher.test_matching import _close


def rows(h: Harness, table: sa.Table) -> list[sa.Row]:  # type: ignore[type-arg]
    with h.matcher.engine.connect() as conn:
        return list(conn.execute(sa.select(table)).all())


def test_purge_expires_deletes_and_logs(matcher: Harness) -> None:
    matcher.publish_policy(id="bewaar", mode="standing", cooldown_days=0,
                           trigger__excluded_types=["drinkwater_achterstand"],
                           retention={"alert_days": 30})
    housing, gemeente = matcher.gateway(HOUSING), matcher.gateway(MUNICIPALITY)
    today = matcher.clock.today()
    # A veto that expires in 10 days (183-day retention), and two signals that would qualify.
    gemeente.submit(gemeente.signal("veto", "drinkwater_achterstand", household="3071AB 1",
                                    purpose=WGS, observed_on=today - timedelta(days=173)))
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1", purpose=WGS))
    gemeente.submit(gemeente.signal("g-1", "energie_achterstand", household="3071AB 1",
                                    purpose=WGS))
    # A withdrawn signal loses its subject at the next purge.
    housing.submit(housing.signal("h-2", "huurachterstand", household="3071AB 2", purpose=WGS))
    housing.withdraw("h-2")
    # Superseded household links go after link_retention_days (400).
    gemeente.submit_links(gemeente.link("l-1", bsn(1), "3071AB 3", today - timedelta(days=900)),
                          gemeente.link("l-2", bsn(1), "3071AB 4", today - timedelta(days=500)))
    assert rows(matcher, alerts) == []

    matcher.clock.advance(timedelta(days=11))
    report = purge(matcher.matcher)
    assert report.signals_expired == 1 and report.alerts_created == 1  # veto expired
    assert report.signals_scrubbed == 1 and report.links_deleted == 1
    withdrawn = next(r for r in rows(matcher, signals) if r.signal_id == "h-2")
    assert withdrawn.household_id is None and withdrawn.state == "withdrawn"
    assert [r.link_id for r in rows(matcher, household_links)] == ["l-2"]
    [alert] = list(matcher.team().ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=10).alerts)
    _close(matcher, alert.name)

    # Half a year on: the unmatched signals are gone; the alert's signals stay (12 months
    # after the alert); the closed alert outlives its 30-day retention and goes.
    matcher.clock.advance(timedelta(days=190))
    report = purge(matcher.matcher)
    assert report.alerts_deleted == 1 and report.deleted_alert_ids == [alert.name]
    remaining = {r.signal_id for r in rows(matcher, signals)}
    assert "veto" not in remaining and {"h-1", "g-1"} <= remaining
    matcher.clock.advance(timedelta(days=200))
    purge(matcher.matcher)
    assert rows(matcher, signals) == [] and rows(matcher, alerts) == []
    names = {r.name for r in rows(matcher, audit_events)}
    assert {"signal_expired", "signal_deleted", "alert_deleted"} <= names


def test_no_personal_data_in_tables_or_logs(matcher: Harness) -> None:
    stream = io.StringIO()
    configure_logging("matcher", level="DEBUG", stream=stream)
    try:
        matcher.publish_policy(id="privacy")
        housing, police, ggz = (matcher.gateway(HOUSING), matcher.gateway(POLICE),
                                matcher.gateway(GGZ))
        gemeente = matcher.gateway(MUNICIPALITY)
        person, house = bsn(42), "3071AB 12"
        gemeente.submit_links(gemeente.link("l-1", person, house, date(2020, 1, 1)))
        housing.submit(housing.signal("h-1", "huurachterstand", household=house))
        police.submit(police.signal("p-1", "huiselijk_geweld_incident", person=person,
                                    household=house))
        ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", person=person))
        police.inquire("privacy", house)
        [alert] = matcher.alert_names("privacy")
        secret = {"postcode": "3071AB", "huisnummer": "12", "geslachtsnaam": "Vermeulen",
                  "geboortedatum": "1980-02-29", "bsn": person}
        for client in (housing, police, ggz):
            for rr in client.pull():
                client.disclose(rr, secret)
        matcher.team().GetAlert(wijkteam_pb2.GetAlertRequest(name=alert), timeout=10)
        matcher.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(), timeout=10)
        housing.withdraw("h-1")
        purge(matcher.matcher)
    finally:
        configure_logging("matcher-tests", level="WARNING")
        structlog.reset_defaults()
        configure_logging("matcher-tests", level="WARNING")
    dump = io.BytesIO()
    for table in ALL_TABLES:
        for row in rows(matcher, table):
            for value in row:
                dump.write(value if isinstance(value, bytes) else
                           json.dumps(value, default=str).encode())
                dump.write(b"\n")
    data = dump.getvalue()
    logs = stream.getvalue()
    assert "signals_received" in logs  # the log was captured
    for needle in (person, "3071AB", "3071 AB", "Vermeulen", "1980-02-29", "19800229"):
        assert needle.encode() not in data, needle
        assert needle not in logs, needle
    assert TEAM.encode() in data  # sanity: the dump holds the tables' text


def test_the_server_purges_periodically(matcher: Harness) -> None:
    import time

    from services.matcher.server import serve

    housing = matcher.gateway(HOUSING)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    housing.withdraw("h-1")
    second = serve(matcher.matcher, bind="127.0.0.1:0", tls=matcher.pki.tls("matcher"),
                   purge_interval=0.2)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            [row] = rows(matcher, signals)
            if row.household_id is None:
                break
            time.sleep(0.1)
        assert row.household_id is None  # the withdrawn signal lost its subject
    finally:
        second.stop(0)
