"""The inbox through its CLI against a real matcher: list, show (sealed, then opened with a
reason), assign, decide, close; every step audited with the team member's id."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from samenloop.cli.main import app
from samenloop.v1 import audit_pb2
from tests.matcher.conftest import Harness
from tests.matcher.helpers import GGZ, HOUSING, POLICE
from tests.wijkteam.e2e import (
    POLICY,
    disclose,
    disclosure_keys,
    inbox_config,
    make_alert,
    needs_signed_disclosures,
    pending_for,
)
from tests.wijkteam.helpers import TEAM

runner = CliRunner()


def inbox(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["inbox", *args])
    return result.exit_code, result.output


def audit(h: Harness) -> list[audit_pb2.AuditEntry]:
    return list(h.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000),
                                             timeout=10).entries)


@needs_signed_disclosures
def test_the_case_flow_through_the_cli(matcher: Harness, tmp_path: Path) -> None:
    h = matcher
    h.publish_policy(id=POLICY)
    keys = disclosure_keys(matcher.pki)
    alert = make_alert(h, "3071AB 1", "111222333", "a")
    alert_id = alert.removeprefix("alerts/")
    config = str(inbox_config(tmp_path, h, TEAM, keys))
    base = ["--config", config, "--user", "u-17"]

    # Before anything is disclosed: listed and shown, no identity anywhere.
    code, out = inbox("alerts", *base)
    assert code == 0 and alert_id in out and "Samenloop test policy" in out
    assert "financien" in out and "GM0599" in out
    code, out = inbox("show", alert_id, *base, "--reason", "review_alert")
    assert code == 0 and "pending: 1 from housing" in out and "Jansen" not in out

    disclose(h.gateway(HOUSING), pending_for(h.gateway(HOUSING), alert),
             {"postcode": "3071AB", "huisnummer": "1", "geslachtsnaam": "Jansen"},
             keys.keys[HOUSING])
    h.gateway(POLICE).refuse(pending_for(h.gateway(POLICE), alert))
    disclose(h.gateway(GGZ), pending_for(h.gateway(GGZ), alert),
             {"contactpersoon": "Dr. Bakker"}, keys.keys[GGZ])

    # Without a reason the boxes stay sealed; the list never shows an identity.
    code, out = inbox("alerts", *base)
    assert code == 0 and "Jansen" not in out and "Bakker" not in out
    code, out = inbox("show", alert_id, *base)
    assert code == 0 and "Jansen" not in out
    assert "disclosure from woonstad-rotterdam (housing): sealed" in out
    assert "disclosure from politie-rotterdam (police): refused" in out
    # A reason that is not a code is refused before anything is opened.
    code, out = inbox("show", alert_id, *base, "--reason", "ik wil het weten")
    assert code == 1 and "view_reason must be a code" in out and "Jansen" not in out
    code, out = inbox("show", alert_id, *base, "--reason", "review_alert")
    assert code == 0 and "geslachtsnaam: Jansen" in out and "contactpersoon: Dr. Bakker" in out
    assert "policy: Samenloop test policy (inbox-e2e v1)" in out
    assert "legal basis: Wet aanpak meervoudige problematiek sociaal domein (Wams)" in out

    # Human in the loop: no decision before a regisseur, and only by that regisseur.
    code, out = inbox("decide", alert_id, *base, "--decision", "contact",
                      "--reason", "concerns_confirmed")
    assert code == 1 and "assign a regisseur first" in out
    code, out = inbox("assign", alert_id, "Jan de Vries", *base)
    assert code == 1 and "team-local user id" in out and "Jan" not in out.split("error")[0]
    code, out = inbox("assign", alert_id, "r-9", *base)
    assert code == 0 and "assigned to r-9" in out
    code, out = inbox("decide", alert_id, *base, "--decision", "contact",
                      "--reason", "concerns_confirmed")
    assert code == 1 and "only the assigned regisseur (r-9)" in out
    code, out = inbox("close", alert_id, "--config", config, "--user", "r-9",
                      "--outcome", "help_accepted")
    assert code == 1 and "FAILED_PRECONDITION" in out  # closing needs the decision first
    code, out = inbox("decide", alert_id, "--config", config, "--user", "r-9",
                      "--decision", "contact", "--reason", "concerns_confirmed")
    assert code == 0, out
    code, out = inbox("close", alert_id, "--config", config, "--user", "r-9",
                      "--outcome", "help_accepted")
    assert code == 0 and "closed (help_accepted)" in out
    code, out = inbox("alerts", *base, "--tab", "closed")
    assert code == 0 and alert_id in out

    # The matcher's audit log names the member for every step, and the identity view's reason.
    entries = [(e.name, dict(e.attributes)) for e in audit(h)
               if e.attributes.get("alert") == alert]
    seen = {(name, a.get("user"), a.get("view_reason")) for name, a in entries}
    assert ("alert_listed", "u-17", None) in seen
    assert ("alert_viewed", "u-17", None) in seen
    assert ("identity_viewed", "u-17", "review_alert") in seen
    assert ("alert_assigned", "u-17", None) in seen
    assert ("alert_reviewed", "r-9", None) in seen
    assert ("alert_closed", "r-9", None) in seen
    # Codes and ids only: no disclosed value reached the audit log.
    blob = b"".join(e.leaf for e in audit(h))
    assert b"Jansen" not in blob and b"Bakker" not in blob and b"3071AB" not in blob


def test_the_user_must_be_a_team_local_id(matcher: Harness, tmp_path: Path) -> None:
    keys = disclosure_keys(matcher.pki)
    config = str(inbox_config(tmp_path, matcher, TEAM, keys))
    code, out = inbox("alerts", "--config", config, "--user", "Jan de Vries")
    assert code == 1 and "error: user: must be the regisseur's team-local user id" in out


@pytest.mark.parametrize("password_line", ["kort\n", ""])
def test_user_add_refuses_short_passwords_from_stdin(
        matcher: Harness, tmp_path: Path, password_line: str) -> None:
    keys = disclosure_keys(matcher.pki)
    config = str(inbox_config(tmp_path, matcher, TEAM, keys))
    result = runner.invoke(app, ["inbox", "user", "add", "u-1", "--config", config],
                           input=password_line)
    assert result.exit_code == 1 and "at least 12 characters" in result.output
