"""Dutch by default, English on request; every text in both languages."""

from __future__ import annotations

from starlette.testclient import TestClient

from services.wijkteam.i18n import MESSAGES, Translator, missing_keys
from services.wijkteam.web import InboxApp
from tests.wijkteam.helpers import csrf_of


def test_both_languages_have_every_key() -> None:
    assert missing_keys() == {}
    assert set(MESSAGES) == {"nl", "en"}


def test_labels_come_from_the_code_lists_and_the_catalogue() -> None:
    nl, en = Translator("nl"), Translator("en")
    assert nl.code("view_reason", "prepare_contact") == "contact met het huishouden voorbereiden"
    assert en.code("view_reason", "prepare_contact") == "preparing contact with the household"
    assert nl.code("closure_outcome", "help_accepted") == "hulp aanvaard"
    assert nl.signal_type("huurachterstand") == "Huurachterstand (2 maanden of meer)"
    assert en.domain("financien") == "finances" and nl.domain("financien") == "financiën"
    assert nl.partner_kind("mental_health") == "GGZ-instelling"
    assert nl.refusal("REFUSAL_REASON_SIGNAL_NOT_LIVE") == "het signaal is niet meer actueel"
    assert Translator("fr").language == "nl"  # unknown language: the default


def test_the_page_is_dutch_by_default_and_switches_to_english(
        web: tuple[TestClient, InboxApp]) -> None:
    client, _ = web
    page = client.get("/login")
    assert '<html lang="nl">' in page.text and "<h1 class=\"utrecht-heading-1\">Inloggen</h1>" \
        in page.text
    # The switch names its language in that language.
    assert 'lang="en"' in page.text
    response = client.post("/language", data={"csrf": csrf_of(page.text), "language": "en",
                                              "next": "/login"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = client.get("/login")
    assert '<html lang="en">' in page.text and ">Log in</h1>" in page.text


def test_the_language_switch_does_not_redirect_off_site(
        web: tuple[TestClient, InboxApp]) -> None:
    client, _ = web
    page = client.get("/login")
    response = client.post("/language", data={"csrf": csrf_of(page.text), "language": "en",
                                              "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/alerts"
