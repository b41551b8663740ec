"""`samenloop audit subject` at a gateway, against real pseudonymiser and matcher processes.

A housing gateway sends two signals about one person at one address under a standing policy
that flags the household; the entries an officer gets back are checked against what was sent
(signal ids, partner, event names), per officer scope: the housing corporation's officer sees
its own part, the controller's officer also the alert. The letter is in Dutch and holds no
identity, no pseudonym and no id of anyone; no output or log holds the BSN or the address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from samenloop.cli.main import app
from services.common.logging import configure_logging
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.store import open_store
from tests.gateway.conftest import Deployment, MatcherProcess, gateway_config
from tests.gateway.test_disclosure import EXPORT, publish

BSN, POSTCODE, NAME, PHONE = "999990007", "3072AB", "Jansen", "0612345678"
HOUSING_OFFICER, CONTROLLER_OFFICER = "po-woonstad-rotterdam", "fg-gemeente-rotterdam"

pytestmark = pytest.mark.slow  # a matcher process and an ingest for the module (about 10 s)


@pytest.fixture(scope="module")
def sent(deployment: Deployment, shared_matcher: MatcherProcess,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two housing signals (h-1, h-2) for one person at 3072AB 14, flagged by a standing
    policy; gateway configurations for the housing corporation and the municipality."""
    tmp = tmp_path_factory.mktemp("subject")
    publish(deployment, shared_matcher)
    housing = gateway_config(deployment, tmp / "housing", "housing", shared_matcher.target,
                             mapping=None)
    export = tmp / "export.csv"
    export.write_text(EXPORT.format(d=(date.today() - timedelta(days=3)).isoformat()))
    done = CliRunner().invoke(app, ["gateway", "ingest", str(export), "--config", str(housing)])
    configure_logging("gateway-tests", level="WARNING")
    assert done.exit_code == 0, done.output
    municipality = gateway_config(deployment, tmp / "gemeente", "municipality",
                                  shared_matcher.target, mapping=None)
    return {"housing": housing, "municipality": municipality, "tmp": tmp}


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def subject(deployment: Deployment, config: Path, officer: str, *args: str) -> Done:
    """`samenloop audit subject …` in this process (the services it calls are processes)."""
    result = CliRunner().invoke(app, [
        "audit", "subject", "--config", str(config), "--tls-dir", str(deployment.pki.directory),
        "--tls-name", officer, *args])
    configure_logging("gateway-tests", level="WARNING")  # off the runner's closed stream
    return Done(result.exit_code, result.stdout, result.stderr)


def entries(done: Done) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_an_officer_gets_every_entry_about_the_household_within_their_scope(
        deployment: Deployment, sent: dict[str, Path]) -> None:
    own = entries(subject(deployment, sent["housing"], HOUSING_OFFICER,
                          "--address", "3072 ab 14", "--format", "json"))
    received = [e for e in own if e["name"] == "signal_received"]
    assert sorted(e["attributes"]["signal_id"] for e in received) == ["h-1", "h-2"]
    assert {e["actor"]["organisation"] for e in own} == {"woonstad-rotterdam"}
    assert "alert_created" not in {e["name"] for e in own}  # another partner's view of it
    assert {e["data_subject_id_type"] for e in received} == {"household_pseudonym"}
    # the controller's officer, at the municipality's gateway, sees the alert as well
    whole = entries(subject(deployment, sent["municipality"], CONTROLLER_OFFICER,
                            "--address", "3072AB 14", "--format", "json"))
    names = [e["name"] for e in whole]
    assert names.count("signal_received") == 2 and "alert_created" in names
    # every lookup is itself an entry about the subject: the housing officer's just now
    assert any(e["name"] == "subject_looked_up" and e["actor"]["role"] == "privacy_officer"
               and e["actor"]["organisation"] == "woonstad-rotterdam" for e in whole)
    # the person: the signals carried the BSN, so they are about the person too
    person = entries(subject(deployment, sent["housing"], HOUSING_OFFICER,
                             "--bsn", BSN, "--format", "json"))
    assert sorted(e["attributes"]["signal_id"] for e in person
                  if e["name"] == "signal_received") == ["h-1", "h-2"]
    assert {e["data_subject_id_type"] for e in person if e["name"] == "signal_received"} \
        == {"person_pseudonym"}


def test_the_letter_is_dutch_and_holds_no_identity_pseudonym_or_id(
        deployment: Deployment, sent: dict[str, Path]) -> None:
    letter = sent["tmp"] / "brief.html"
    done = subject(deployment, sent["municipality"], CONTROLLER_OFFICER, "--address",
                   "3072AB 14", "--format", "html", "--out", str(letter))
    assert done.returncode == 0, done.stderr
    html = letter.read_text()
    assert '<html lang="nl">' in html and "artikel 15" in html
    assert html.count("gaf een signaal door: Huurachterstand (2 maanden of meer)") == 1
    assert "gaf een signaal door: Ontruiming aangezegd" in html
    assert "<td>Vroegsignalering van schulden</td>" in html  # the export's purpose, in Dutch
    assert "waarschuwde het wijkteam" in html  # the alert, for the controller's officer
    assert "Wat in deze brief niet staat" not in html  # the controller sees the whole log
    raw = entries(subject(deployment, sent["municipality"], CONTROLLER_OFFICER,
                          "--address", "3072AB 14", "--format", "json"))
    ids = {e["data_subject_id"] for e in raw} | {e["trace_id"] for e in raw} \
        | {e["span_id"] for e in raw}
    for value in (BSN, POSTCODE, "3072 AB", NAME, PHONE, *ids):
        assert value not in html, value
    # a partner's officer is told the letter shows only their organisation's part
    partner_letter = subject(deployment, sent["housing"], HOUSING_OFFICER, "--bsn", BSN,
                             "--format", "html")
    assert "Wat in deze brief niet staat" in partner_letter.stdout


def test_only_an_officer_of_the_gateways_own_organisation_may_ask(
        deployment: Deployment, sent: dict[str, Path]) -> None:
    other = subject(deployment, sent["housing"], CONTROLLER_OFFICER, "--bsn", BSN)
    assert other.returncode == 2 and other.stdout == ""
    assert other.stderr.count("\n") == 1
    assert "the officer is of gemeente-rotterdam, this gateway of woonstad-rotterdam" \
        in other.stderr
    gateway = subject(deployment, sent["housing"], "gateway-woonstad-rotterdam", "--bsn", BSN)
    assert gateway.returncode == 2 and "needs a privacy officer's certificate" in gateway.stderr
    invalid = subject(deployment, sent["housing"], HOUSING_OFFICER, "--bsn", "123456789")
    assert invalid.returncode == 2 and BSN not in invalid.stderr


def test_lookups_are_in_the_gateways_own_log_without_identity(
        deployment: Deployment, sent: dict[str, Path]) -> None:
    done = subject(deployment, sent["housing"], HOUSING_OFFICER, "--address", "3072AB 14")
    assert done.returncode == 0 and "signal_received" in done.stdout
    data = sent["housing"].parent / "data"
    log = AuditLog(open_store(f"sqlite:///{data / 'gateway.sqlite'}"))
    lookups = log.entries(events.SUBJECT_LOOKED_UP)
    assert lookups and {e.actor for e in lookups} == {HOUSING_OFFICER}
    assert "subject_type=household" in {e.fields.split(",")[0] for e in lookups}
    assert log.verify_chain() is None
    log.engine.dispose()
    for text in (done.stdout, done.stderr, *(e.fields for e in lookups)):
        for value in (BSN, POSTCODE, "3072 AB", NAME):
            assert value not in text
