"""The web app against a real matcher (no browser): the case flow through CSRF-protected forms,
an unsigned box refused and reported, another team shut out, each step audited with the user."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from starlette.testclient import TestClient

from crypto.sealing import seal
from samenloop.v1 import audit_pb2, common_pb2, partner_pb2
from services.matcher.schema import disclosures
from services.wijkteam.accounts import AccountStore
from services.wijkteam.inbox import Inbox
from services.wijkteam.settings import load_inbox_settings
from services.wijkteam.web import InboxApp
from tests.matcher.conftest import Harness
from tests.matcher.helpers import HOUSING, OTHER_TEAM
from tests.wijkteam.e2e import (
    POLICY,
    disclose,
    disclosure_keys,
    disclosure_row,
    inbox_config,
    make_alert,
    pending_for,
    sqlite_db_url,  # noqa: F401 - the matcher on SQLite only
)
from tests.wijkteam.helpers import PASSWORD, TEAM, csrf_of


@contextmanager
def web_client(config: Path, user: str) -> Iterator[TestClient]:
    """The inbox app for `config`, logged in as `user` (a local account made here)."""
    settings = load_inbox_settings(config)
    AccountStore(settings.users_file).add(user, PASSWORD)
    inbox = Inbox(settings)
    with TestClient(InboxApp(settings, inbox).app(), base_url="http://127.0.0.1:8470") as c:
        page = c.get("/login")
        c.post("/login", data={"csrf": csrf_of(page.text), "user": user, "password": PASSWORD})
        yield c
    inbox.close()


def post(client: TestClient, path: str, **fields: str) -> str:
    page = client.get(path.rsplit("/", 1)[0])
    response = client.post(path, data={"csrf": csrf_of(page.text), **fields})
    assert response.status_code == 200, response.text
    return response.text


def test_the_case_flow_in_the_web_app(matcher: Harness, tmp_path: Path) -> None:
    h = matcher
    h.publish_policy(id=POLICY)
    keys = disclosure_keys(matcher.pki)
    alert = make_alert(h, "3071AB 1", "111222333", "w")
    alert_id = alert.removeprefix("alerts/")
    # A gateway that does not sign: the matcher refuses its box (ADR 0029).
    housing = h.gateway(HOUSING)
    rr = pending_for(housing, alert)
    doc = housing.verify(rr)
    box = seal(doc["recipient_public_key"], json.dumps({"geslachtsnaam": "Jansen"}).encode())
    with pytest.raises(grpc.RpcError) as refused:
        housing.stub.SubmitDisclosure(partner_pb2.SubmitDisclosureRequest(
            reveal_request=doc["name"], sealed=common_pb2.SealedBox(
                ciphertext=box, recipient_public_key=doc["recipient_public_key"])), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A compromised matcher puts it in place of the signed answer: the box opens with the
    # team's key, but nothing proves who sealed it, so the inbox must not show it.
    disclose(housing, rr, {"geslachtsnaam": "Jansen"}, keys.keys[HOUSING])
    row = disclosure_row(h, alert, HOUSING)
    with h.matcher.engine.begin() as conn:
        conn.execute(disclosures.update().where(disclosures.c.id == row.id).values(
            ciphertext=box, signature=None, signature_key_id=None))

    with web_client(inbox_config(tmp_path / "team", h, TEAM, keys), "u-17") as client:
        listing = client.get("/alerts").text
        assert alert_id in listing and "Samenloop test policy" in listing
        assert "Jansen" not in listing
        page = client.get(f"/alerts/{alert_id}").text
        assert "Jansen" not in page and "Reden om de gegevens in te zien" in page
        page = post(client, f"/alerts/{alert_id}/view", view_reason="review_alert")
        assert "Verstrekking kon niet worden geverifieerd" in page and "Jansen" not in page
        # Free text is not a reason.
        page = post(client, f"/alerts/{alert_id}/view", view_reason="nieuwsgierig")
        assert "De invoer is niet geldig." in page
        # No decision form before a regisseur; then one regisseur, decision, closing.
        assert 'action="/alerts/' + alert_id + '/decide"' not in page
        page = post(client, f"/alerts/{alert_id}/assign", regisseur="Jan de Vries")
        assert "De invoer is niet geldig." in page and "Jan de Vries" not in page
        page = post(client, f"/alerts/{alert_id}/assign", regisseur="u-17")
        assert "Regisseur toegewezen." in page
        page = post(client, f"/alerts/{alert_id}/decide", decision="no_contact",
                    reason="help_already_in_place")
        assert "Besluit vastgelegd." in page and "geen contact" in page
        page = post(client, f"/alerts/{alert_id}/close", outcome="already_in_care")
        assert "Signaal afgesloten." in page and "al in zorg" in page
        assert alert_id in client.get("/alerts?tab=closed").text
        assert alert_id not in client.get("/alerts?tab=new").text

    with web_client(inbox_config(tmp_path / "other", h, OTHER_TEAM, keys), "u-1") as other:
        assert alert_id not in other.get("/alerts").text
        missing = other.get(f"/alerts/{alert_id}")
        assert missing.status_code == 404 and "niet voor uw team" in missing.text

    entries = [(e.name, dict(e.attributes)) for e in h.auditor().ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_size=1000), timeout=10).entries]
    mine = {(n, a.get("user")) for n, a in entries if a.get("alert") == alert}
    for event in ("alert_listed", "alert_viewed", "identity_viewed", "disclosure_unverified",
                  "alert_assigned", "alert_reviewed", "alert_closed"):
        assert (event, "u-17") in mine, event
    assert not [n for n, a in entries if a.get("user") == "u-1"]
    assert not re.search(rb"Jansen", b"".join(
        e.leaf for e in h.auditor().ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1000), timeout=10).entries))
