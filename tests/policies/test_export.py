"""Algoritmeregister export: the fields of publicatiestandaard 1.0.0 and the decision rule."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from policies.canonical import policy_digest
from policies.export import algoritmeregister, to_markdown
from policies.model import load_policy

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
ON = date(2026, 6, 1)

REQUIRED_REGISTER_FIELDS = {
    "name",
    "organization",
    "description_short",
    "status",
    "publication_category",
    "contact_email",
    "goal",
    "proportionality",
    "human_intervention",
    "risks",
    "lawful_basis",
    "source_data",
    "methods_and_models",
    "lang",
    "standard_version",
}


def test_export_standing_policy() -> None:
    p = load_policy(LIBRARY / "wgs-vroegsignalering-wonen.yaml")
    e = algoritmeregister(p, today=ON, contact="privacy@voorbeeldstad.nl")
    assert set(e) >= REQUIRED_REGISTER_FIELDS
    assert len(e["name"]) <= 100 and len(e["description_short"]) <= 350
    assert e["status"] == "In gebruik" and e["begin_date"] == "2026-01" and e["end_date"] == ""
    assert e["contact_email"] == "privacy@voorbeeldstad.nl"
    assert e["standard_version"] == "1.0.0" and e["lang"] == "nld"
    assert "Wet gemeentelijke schuldhulpverlening" in e["lawful_basis"]
    assert e["lawful_basis_grouping"] == [
        {
            "title": "Wet gemeentelijke schuldhulpverlening, art. 3 lid 3 en art. 5 lid 1",
            "link": "https://wetten.overheid.nl/BWBR0031899",
        }
    ]
    assert "regisseur" in e["human_intervention"] and "AVG art. 22" in e["human_intervention"]
    assert "120 dagen" in e["methods_and_models"] and "niet zelflerend" in e["methods_and_models"]
    assert "schuldhulp_aanvraag" in e["methods_and_models"]  # the veto is public too
    assert "doorlopend" in e["methods_and_models"]
    assert "Onafhankelijke toetsing" in e["impacttoetsen"]
    s = e["samenloop"]
    assert s["digest"] == policy_digest(p) and s["mode"] == "standing"
    assert s["trigger"] == {
        "window_days": 120,
        "min_domains": 2,
        "min_signals": 2,
        "required_types": ["huurachterstand"],
        "excluded_types": ["schuldhulp_aanvraag"],
        "min_per_domain": {"financien": 2},
    }
    codes = {t["code"]: t["role"] for t in s["signal_types"]}
    assert codes["schuldhulp_aanvraag"] == "excluded" and codes["huurachterstand"] == "counts"
    assert "woonoverlast_melding" not in codes  # not collected for the Wgs purpose
    json.dumps(e)  # plain JSON


def test_export_on_request_and_status() -> None:
    p = load_policy(LIBRARY / "wams-meervoudige-problematiek.yaml")
    e = algoritmeregister(p, today=date(2028, 3, 1))
    assert e["status"] == "Buiten gebruik" and e["end_date"] == "2027-12"
    assert algoritmeregister(p, today=date(2025, 3, 1))["status"] == "In ontwikkeling"
    assert "op verzoek" in e["methods_and_models"] and "geen vrijbrief" in e["methods_and_models"]
    assert e["impacttoetsen"] == ""
    assert e["contact_email"] == ""
    assert {"Sociale zekerheid", "Wonen"} <= set(e["category"]) and len(e["category"]) <= 3
    assert "GGZ-instelling: contactpersoon" in e["proportionality"]


def test_markdown() -> None:
    p = load_policy(LIBRARY / "jeugd-verzuim-huiselijk-geweld.yaml")
    md = to_markdown(algoritmeregister(p, today=ON))
    assert md.startswith("# Schoolverzuim en huiselijk geweld (op verzoek)\n")
    assert "## Menselijke tussenkomst" in md
    assert "| verplichte signalen | leerplicht_verzuim |" in md
    assert "| minimum per leefgebied | huiselijke_relaties: 1 |" in md
    assert "| politie | contactpersoon |" in md
