"""The inbox's words in Dutch (default) and English.

UI text lives in `MESSAGES`; coded values take their labels from where they are defined: the
code lists (domain/codes.yaml), the signal catalogue (domain/catalogue.yaml), and the life
domains and partner kinds below. A key missing in one language is a bug that the unit tests
catch (`missing_keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from domain.catalogue import load_catalogue
from domain.codes import load_codes

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"

MESSAGES: dict[str, dict[str, str]] = {
    "nl": {
        "app.title": "Wijkteam-inbox",
        "skip": "Naar de inhoud",
        "nav.alerts": "Signalen",
        "nav.logout": "Uitloggen",
        "nav.language": "English",
        "nav.language.label": "Switch to English",
        "nav.user": "Ingelogd als",
        "login.title": "Inloggen",
        "login.user": "Gebruikers-id",
        "login.password": "Wachtwoord",
        "login.submit": "Inloggen",
        "login.failed": "Gebruikers-id of wachtwoord onjuist.",
        "login.throttled": "Te veel mislukte pogingen. Probeer het over enkele minuten opnieuw.",
        "login.proxy": "Inloggen gaat via de portal van uw organisatie.",
        "list.title": "Signalen voor het team",
        "list.intro": "Op deze lijst staan geen persoonsgegevens. Open een signaal om te zien "
                      "wat de partners hebben verstrekt.",
        "list.empty": "Geen signalen.",
        "list.col.alert": "Signaal",
        "list.col.policy": "Beleid",
        "list.col.domains": "Leefgebieden",
        "list.col.date": "Datum",
        "list.col.area": "Gebied",
        "list.col.regisseur": "Regisseur",
        "tab.new": "Nieuw",
        "tab.assigned": "Toegewezen",
        "tab.closed": "Afgesloten",
        "state.open": "nieuw",
        "state.assigned": "toegewezen",
        "state.reviewed": "besluit vastgelegd",
        "state.closed": "afgesloten",
        "alert.title": "Signaal",
        "alert.back": "Terug naar de lijst",
        "alert.state": "Status",
        "alert.created": "Ontstaan op",
        "alert.area": "Gebied",
        "alert.policy": "Beleid",
        "alert.legal_basis": "Wettelijke grondslag",
        "alert.purpose": "Doel",
        "alert.policy_unverified": "De beleidstekst kon niet worden gecontroleerd en wordt "
                                   "niet getoond.",
        "alert.domains": "Leefgebieden",
        "alert.partner_kinds": "Betrokken soorten partners",
        "alert.signals": "Signalen",
        "alert.signal_type": "Soort signaal",
        "alert.partner_kind": "Partner",
        "alert.observed_on": "Waargenomen op",
        "alert.disclosures": "Verstrekte gegevens",
        "alert.identity_hidden": "De verstrekte gegevens worden pas getoond nadat u aangeeft "
                                 "waarom u ze inziet. Dat wordt vastgelegd in het logboek.",
        "alert.view_reason": "Reden om de gegevens in te zien",
        "alert.view_submit": "Gegevens tonen",
        "alert.no_disclosures": "Nog geen gegevens verstrekt.",
        "alert.from": "Van",
        "alert.field": "Gegeven",
        "alert.value": "Waarde",
        "alert.pending": "Wacht op verstrekking",
        "alert.refused": "Verstrekking geweigerd",
        "alert.unverified": "Verstrekking kon niet worden geverifieerd",
        "alert.unverified.help": "Deze gegevens worden niet getoond: ze zijn niet aantoonbaar "
                                 "door de partner voor dit signaal verstrekt. Dit is gemeld in "
                                 "het logboek.",
        "alert.regisseur": "Regisseur",
        "alert.no_regisseur": "nog niet toegewezen",
        "alert.decision": "Besluit",
        "alert.outcome": "Uitkomst",
        "alert.no_contact_yet": "Neem geen contact op met het huishouden voordat de regisseur "
                                "het signaal heeft beoordeeld en het besluit heeft vastgelegd.",
        "action.title": "Acties",
        "action.assign": "Regisseur toewijzen",
        "action.assign.user": "Gebruikers-id van de regisseur",
        "action.assign.help": "Eén regisseur per gezin. Gebruik het gebruikers-id, geen naam.",
        "action.assign.submit": "Toewijzen",
        "action.decide": "Besluit na beoordeling",
        "action.decide.decision": "Besluit",
        "action.decide.reason": "Reden",
        "action.decide.submit": "Besluit vastleggen",
        "action.decide.only_regisseur": "Alleen de toegewezen regisseur legt het besluit vast.",
        "action.close": "Afsluiten",
        "action.close.outcome": "Uitkomst",
        "action.close.submit": "Signaal afsluiten",
        "decision.contact": "contact opnemen met het huishouden",
        "decision.no_contact": "geen contact",
        "decision.refer": "doorverwijzen naar een andere dienst",
        "done.assigned": "Regisseur toegewezen.",
        "done.reviewed": "Besluit vastgelegd.",
        "done.closed": "Signaal afgesloten.",
        "error.title": "Er ging iets mis",
        "error.csrf": "Het formulier is verlopen. Laad de pagina opnieuw en probeer het nog eens.",
        "error.not_found": "Dit signaal bestaat niet of is niet voor uw team.",
        "error.matcher": "De matcher is niet bereikbaar of weigerde het verzoek.",
        "error.invalid": "De invoer is niet geldig.",
        "footer": "Samenloop: persoonsgegevens worden alleen op deze computer geopend.",
    },
    "en": {
        "app.title": "Neighbourhood team inbox",
        "skip": "Skip to content",
        "nav.alerts": "Alerts",
        "nav.logout": "Log out",
        "nav.language": "Nederlands",
        "nav.language.label": "Schakel over naar Nederlands",
        "nav.user": "Logged in as",
        "login.title": "Log in",
        "login.user": "User id",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.failed": "Wrong user id or password.",
        "login.throttled": "Too many failed attempts. Try again in a few minutes.",
        "login.proxy": "Log in through your organisation's portal.",
        "list.title": "Alerts for the team",
        "list.intro": "This list holds no personal data. Open an alert to see what the partners "
                      "disclosed.",
        "list.empty": "No alerts.",
        "list.col.alert": "Alert",
        "list.col.policy": "Policy",
        "list.col.domains": "Life domains",
        "list.col.date": "Date",
        "list.col.area": "Area",
        "list.col.regisseur": "Regisseur",
        "tab.new": "New",
        "tab.assigned": "Assigned",
        "tab.closed": "Closed",
        "state.open": "new",
        "state.assigned": "assigned",
        "state.reviewed": "decision recorded",
        "state.closed": "closed",
        "alert.title": "Alert",
        "alert.back": "Back to the list",
        "alert.state": "State",
        "alert.created": "Created on",
        "alert.area": "Area",
        "alert.policy": "Policy",
        "alert.legal_basis": "Legal basis",
        "alert.purpose": "Purpose",
        "alert.policy_unverified": "The policy text could not be verified and is not shown.",
        "alert.domains": "Life domains",
        "alert.partner_kinds": "Partner kinds involved",
        "alert.signals": "Signals",
        "alert.signal_type": "Signal type",
        "alert.partner_kind": "Partner",
        "alert.observed_on": "Observed on",
        "alert.disclosures": "Disclosed information",
        "alert.identity_hidden": "The disclosed information is shown only after you say why "
                                 "you open it. This is recorded in the audit log.",
        "alert.view_reason": "Reason to open the information",
        "alert.view_submit": "Show information",
        "alert.no_disclosures": "Nothing disclosed yet.",
        "alert.from": "From",
        "alert.field": "Field",
        "alert.value": "Value",
        "alert.pending": "Disclosure pending",
        "alert.refused": "Disclosure refused",
        "alert.unverified": "Disclosure could not be verified",
        "alert.unverified.help": "This information is not shown: it cannot be shown to have "
                                 "been disclosed by the partner for this alert. This was "
                                 "reported to the audit log.",
        "alert.regisseur": "Regisseur",
        "alert.no_regisseur": "not assigned yet",
        "alert.decision": "Decision",
        "alert.outcome": "Outcome",
        "alert.no_contact_yet": "Do not contact the household before the regisseur has "
                                "reviewed the alert and recorded the decision.",
        "action.title": "Actions",
        "action.assign": "Assign a regisseur",
        "action.assign.user": "User id of the regisseur",
        "action.assign.help": "One regisseur per family. Use the user id, not a name.",
        "action.assign.submit": "Assign",
        "action.decide": "Decision after review",
        "action.decide.decision": "Decision",
        "action.decide.reason": "Reason",
        "action.decide.submit": "Record decision",
        "action.decide.only_regisseur": "Only the assigned regisseur records the decision.",
        "action.close": "Close",
        "action.close.outcome": "Outcome",
        "action.close.submit": "Close alert",
        "decision.contact": "contact the household",
        "decision.no_contact": "no contact",
        "decision.refer": "refer to another service",
        "done.assigned": "Regisseur assigned.",
        "done.reviewed": "Decision recorded.",
        "done.closed": "Alert closed.",
        "error.title": "Something went wrong",
        "error.csrf": "The form has expired. Reload the page and try again.",
        "error.not_found": "This alert does not exist or is not for your team.",
        "error.matcher": "The matcher is unreachable or refused the request.",
        "error.invalid": "The input is not valid.",
        "footer": "Samenloop: personal data is opened on this computer only.",
    },
}

LIFE_DOMAINS: dict[str, tuple[str, str]] = {
    "financien": ("financiën", "finances"),
    "werk_opleiding": ("werk en opleiding", "work and education"),
    "tijdsbesteding": ("tijdsbesteding", "use of time"),
    "huisvesting": ("huisvesting", "housing"),
    "huiselijke_relaties": ("huiselijke relaties", "domestic relations"),
    "geestelijke_gezondheid": ("geestelijke gezondheid", "mental health"),
    "lichamelijke_gezondheid": ("lichamelijke gezondheid", "physical health"),
    "middelengebruik": ("middelengebruik", "substance use"),
    "basale_adl": ("basale ADL", "basic activities of daily living"),
    "instrumentele_adl": ("instrumentele ADL", "instrumental activities of daily living"),
    "sociaal_netwerk": ("sociaal netwerk", "social network"),
    "maatschappelijke_participatie": ("maatschappelijke participatie", "social participation"),
    "justitie": ("justitie", "justice"),
}

PARTNER_KINDS: dict[str, tuple[str, str]] = {
    "housing": ("woningcorporatie", "housing corporation"),
    "police": ("politie", "police"),
    "mental_health": ("GGZ-instelling", "mental health institution"),
    "municipality": ("gemeente", "municipality"),
}

FIELDS: dict[str, tuple[str, str]] = {
    "bsn": ("BSN", "BSN"),
    "voorletters": ("voorletters", "initials"),
    "voornamen": ("voornamen", "given names"),
    "voorvoegsel": ("voorvoegsel", "name prefix"),
    "geslachtsnaam": ("achternaam", "surname"),
    "geboortedatum": ("geboortedatum", "date of birth"),
    "postcode": ("postcode", "postcode"),
    "huisnummer": ("huisnummer", "house number"),
    "huisletter": ("huisletter", "house letter"),
    "huisnummertoevoeging": ("toevoeging", "house number suffix"),
    "telefoon": ("telefoon", "phone"),
    "email": ("e-mail", "e-mail"),
    "contactpersoon": ("contactpersoon", "contact person"),
}

REFUSAL_REASONS: dict[str, tuple[str, str]] = {
    "REFUSAL_REASON_BAD_SIGNATURE": ("het verzoek was niet geldig ondertekend",
                                     "the request was not validly signed"),
    "REFUSAL_REASON_POLICY_NOT_IN_FORCE": ("het beleid is niet van kracht",
                                           "the policy is not in force"),
    "REFUSAL_REASON_FIELDS_NOT_ALLOWED": ("het beleid staat deze gegevens niet toe",
                                          "the policy does not allow these fields"),
    "REFUSAL_REASON_SIGNAL_NOT_LIVE": ("het signaal is niet meer actueel",
                                       "the signal is no longer live"),
    "REFUSAL_REASON_EXPIRED": ("het verzoek is verlopen", "the request expired"),
    "REFUSAL_REASON_RECIPIENT_MISMATCH": ("de ontvanger klopt niet met het beleid",
                                          "the recipient does not match the policy"),
    "REFUSAL_REASON_OTHER": ("een andere reden", "another reason"),
}


def pick_language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def missing_keys() -> dict[str, set[str]]:
    """Keys present in one language but not in another (empty when complete)."""
    every = set().union(*(set(m) for m in MESSAGES.values()))
    return {lang: every - set(m) for lang, m in MESSAGES.items() if every - set(m)}


def _pair(table: dict[str, tuple[str, str]], key: str, language: str) -> str:
    pair = table.get(key)
    if pair is None:
        return key
    return pair[0] if language == "nl" else pair[1]


@lru_cache(maxsize=1)
def _signal_labels() -> dict[str, tuple[str, str]]:
    return {t.code: (t.label_nl, t.label_en) for t in load_catalogue()}


class Translator:
    """`t("key")`, plus labels for every coded value, in one language."""

    def __init__(self, language: str) -> None:
        self.language = pick_language(language)
        self._messages = MESSAGES[self.language]

    def __call__(self, key: str) -> str:
        return self._messages.get(key, key)

    def domain(self, code: str) -> str:
        return _pair(LIFE_DOMAINS, code, self.language)

    def partner_kind(self, code: str) -> str:
        return _pair(PARTNER_KINDS, code, self.language)

    def field(self, code: str) -> str:
        return _pair(FIELDS, code, self.language)

    def refusal(self, code: str) -> str:
        return _pair(REFUSAL_REASONS, code, self.language)

    def signal_type(self, code: str) -> str:
        return _pair(_signal_labels(), code, self.language)

    def code(self, list_name: str, code: str) -> str:
        """The label of `code` in a list of domain/codes.yaml (the code itself if unknown)."""
        entry = getattr(load_codes(), list_name).codes.get(code)
        if entry is None:
            return code
        return str(entry.label_nl if self.language == "nl" else entry.label_en)

    def options(self, list_name: str) -> list[tuple[str, str]]:
        """(code, label) for every code of a list, in the file's order."""
        return [(c, self.code(list_name, c)) for c in getattr(load_codes(), list_name)]

    def bound(self) -> dict[str, Callable[..., str]]:
        return {"t": self}
