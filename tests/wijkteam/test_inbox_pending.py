"""The inbox's alert detail against a real matcher: what it still waits for, and the signal
each disclosure is about (issue 15).

`pending` counts only reveal requests the matcher still expects an answer to: a request
cancelled because its signal was withdrawn is not waited for. Each disclosure names its signal;
an opened box must name the same signal as the matcher, or it is not shown.
"""

from __future__ import annotations

from pathlib import Path

from services.matcher.schema import reveal_requests
from services.wijkteam.inbox import Inbox
from services.wijkteam.settings import load_inbox_settings
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, POLICE
from tests.wijkteam.e2e import (
    POLICY,
    disclose,
    disclosure_keys,
    inbox_config,
    make_alert,
    pending_for,
    sqlite_db_url,  # noqa: F401 - the matcher on SQLite only
)
from tests.wijkteam.helpers import TEAM


def test_pending_drops_cancelled_requests_and_disclosures_name_their_signal(
        matcher: Harness, tmp_path: Path) -> None:
    h = matcher
    h.publish_policy(id=POLICY)
    keys = disclosure_keys(h.pki)
    alert = make_alert(h, "3071AB 7", "111222333", "p")
    inbox = Inbox(load_inbox_settings(inbox_config(tmp_path, h, TEAM, keys)))
    try:
        assert inbox.alert("u-1", alert).pending == (
            ("housing", 1), ("mental_health", 1), ("police", 1))
        housing = h.gateway(HOUSING)
        disclose(housing, pending_for(housing, alert), {"geslachtsnaam": "Jansen"},
                 keys.keys[HOUSING])
        h.gateway(POLICE).withdraw("p-p")  # the matcher cancels the police request
        detail = inbox.alert("u-1", alert)
        assert detail.pending == (("mental_health", 1),)
        [sealed] = detail.disclosures
        assert (sealed.partner_kind, sealed.status, sealed.signal_id) == (
            "housing", "sealed", "h-p")
        [opened] = inbox.alert("u-1", alert, view_reason="review_alert").disclosures
        assert (opened.status, opened.signal_id, opened.values) == (
            "opened", "h-p", {"geslachtsnaam": "Jansen"})
        # A matcher that names another signal than the box does: the box is not shown.
        with h.matcher.engine.begin() as conn:
            conn.execute(reveal_requests.update().where(reveal_requests.c.signal_id == "h-p")
                         .values(signal_id="h-other"))
        [moved] = inbox.alert("u-1", alert, view_reason="review_alert").disclosures
        assert (moved.status, moved.values) == ("unverified", {})
    finally:
        inbox.close()
