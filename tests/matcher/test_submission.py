"""Submission over gRPC: idempotency, row-level rejection, repeats, withdrawal, household links."""

from __future__ import annotations

from datetime import date, timedelta

import grpc
import pytest
import sqlalchemy as sa

from samenloop.v1 import common_pb2, partner_pb2, wijkteam_pb2
from services.matcher.schema import household_links, signals
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, MUNICIPALITY, POLICE, WAMS, WGS, bsn

ACCEPTED = common_pb2.ROW_OUTCOME_ACCEPTED
DUPLICATE = common_pb2.ROW_OUTCOME_DUPLICATE
REJECTED = common_pb2.ROW_OUTCOME_REJECTED
NOT_INDICATED = partner_pb2.INQUIRY_ANSWER_NOT_INDICATED
INDICATED = partner_pb2.INQUIRY_ANSWER_COORDINATED_APPROACH_INDICATED


def count(h: Harness, table: sa.Table) -> int:
    with h.matcher.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_retried_batch_is_idempotent(matcher: Harness) -> None:
    housing = matcher.gateway(HOUSING)
    batch = [housing.signal(f"s-{i}", "huurachterstand", household=f"3071AB {i}")
             for i in range(1, 6)]
    first = housing.submit(*batch, batch_id="batch-1")
    assert [r.outcome for r in first.results] == [ACCEPTED] * 5
    assert first.counts.accepted == 5 and first.counts.received == 5
    again = housing.submit(*batch, batch_id="batch-1")
    assert [r.outcome for r in again.results] == [DUPLICATE] * 5
    assert {r.reason_code for r in again.results} == {"already_stored"}
    assert again.counts.duplicate == 5
    assert count(matcher, signals) == 5
    # The same signal_id from another partner is another signal.
    police = matcher.gateway(POLICE)
    other = police.submit(police.signal("s-1", "politie_herhaalde_inzet_adres",
                                        household="3071AB 1"))
    assert other.results[0].outcome == ACCEPTED
    # Within one batch, the second occurrence of an id is a duplicate.
    inner = housing.submit(housing.signal("s-9", "huurachterstand", household="3071AB 9"),
                           housing.signal("s-9", "huurachterstand", household="3071AB 9"))
    assert [r.outcome for r in inner.results] == [ACCEPTED, DUPLICATE]
    assert inner.results[1].reason_code == "duplicate_in_batch"


def test_rows_are_rejected_one_by_one_with_reasons(matcher: Harness) -> None:
    housing = matcher.gateway(HOUSING)
    good = housing.signal("ok", "huurachterstand", household="3071AB 1")
    unknown = housing.signal("bad-type", "huurachterstand", household="3071AB 1")
    unknown.signal_type = "geen_bestaand_type"
    wrong_kind = housing.signal("bad-kind", "ggz_crisiscontact", person=bsn(1))
    wrong_purpose = housing.signal("bad-purpose", "woonoverlast_melding", household="3071AB 1",
                                   purpose=WGS)
    unregistered = housing.signal("bad-reg", "huurachterstand", household="3071AB 1",
                                  purpose="iets-anders")
    no_subject = housing.signal("no-subject", "huurachterstand")
    needs_household = matcher.gateway(POLICE).signal("needs-hh", "politie_herhaalde_inzet_adres",
                                                     person=bsn(2))
    bad_date = housing.signal("bad-date", "huurachterstand", household="3071AB 1")
    bad_date.observed_on = "2026-02-30"
    future = housing.signal("future", "huurachterstand", household="3071AB 1",
                            observed_on=date.today() + timedelta(days=3))
    too_old = housing.signal("too-old", "huurachterstand", household="3071AB 1",
                             days_ago=400)
    bad_key = housing.signal("bad-key", "huurachterstand", household="3071AB 1")
    bad_key.household.key_id = "voprf:0000000000000000"
    short = housing.signal("short", "huurachterstand", household="3071AB 1")
    short.household.voprf_output = b"\x01" * 32
    bad_area = housing.signal("bad-area", "huurachterstand", household="3071AB 1",
                              area_code="3071AB")
    bad_id = housing.signal("bad id with spaces", "huurachterstand", household="3071AB 1")
    rows = [good, unknown, wrong_kind, wrong_purpose, unregistered, no_subject, bad_date,
            future, too_old, bad_key, short, bad_area, bad_id]
    response = housing.submit(*rows)
    got = [(r.id, r.outcome, r.reason_code) for r in response.results]
    assert got == [
        ("ok", ACCEPTED, ""),
        ("bad-type", REJECTED, "unknown_signal_type"),
        ("bad-kind", REJECTED, "type_not_allowed_for_partner_kind"),
        ("bad-purpose", REJECTED, "purpose_not_allowed_for_type"),
        ("bad-reg", REJECTED, "purpose_not_allowed"),
        ("no-subject", REJECTED, "missing_pseudonym"),
        ("bad-date", REJECTED, "invalid_date"),
        ("future", REJECTED, "observed_in_future"),
        ("too-old", REJECTED, "expired"),
        ("bad-key", REJECTED, "unknown_pseudonymiser_key"),
        ("short", REJECTED, "invalid_pseudonym"),
        ("bad-area", REJECTED, "invalid_area_code"),
        ("bad id with spaces", REJECTED, "invalid_signal_id"),
    ]
    assert all(r.reason for r in response.results[1:])
    assert response.counts.accepted == 1 and response.counts.rejected == 12
    police = matcher.gateway(POLICE)
    r = police.submit(needs_household)
    assert r.results[0].reason_code == "missing_pseudonym"
    assert count(matcher, signals) == 1


def test_non_escalated_repeat_refreshes_escalated_repeat_counts(matcher: Harness) -> None:
    matcher.publish_policy(id="drie-signalen", trigger__min_signals=3)
    housing = matcher.gateway(HOUSING)
    police = matcher.gateway(POLICE)
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 5"))
    housing.submit(housing.signal("a-1", "woonoverlast_melding", household="3071AB 5",
                                  days_ago=20))
    repeat = housing.submit(housing.signal("a-2", "woonoverlast_melding", household="3071AB 5",
                                           days_ago=2))
    assert repeat.results[0].outcome == ACCEPTED
    assert repeat.results[0].reason_code == "refreshed"
    with matcher.matcher.engine.connect() as conn:
        rows = conn.execute(sa.select(signals.c.signal_id, signals.c.state,
                                      signals.c.observed_on).order_by(signals.c.id)).all()
    assert [(r.signal_id, r.state) for r in rows] == [
        ("p-1", "live"), ("a-1", "live"), ("a-2", "merged")]
    assert rows[1].observed_on == date.today() - timedelta(days=2)  # the date was refreshed
    # The refresh did not add a signal: two signals, three needed.
    assert police.inquire("drie-signalen", "3071AB 5").answer == NOT_INDICATED
    escalated = housing.submit(housing.signal("a-3", "woonoverlast_melding",
                                              household="3071AB 5", escalated=True))
    assert escalated.results[0].reason_code == "escalated"
    assert police.inquire("drie-signalen", "3071AB 5").answer == INDICATED


def test_withdrawal_stops_counting_at_once(matcher: Harness) -> None:
    matcher.publish_policy(id="wams-twee")
    housing, police = matcher.gateway(HOUSING), matcher.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 7"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 7"))
    result = housing.withdraw("h-1", "nope")
    assert [(r.id, r.outcome) for r in result.results] == [("h-1", ACCEPTED), ("nope", REJECTED)]
    assert result.results[1].reason_code == "unknown_signal"
    assert housing.withdraw("h-1").results[0].outcome == DUPLICATE
    # Only the police signal is left: one domain pair, not met.
    assert police.inquire("wams-twee", "3071AB 7").answer == NOT_INDICATED
    # ... and housing, whose only signal there is withdrawn, is no longer involved.
    assert housing.inquire("wams-twee", "3071AB 7").answer == NOT_INDICATED
    police.submit(police.signal("p-2", "huiselijk_geweld_incident", household="3071AB 7"))
    assert police.inquire("wams-twee", "3071AB 7").answer == INDICATED
    # Another partner cannot withdraw it.
    assert police.withdraw("h-1").results[0].reason_code == "unknown_signal"


def test_person_signals_count_for_the_linked_household(matcher: Harness) -> None:
    matcher.publish_policy(id="wams-personen")
    gemeente, police, ggz = (matcher.gateway(MUNICIPALITY), matcher.gateway(POLICE),
                             matcher.gateway(GGZ))
    today = date.today()
    # The person moved: lived at 12 until 30 days ago, at 14 since.
    links = gemeente.submit_links(
        gemeente.link("l-1", bsn(1), "3071AB 12", today - timedelta(days=400)),
        gemeente.link("l-2", bsn(1), "3071AB 14", today - timedelta(days=30)),
    )
    assert [r.outcome for r in links.results] == [ACCEPTED, ACCEPTED]
    assert gemeente.submit_links(gemeente.link("l-1", bsn(1), "3071AB 12",
                                               today - timedelta(days=400))
                                 ).results[0].outcome == DUPLICATE
    ggz.submit(ggz.signal("g-1", "ggz_crisiscontact", person=bsn(1), days_ago=5))
    police.submit(police.signal("p-1", "middelen_incident", person=bsn(1), days_ago=60))
    # Only the crisis contact (after the move) lands on 14; the incident lands on 12: so GGZ
    # is involved at 14 only, the police at 12 only (involvement through the person's link).
    assert ggz.inquire("wams-personen", "3071AB 14").answer == NOT_INDICATED
    assert police.inquire("wams-personen", "3071AB 12").answer == NOT_INDICATED
    # A second person at 14 with a signal makes 14 meet the trigger.
    gemeente.submit_links(gemeente.link("l-3", bsn(2), "3071AB 14", today - timedelta(days=90)))
    police.submit(police.signal("p-2", "huiselijk_geweld_incident", person=bsn(2), days_ago=3))
    assert ggz.inquire("wams-personen", "3071AB 14").answer == INDICATED
    [alert] = matcher.team().ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=10).alerts
    assert set(alert.domains) == {"geestelijke_gezondheid", "huiselijke_relaties", "justitie"}
    # A person signal submitted before its link counts once the link arrives.
    ggz.submit(ggz.signal("g-2", "ggz_zorgmijding", person=bsn(3), days_ago=3))
    police.submit(police.signal("p-3", "verward_gedrag_e33", person=bsn(3), days_ago=3))
    assert ggz.inquire("wams-personen", "3071AB 16").answer == NOT_INDICATED
    gemeente.submit_links(gemeente.link("l-4", bsn(3), "3071AB 16", today - timedelta(days=10)))
    assert ggz.inquire("wams-personen", "3071AB 16").answer == INDICATED
    assert count(matcher, household_links) == 4


def test_only_the_municipality_sends_household_links(matcher: Harness) -> None:
    housing = matcher.gateway(HOUSING)
    with pytest.raises(grpc.RpcError) as err:
        housing.submit_links(housing.link("l-1", bsn(1), "3071AB 12", date.today()))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "municipality" in (err.value.details() or "")


def test_oversized_batch_is_refused_whole(matcher: Harness) -> None:
    housing = matcher.gateway(HOUSING)
    s = housing.signal("x", "huurachterstand", household="3071AB 1")
    rows = []
    for i in range(10_001):
        c = partner_pb2.Signal()
        c.CopyFrom(s)
        c.signal_id = f"x-{i}"
        rows.append(c)
    with pytest.raises(grpc.RpcError) as err:
        housing.submit(*rows)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert count(matcher, signals) == 0
    _ = WAMS
