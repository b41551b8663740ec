"""The public description of a policy, fit for the national Algoritmeregister.

Fields follow the Algoritmeregister publicatiestandaard 1.0.0 (field names as in the register's
own configuration: `name`, `organization`, `description_short`, `goal`, `proportionality`,
`human_intervention`, `risks`, `lawful_basis`, `lawful_basis_grouping`, `impacttoetsen`,
`source_data`, `methods_and_models`, ...), written in Dutch as the register asks, plus a
`samenloop` block with the exact decision rule in machine-readable form. Nothing is scored or
hidden: the trigger, the thresholds, the window, the purposes, the legal basis and what may be
disclosed are all in it.

Pure: the caller passes the day (for `status`) and, optionally, the contact address the register
requires (a policy does not carry one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.catalogue import Catalogue, PartnerKind, load_catalogue
from policies.canonical import policy_digest
from policies.model import Policy, PolicyMode

STANDARD_VERSION = "1.0.0"

DOMAIN_NL: dict[str, str] = {
    "financien": "financiën",
    "werk_opleiding": "werk en opleiding",
    "tijdsbesteding": "tijdsbesteding",
    "huisvesting": "huisvesting",
    "huiselijke_relaties": "huiselijke relaties",
    "geestelijke_gezondheid": "geestelijke gezondheid",
    "lichamelijke_gezondheid": "lichamelijke gezondheid",
    "middelengebruik": "middelengebruik",
    "basale_adl": "basale ADL",
    "instrumentele_adl": "instrumentele ADL",
    "sociaal_netwerk": "sociaal netwerk",
    "maatschappelijke_participatie": "maatschappelijke participatie",
    "justitie": "justitie",
}

PARTNER_NL: dict[str, str] = {
    PartnerKind.HOUSING.value: "woningcorporatie",
    PartnerKind.POLICE.value: "politie",
    PartnerKind.MENTAL_HEALTH.value: "GGZ-instelling",
    PartnerKind.MUNICIPALITY.value: "gemeente",
}

# Register themes (permitted values of `category`) implied by life domains; at most 3 are used.
_THEME_BY_DOMAIN: dict[str, str] = {
    "financien": "Sociale zekerheid",
    "werk_opleiding": "Werk",
    "tijdsbesteding": "Onderwijs en wetenschap",
    "huisvesting": "Wonen",
    "huiselijke_relaties": "Openbare orde en veiligheid",
    "justitie": "Openbare orde en veiligheid",
    "geestelijke_gezondheid": "Zorg en gezondheid",
    "lichamelijke_gezondheid": "Zorg en gezondheid",
    "middelengebruik": "Zorg en gezondheid",
}


@dataclass(frozen=True)
class _SignalUse:
    code: str
    label: str
    partner_kinds: tuple[str, ...]
    domains: tuple[str, ...]
    role: str  # "telt mee" or "uitsluitingsgrond"


def _domain_nl(d: str) -> str:
    return DOMAIN_NL.get(d, d)


def _signals(policy: Policy, cat: Catalogue) -> list[_SignalUse]:
    out = []
    for t in cat:
        if not t.purposes & policy.purposes:
            continue
        role = "uitsluitingsgrond" if t.code in policy.trigger.excluded_types else "telt mee"
        out.append(
            _SignalUse(
                code=t.code,
                label=t.label_nl,
                partner_kinds=tuple(k.value for k in PartnerKind if k in t.partner_kinds),
                domains=tuple(d.value for d in t.domains_sorted),
                role=role,
            )
        )
    return out


def _status(policy: Policy, today: date) -> str:
    if today < policy.valid_from:
        return "In ontwikkeling"
    if today > policy.valid_until:
        return "Buiten gebruik"
    return "In gebruik"


def _rule_text(policy: Policy) -> str:
    t = policy.trigger
    parts = [
        f"Een huishouden voldoet aan deze regel als er binnen {t.window_days} dagen ten minste "
        f"{t.min_signals} signalen zijn uit ten minste {t.min_domains} verschillende "
        "leefgebieden, waarbij elk leefgebied door een ander soort signaal wordt aangetoond."
    ]
    if t.required_types:
        parts.append("Verplicht aanwezig: " + ", ".join(sorted(t.required_types)) + ".")
    if t.min_per_domain:
        parts.append(
            "Minimum per leefgebied: "
            + ", ".join(f"{_domain_nl(d)} {n}" for d, n in t.min_per_domain)
            + "."
        )
    if t.excluded_types:
        parts.append(
            "Geen signaal als een van deze signalen aanwezig is (bijvoorbeeld omdat het "
            "huishouden al hulp krijgt): " + ", ".join(sorted(t.excluded_types)) + "."
        )
    parts.append(
        "Alleen signalen die zijn vastgelegd voor de verwerkingsdoelen "
        + ", ".join(sorted(policy.purposes))
        + " tellen mee; andere signalen zijn voor deze regel onzichtbaar."
    )
    parts.append("Het is een vaste, openbare beslisregel: niet zelflerend, zonder score of weging.")
    return " ".join(parts)


def _mode_text(policy: Policy) -> str:
    if policy.mode is PolicyMode.STANDING:
        return (
            "De regel wordt doorlopend toegepast op alle gepseudonimiseerde huishoudens in het "
            "werkgebied, op grond van een wettelijke basis voor structurele verwerking en na "
            "onafhankelijke toetsing."
        )
    return (
        "De regel wordt alleen toegepast op verzoek van een betrokken professional, voor één "
        "huishouden, met een vastgelegde reden (Wams: casusgericht, geen vrijbrief om vooraf "
        "gegevens van iedereen te koppelen)."
    )


def _disclosure_text(policy: Policy) -> str:
    rows = [
        f"{PARTNER_NL.get(kind, kind)}: {', '.join(fields) if fields else 'niets'}"
        for kind, fields in policy.disclosure.by_partner_kind
    ]
    return (
        "Pas na een treffer mag elke betrokken partner alleen deze gegevens versleuteld aan "
        f"{policy.recipient.name} verstrekken — " + "; ".join(rows) + ". "
        "Een GGZ-instelling verstrekt nooit gegevens over de cliënt, alleen een contactpersoon."
    )


def algoritmeregister(
    policy: Policy,
    *,
    today: date,
    contact: str = "",
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """The register entry for `policy` (publicatiestandaard 1.0.0 fields + `samenloop`)."""
    cat = catalogue or load_catalogue()
    signals = _signals(policy, cat)
    counting = [s for s in signals if s.role == "telt mee"]
    # Themes: "Sociale zekerheid" (the social domain the Wams serves) first, then the themes
    # most of the counted signal types bear on.
    weight: dict[str, int] = {}
    for s in counting:
        for theme in {_THEME_BY_DOMAIN[d] for d in s.domains if d in _THEME_BY_DOMAIN}:
            weight[theme] = weight.get(theme, 0) + 1
    ranked = sorted(weight, key=lambda th: (-weight[th], th))
    themes = ["Sociale zekerheid", *[th for th in ranked if th != "Sociale zekerheid"]][:3]
    t = policy.trigger
    source_lines = [
        f"{s.label} ({s.code}; bron: {', '.join(PARTNER_NL[k] for k in s.partner_kinds)}; "
        f"leefgebied: {', '.join(_domain_nl(d) for d in s.domains)}; {s.role})"
        for s in signals
    ]
    entry: dict[str, Any] = {
        "name": policy.title[:100],
        "organization": policy.controller[:100],
        "description_short": (
            f"Signaleert vroeg huishoudens met problemen op ten minste {t.min_domains} "
            f"leefgebieden binnen {t.window_days} dagen, zodat {policy.recipient.name} hulp kan "
            "aanbieden. Een medewerker beoordeelt elk signaal voordat er contact is."
        )[:350],
        "category": themes,
        "status": _status(policy, today),
        "begin_date": policy.valid_from.strftime("%Y-%m"),
        "end_date": policy.valid_until.strftime("%Y-%m") if today > policy.valid_until else "",
        "contact_email": contact,
        "publication_category": "Impactvolle algoritmes",
        "goal": (
            f"{policy.purpose} {_mode_text(policy)} Een treffer levert een signaal op voor "
            f"{policy.recipient.name}; het huishouden merkt daar pas iets van als de "
            "regisseur besluit contact op te nemen."
        ),
        "proportionality": (
            "Partners houden namen, adressen en BSN's in eigen huis; de centrale matcher ziet "
            "alleen pseudoniemen, het signaaltype en de datum. Een signaal op één leefgebied "
            "is nooit genoeg. " + _disclosure_text(policy) + " "
            f"Hetzelfde huishouden krijgt binnen {policy.cooldown_days} dagen geen tweede "
            f"signaal; signalen worden {policy.retention.alert_days} dagen bewaard. "
            "De regel is getekend door twee privacy officers"
            + (" en een onafhankelijke toetser" if policy.mode is PolicyMode.STANDING else "")
            + "."
        ),
        "human_intervention": (
            "Er is altijd menselijke tussenkomst. Een treffer leidt nooit automatisch tot "
            "contact of een besluit: de toegewezen regisseur (één gezin, één plan, één "
            "regisseur) beoordeelt het signaal en legt een besluit vast voordat iemand contact "
            "opneemt met het huishouden (AVG art. 22)."
        ),
        "risks": (
            "Risico's zijn onterechte signalen, stigmatisering van wijken en het koppelen van "
            "gegevens buiten het doel. Maatregelen: doelbinding per signaal, minimaal twee "
            "leefgebieden, kleine aantallen (onder 5) worden nooit getoond, per wijk wordt "
            "gemeten of signalen in verhouding staan tot het aantal meldingen "
            "(eerlijkheidsmonitor), en elke stap staat in een onveranderbaar auditlog."
        ),
        "lawful_basis": "; ".join(b.citation for b in policy.legal_basis),
        "lawful_basis_grouping": [
            {"title": b.citation[:100], "link": b.url} for b in policy.legal_basis if b.url
        ],
        "impacttoetsen": (
            f"Onafhankelijke toetsing: {policy.independent_review.report} "
            f"(toetser {policy.independent_review.reviewer}, "
            f"{policy.independent_review.reviewed_on.isoformat()})."
            if policy.independent_review
            else ""
        ),
        "source_data": (
            "Gepseudonimiseerde signalen (alleen type en datum, geen namen, bedragen of vrije "
            "tekst): " + "; ".join(source_lines) + "."
        ),
        "methods_and_models": _rule_text(policy) + " " + _mode_text(policy),
        "lang": "nld",
        "standard_version": STANDARD_VERSION,
        "source_id": policy.ref,
        "tags": "samenloop, Wams, vroegsignalering, meervoudige problematiek",
        "samenloop": {
            "policy_id": policy.id,
            "version": policy.version,
            "digest": policy_digest(policy),
            "catalogue_version": cat.version,
            "mode": policy.mode.value,
            "purposes": sorted(policy.purposes),
            "processing_activity_id": policy.processing_activity_id,
            "scope": {
                "municipality": policy.scope.municipality,
                "areas": list(policy.scope.areas),
            },
            "trigger": {
                "window_days": t.window_days,
                "min_domains": t.min_domains,
                "min_signals": t.min_signals,
                "required_types": sorted(t.required_types),
                "excluded_types": sorted(t.excluded_types),
                "min_per_domain": dict(t.min_per_domain),
            },
            "signal_types": [
                {
                    "code": s.code,
                    "label": s.label,
                    "partner_kinds": list(s.partner_kinds),
                    "domains": list(s.domains),
                    "role": "excluded" if s.role == "uitsluitingsgrond" else "counts",
                }
                for s in signals
            ],
            "disclosure": {k: list(f) for k, f in policy.disclosure.by_partner_kind},
            "recipient": {"team_id": policy.recipient.team_id, "name": policy.recipient.name},
            "cooldown_days": policy.cooldown_days,
            "alert_retention_days": policy.retention.alert_days,
            "valid_from": policy.valid_from.isoformat(),
            "valid_until": policy.valid_until.isoformat(),
        },
    }
    return entry


_MD_FIELDS: tuple[tuple[str, str], ...] = (
    ("description_short", "Korte omschrijving"),
    ("organization", "Organisatie"),
    ("status", "Status"),
    ("begin_date", "Begindatum"),
    ("end_date", "Einddatum"),
    ("contact_email", "Contactgegevens"),
    ("publication_category", "Publicatiecategorie"),
    ("goal", "Doel en impact"),
    ("proportionality", "Afwegingen"),
    ("human_intervention", "Menselijke tussenkomst"),
    ("risks", "Risicobeheer"),
    ("lawful_basis", "Wettelijke basis"),
    ("impacttoetsen", "Toelichting op impacttoetsen"),
    ("source_data", "Gegevens"),
    ("methods_and_models", "Technische werking"),
)


def to_markdown(entry: dict[str, Any]) -> str:
    """Render an `algoritmeregister` entry as Markdown for people."""
    lines = [f"# {entry['name']}", ""]
    for key, title in _MD_FIELDS:
        value = entry.get(key)
        if value:
            lines += [f"## {title}", "", str(value), ""]
    if entry.get("category"):
        lines += ["## Thema", "", ", ".join(entry["category"]), ""]
    s = entry["samenloop"]
    t = s["trigger"]
    lines += [
        "## Beslisregel (samenvatting)",
        "",
        "| kenmerk | waarde |",
        "| --- | --- |",
        f"| beleid | `{s['policy_id']}` versie {s['version']} |",
        f"| digest (SHA-256) | `{s['digest']}` |",
        f"| modus | {s['mode']} |",
        f"| verwerkingsdoelen | {', '.join(s['purposes'])} |",
        f"| venster | {t['window_days']} dagen |",
        f"| minimum leefgebieden | {t['min_domains']} |",
        f"| minimum signalen | {t['min_signals']} |",
        f"| verplichte signalen | {', '.join(t['required_types']) or '-'} |",
        f"| uitsluitingsgronden | {', '.join(t['excluded_types']) or '-'} |",
        "| minimum per leefgebied | "
        + (", ".join(f"{d}: {n}" for d, n in t["min_per_domain"].items()) or "-")
        + " |",
        f"| afkoelperiode | {s['cooldown_days']} dagen |",
        f"| bewaartermijn signaal | {s['alert_retention_days']} dagen |",
        f"| geldig | {s['valid_from']} t/m {s['valid_until']} |",
        "",
        "## Verstrekking per partner",
        "",
        "| partner | velden |",
        "| --- | --- |",
    ]
    for kind, fields in s["disclosure"].items():
        lines.append(f"| {PARTNER_NL.get(kind, kind)} | {', '.join(fields) or '-'} |")
    lines += [
        "",
        f"Publicatiestandaard {entry['standard_version']}; bron-ID `{entry['source_id']}`.",
        "",
    ]
    return "\n".join(lines)
