"""The shipped signal catalogue and the validation of catalogue files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.catalogue import (
    DEFAULT_CATALOGUE_PATH,
    KNOWN_PURPOSES,
    LIFE_DOMAINS,
    LifeDomain,
    PartnerKind,
    Subject,
    load_catalogue,
    parse_catalogue,
    render_markdown,
)
from domain.errors import CatalogueError, UnknownSignalType

REPO = Path(__file__).resolve().parents[2]


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_shipped_catalogue_loads_and_is_cached() -> None:
    cat = load_catalogue()
    assert cat is load_catalogue()
    assert cat.version == "2025.1"
    assert len(cat.digest) == 64
    assert len(cat) >= 16


def test_every_partner_kind_has_types_and_domains_are_the_13_zrm_domains() -> None:
    cat = load_catalogue()
    assert len(LIFE_DOMAINS) == 13
    assert [d.value for d in LIFE_DOMAINS][:4] == [
        "financien",
        "werk_opleiding",
        "tijdsbesteding",
        "huisvesting",
    ]
    for kind in PartnerKind:
        assert len(cat.for_partner(kind)) >= 3, kind
    assert {s for t in cat for s in [t.subject]} == set(Subject)


def test_known_purposes_match_the_shipped_file() -> None:
    cat = load_catalogue()
    assert set(cat.purposes) == KNOWN_PURPOSES
    assert all(t.purposes <= KNOWN_PURPOSES for t in cat)


def test_get_and_unknown_type() -> None:
    cat = load_catalogue()
    t = cat.get("huurachterstand")
    assert t.label_en.startswith("Rent arrears")
    assert t.may_be_sent_by(PartnerKind.HOUSING)
    assert t.may_be_sent_by("housing")
    assert not t.may_be_sent_by(PartnerKind.POLICE)
    assert LifeDomain.FINANCIEN in t.domains and "huisvesting" in t.domains
    assert t.subject is Subject.HOUSEHOLD and t.needs_address and not t.needs_bsn
    assert t.allows_purpose("wgs-vroegsignalering")
    assert "huurachterstand" in cat and "nope" not in cat
    with pytest.raises(UnknownSignalType) as err:
        cat.get("huur_achterstand")
    assert "huur_achterstand" in str(err.value) and "2025.1" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_issue_examples_are_present() -> None:
    cat = load_catalogue()
    for code in [
        "huurachterstand",
        "ontruiming_aangezegd",
        "woonoverlast_melding",
        "politie_herhaalde_inzet_adres",
        "huiselijk_geweld_incident",
        "verward_gedrag_e33",
        "ggz_crisiscontact",
        "ggz_zorgmijding",
        "schuldhulp_aanvraag",
        "uitkering_beeindigd",
        "leerplicht_verzuim",
        "energie_achterstand",
        "drinkwater_achterstand",
        "zorgpremie_achterstand",
    ]:
        assert code in cat


def test_in_domain_and_sorted_domains() -> None:
    cat = load_catalogue()
    assert {t.code for t in cat.in_domain("financien")} >= {
        "huurachterstand",
        "energie_achterstand",
    }
    t = cat.get("ontruiming_aangezegd")  # listed as [huisvesting, financien] in the file
    assert t.domains_sorted == (LifeDomain.FINANCIEN, LifeDomain.HUISVESTING)


def _broken(mutate: Any) -> str:
    data = copy.deepcopy(_raw())
    mutate(data)
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(data, source="cat.yaml")
    return str(err.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["types"][1].update(retention_days=0),
            ["types[1] (ontruiming_aangezegd)", "retention_days"],
        ),
        (
            lambda d: d["types"][2].update(partner_kinds=["bank"]),
            ["types[2]", "partner_kinds", "'bank'"],
        ),
        (
            lambda d: d["types"][0].update(domains=["opvoeding"]),
            ["types[0] (huurachterstand)", "domains"],
        ),
        (lambda d: d["types"][0].update(subject="family"), ["types[0]", "subject"]),
        (
            lambda d: d["types"][0].update(purposes=["marketing"]),
            ["types[0]", "purposes", "'marketing'"],
        ),
        (lambda d: d["types"][0].update(code="Huur Achterstand"), ["types[0]", "code"]),
        (lambda d: d["types"][0].pop("label_nl"), ["types[0] (huurachterstand)", "label_nl"]),
        (lambda d: d["types"][0].update(colour="red"), ["types[0] (huurachterstand)", "colour"]),
        (lambda d: d["types"][0].update(domains=[]), ["types[0]", "domains"]),
        (lambda d: d["types"][0].update(domains=["financien", "financien"]), ["twice"]),
        (lambda d: d["types"][0].update(retention_days=True), ["retention_days"]),
        (lambda d: d["types"].append(copy.deepcopy(d["types"][0])), ["duplicate code"]),
        (lambda d: d.update(version=3), ["version"]),
        (lambda d: d.update(types=[]), ["types"]),
        (lambda d: d["purposes"][0].update(legal_basis=[]), ["purposes[0]", "legal_basis"]),
        (
            lambda d: d["purposes"].append(
                {"code": "ongebruikt", "label_nl": "x", "label_en": "x", "legal_basis": ["y"]}
            ),
            ["ongebruikt", "no type uses"],
        ),
    ],
)
def test_validation_errors_name_entry_and_field(mutate: Any, expected: list[str]) -> None:
    message = _broken(mutate)
    assert message.startswith("cat.yaml:")
    for part in expected:
        assert part in message


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '2025.1'\ntypes: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(bad)
    not_a_map = tmp_path / "list.yaml"
    not_a_map.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="mapping"):
        load_catalogue(not_a_map)


def test_explicit_path_loads_a_copy(tmp_path: Path) -> None:
    copy_path = tmp_path / "cat.yaml"
    copy_path.write_bytes(DEFAULT_CATALOGUE_PATH.read_bytes())
    cat = load_catalogue(copy_path)
    assert cat is not load_catalogue()
    assert cat.digest == load_catalogue().digest
    assert dict(cat.types) == dict(load_catalogue().types)


def test_docs_catalogue_page_is_generated_from_the_file() -> None:
    page = (REPO / "docs" / "catalogue.md").read_text(encoding="utf-8")
    assert render_markdown(load_catalogue()) in page, (
        "docs/catalogue.md is out of date: regenerate the table with "
        "`python -m domain catalogue-markdown`"
    )
