"""Subject-access answers for people: a table for the officer, JSON, and a letter in Dutch.

The officer's formats (`text`, `json`) show every field of every entry the matcher returned.
The letter (`html`) is for the data subject and says in plain Dutch what happened, when, by
which organisation and for which purpose. It leaves out what would be someone else's data or
means nothing to the reader: pseudonyms, trace and span ids, team user ids, other attributes.
It holds no identity either (no BSN, no address): the officer adds the addressee.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from domain.catalogue import load_catalogue
from samenloop.v1 import audit_pb2
from services.wijkteam.i18n import Translator

SYSTEM = "matcher"
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")

# What happened, in words the data subject reads. `{wie}` is the acting organisation,
# `{soort}` the signal type, `{gegevens}` the disclosed field names, `{reden}` a refusal reason.
EVENTS_NL: Mapping[str, str] = {
    "signal_received": "{wie} gaf een signaal door: {soort}",
    "signal_refreshed": "{wie} gaf hetzelfde signaal opnieuw door: {soort}",
    "signal_withdrawn": "{wie} trok een signaal in: {soort}",
    "signal_expired": "een signaal verliep na de bewaartermijn: {soort}",
    "signal_deleted": "een signaal werd verwijderd: {soort}",
    "household_link_received": "{wie} gaf door op welk adres de persoon woont (uit de BRP)",
    "inquiry_received": "{wie} vroeg of een gezamenlijke aanpak nodig is",
    "inquiry_refused": "een vraag van {wie} of een gezamenlijke aanpak nodig is, werd niet "
                       "in behandeling genomen",
    "alert_created": "samenloop zag dat meerdere problemen samenkomen en waarschuwde het "
                     "wijkteam",
    "alert_deleted": "de waarschuwing aan het wijkteam werd verwijderd na de bewaartermijn",
    "reveal_request_created": "samenloop vroeg {partner} om gegevens aan het wijkteam te geven",
    "reveal_request_delivered": "het verzoek om gegevens kwam aan bij {wie}",
    "disclosure_received": "{wie} gaf gegevens aan het wijkteam, versleuteld zodat alleen het "
                           "wijkteam ze kan lezen: {gegevens}",
    "disclosure_refused": "{wie} weigerde gegevens te geven ({reden})",
    "alert_listed": "het wijkteam zag de waarschuwing in zijn overzicht",
    "alert_streamed": "de waarschuwing werd naar het wijkteam gestuurd",
    "alert_viewed": "het wijkteam bekeek de waarschuwing",
    "alert_assigned": "het wijkteam wees een vaste contactpersoon (regisseur) aan",
    "alert_reviewed": "het wijkteam beoordeelde de waarschuwing",
    "alert_closed": "het wijkteam sloot de waarschuwing af",
    "subject_looked_up": "een privacyfunctionaris van {wie} zocht op wat er over u is "
                         "vastgelegd",
}

ROLES_NL: Mapping[str, str] = {
    "gateway": "systeem van de organisatie",
    "wijkteam": "wijkteam",
    "privacy_officer": "privacyfunctionaris",
    "system": "automatisch",
}


@dataclass(frozen=True)
class LetterRow:
    day: str
    what: str
    who: str
    purpose: str


def _moment(entry: audit_pb2.AuditEntry) -> datetime:
    return entry.start_time.ToDatetime(tzinfo=UTC)


def dutch_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _organisation(org: str) -> str:
    return "samenloop" if org in ("", SYSTEM) else org


@lru_cache(maxsize=1)
def _purposes() -> dict[str, str]:
    return {code: p.label_nl for code, p in load_catalogue().purposes.items()}


def purpose_nl(entry: audit_pb2.AuditEntry) -> str:
    """The purposes served, by their Dutch labels (the catalogue's); else the policy's id."""
    codes = [c for c in entry.purpose.split(",") if c]
    if codes:
        return "; ".join(_purposes().get(c, c) for c in codes)
    return f"beleid {entry.policy_id}" if entry.policy_id else "beheer van samenloop"


def describe(entry: audit_pb2.AuditEntry) -> LetterRow:
    """One entry as a row of the letter, from whitelisted fields only."""
    t = Translator("nl")
    a = entry.attributes
    wie = _organisation(entry.actor_organisation)
    words = {
        "wie": wie,
        "partner": a.get("partner", "een partner"),
        "soort": t.signal_type(a["signal_type"]) if "signal_type" in a else "(soort onbekend)",
        "gegevens": ", ".join(t.field(f) for f in a.get("fields", "").split(",") if f)
                    or "(geen)",
        "reden": t.refusal(a.get("refusal_reason", "REFUSAL_REASON_OTHER")),
    }
    template = EVENTS_NL.get(entry.name, "verwerking ‘" + entry.name + "’ door {wie}")
    role = ROLES_NL.get(entry.actor_role, entry.actor_role)
    return LetterRow(dutch_date(_moment(entry).date()), template.format(**words),
                     f"{wie} ({role})", purpose_nl(entry))


def entry_dict(entry: audit_pb2.AuditEntry) -> dict[str, Any]:
    """Everything the matcher returned about one entry, for the officer."""
    return {
        "index": entry.index, "name": entry.name,
        "start_time": _moment(entry).isoformat().replace("+00:00", "Z"),
        "status_code": entry.status_code,
        "actor": {"organisation": entry.actor_organisation, "role": entry.actor_role},
        "processing_activity_id": entry.processing_activity_id,
        "purpose": entry.purpose,
        "policy": {"id": entry.policy_id, "version": entry.policy_version,
                   "digest": entry.policy_digest},
        "data_subject_id": entry.data_subject_id,
        "data_subject_id_type": entry.data_subject_id_type,
        "trace_id": entry.trace_id, "span_id": entry.span_id,
        "foreign_operation": entry.foreign_operation,
        "foreign_span_id": entry.foreign_span_id,
        "foreign_processor": entry.foreign_processor,
        "attributes": dict(sorted(entry.attributes.items())),
    }


def render_json(entries: Sequence[audit_pb2.AuditEntry]) -> str:
    return json.dumps([entry_dict(e) for e in entries], indent=2, ensure_ascii=False) + "\n"


def render_text(entries: Sequence[audit_pb2.AuditEntry]) -> str:
    if not entries:
        return "no entries about this subject within your scope\n"
    lines = []
    for e in entries:
        attrs = " ".join(f"{k}={v}" for k, v in sorted(e.attributes.items()))
        lines.append(f"{e.index:>8}  {_moment(e):%Y-%m-%d %H:%M:%S}Z  {e.name:<26} "
                     f"{e.actor_organisation}/{e.actor_role}  {e.purpose or '-'}  "
                     f"{e.policy_id or '-'}  {attrs}".rstrip())
    lines.append(f"{len(entries)} entries")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined)


def render_letter(entries: Sequence[audit_pb2.AuditEntry], *, organisation: str,
                  subject_kind: str, whole_log: bool, today: date) -> str:
    """The letter-ready report in Dutch (HTML, printable, no external assets)."""
    rows = [describe(e) for e in sorted(entries, key=_moment)]
    return _templates().get_template("subject_letter.html").render(
        rows=rows, organisation=organisation, person=subject_kind == "person",
        whole_log=whole_log, today=dutch_date(today))
