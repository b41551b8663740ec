"""First end-to-end flow: publish a standing policy, submit signals, get one alert."""

from __future__ import annotations

from samenloop.v1 import common_pb2, wijkteam_pb2
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, MUNICIPALITY, WGS


def test_standing_policy_creates_one_alert(matcher: Harness) -> None:
    matcher.publish_policy(mode="standing")
    housing = matcher.gateway(HOUSING)
    gemeente = matcher.gateway(MUNICIPALITY)
    r = housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 12", purpose=WGS))
    assert [x.outcome for x in r.results] == [common_pb2.ROW_OUTCOME_ACCEPTED]
    r = gemeente.submit(gemeente.signal("m-1", "energie_achterstand", household="3071AB 12",
                                        purpose=WGS))
    assert [x.outcome for x in r.results] == [common_pb2.ROW_OUTCOME_ACCEPTED], r
    alerts = matcher.team().ListAlerts(wijkteam_pb2.ListAlertsRequest(), timeout=10).alerts
    assert len(alerts) == 1
