"""Semantic checks: each one fires with a clear message at the right field and line."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.findings import Severity
from policies.lint import LintReport, lint_document, lint_file, lint_text
from tests.policies.helpers import STANDING_OVERRIDES, document

TODAY = date(2025, 6, 15)


def lint(**overrides: Any) -> LintReport:
    return lint_document(document(**overrides), today=TODAY)


def only_error(report: LintReport, path: str, *words: str) -> None:
    errors = report.errors
    assert len(errors) == 1, [e.render() for e in report.findings]
    assert errors[0].path == path
    for w in words:
        assert w in errors[0].message, errors[0].message


def has_warning(report: LintReport, path: str, *words: str) -> None:
    assert any(w.path == path and all(x in w.message for x in words) for w in report.warnings), [
        w.render() for w in report.findings
    ]


def test_base_document_is_clean() -> None:
    r = lint()
    assert r.ok and r.findings == () and r.policy is not None


def test_schema_errors_come_first_and_stop_semantics() -> None:
    r = lint(trigger__min_domains="two", purposes=["nope"])
    assert not r.ok and r.policy is None
    assert [f.path for f in r.errors] == ["trigger.min_domains"]


# --- names -----------------------------------------------------------------------------------


def test_unknown_purpose() -> None:
    r = lint(purposes=["wams-gecoordineerde-aanpk"])
    only_error(
        r, "purposes[0]", "unknown signal purpose", "Did you mean 'wams-gecoordineerde-aanpak'"
    )


def test_unknown_required_and_excluded_types() -> None:
    r = lint(trigger__required_types=["huurachterstnd"], trigger__excluded_types=["no_such"])
    paths = sorted(e.path for e in r.errors)
    assert paths == ["trigger.excluded_types[0]", "trigger.required_types[0]"]
    assert any("Did you mean 'huurachterstand'" in e.message for e in r.errors)


def test_unknown_life_domain() -> None:
    r = lint(trigger__min_per_domain={"finance": 1})
    only_error(r, "trigger.min_per_domain.finance", "unknown life domain", "financien")


def test_unknown_partner_kind_and_field() -> None:
    r = lint(disclosure={"housing": ["postcode", "adres"], "gemeente": ["bsn"]})
    paths = sorted(e.path for e in r.errors)
    assert paths == ["disclosure.gemeente", "disclosure.housing[1]"]
    assert any("not an identity field" in e.message for e in r.errors)


# --- thresholds --------------------------------------------------------------------------------


def test_below_two_domains_is_refused() -> None:
    r = lint(trigger__min_domains=1)
    only_error(r, "trigger.min_domains", "at least 2", "Wams")


def test_single_signal_is_refused() -> None:
    r = lint(trigger__min_signals=1)
    only_error(r, "trigger.min_signals", "single signal")


def test_min_signals_below_min_domains_warns() -> None:
    r = lint(trigger__min_domains=3, trigger__min_signals=2)
    assert r.ok
    has_warning(r, "trigger.min_signals", "effective minimum is 3")


# --- can never fire ----------------------------------------------------------------------------


def test_required_and_excluded_type() -> None:
    r = lint(
        trigger__required_types=["huurachterstand"], trigger__excluded_types=["huurachterstand"]
    )
    only_error(r, "trigger.required_types", "both required and excluded", "never fire")


def test_required_type_invisible_under_purposes() -> None:
    r = lint(
        purposes=["wgs-vroegsignalering"],
        trigger__required_types=["woonoverlast_melding"],
        disclosure={"housing": ["postcode"]},
    )
    only_error(r, "trigger.required_types[0]", "invisible", "never fire")


def test_not_enough_domains_reachable() -> None:
    # Under the Wgs purpose only financial/housing/work/health types exist: 4 domains.
    r = lint(
        purposes=["wgs-vroegsignalering"],
        trigger__min_domains=5,
        trigger__min_signals=5,
        disclosure={"housing": ["postcode"]},
    )
    only_error(r, "trigger.min_domains", "never fire", "only 4 life domain(s)")


def test_excluding_types_can_make_domains_unreachable() -> None:
    wgs_types = [
        "huurachterstand",
        "ontruiming_aangezegd",
        "uitkering_beeindigd",
        "zorgpremie_achterstand",
    ]
    r = lint(
        purposes=["wgs-vroegsignalering"],
        trigger__excluded_types=wgs_types,
        disclosure={"municipality": ["postcode"]},
    )
    only_error(r, "trigger.min_domains", "only 1 life domain(s) (financien)")


def test_min_per_domain_unreachable() -> None:
    r = lint(
        purposes=["wgs-vroegsignalering"],
        trigger__min_per_domain={"justitie": 1},
        disclosure={"housing": ["postcode"]},
    )
    only_error(r, "trigger.min_per_domain.justitie", "never fire", "justitie")


def test_excluded_type_that_cannot_veto_warns() -> None:
    r = lint(
        purposes=["wgs-vroegsignalering"],
        trigger__excluded_types=["ggz_zorgmijding"],
        disclosure={"housing": ["postcode"]},
    )
    assert r.ok
    has_warning(r, "trigger.excluded_types[0]", "can never veto")


def test_window_longer_than_retention_warns() -> None:
    r = lint(trigger__window_days=700, cooldown_days=700)
    assert r.ok
    has_warning(r, "trigger.window_days", "effectively 365 days")


# --- disclosure --------------------------------------------------------------------------------


def test_mental_health_only_contact_person() -> None:
    r = lint(disclosure={"mental_health": ["contactpersoon", "bsn", "telefoon"]})
    only_error(r, "disclosure.mental_health", "contact person", "bsn, telefoon")


def test_disclosure_for_a_partner_that_cannot_contribute_warns() -> None:
    r = lint(
        purposes=["wgs-vroegsignalering"],
        disclosure={"police": ["postcode"], "housing": ["postcode"]},
    )
    assert r.ok
    has_warning(r, "disclosure.police", "never be used")


def test_nothing_disclosed_warns() -> None:
    r = lint(disclosure={"housing": []})
    assert r.ok
    has_warning(r, "disclosure", "cannot act on")


# --- modes ---------------------------------------------------------------------------------------


def test_standing_policy_clean() -> None:
    r = lint(**STANDING_OVERRIDES, disclosure={"housing": ["postcode", "huisnummer"]})
    assert r.ok and r.findings == (), [f.render() for f in r.findings]


def test_standing_without_standing_legal_basis() -> None:
    overrides = dict(STANDING_OVERRIDES, legal_basis=[{"citation": "Wgs art. 3 lid 3"}])
    r = lint(**overrides, disclosure={"housing": ["postcode"]})
    only_error(r, "mode", "legal basis for standing processing", "standing: true")


def test_wams_citation_marked_standing_is_refused() -> None:
    overrides = dict(
        STANDING_OVERRIDES,
        legal_basis=[{"citation": "Wams art. 3", "standing": True}],
    )
    r = lint(**overrides, disclosure={"housing": ["postcode"]})
    paths = sorted(e.path for e in r.errors)
    assert paths == ["legal_basis[0].standing", "mode"]
    # ...also in an on-request policy: the citation itself is wrong.
    r2 = lint(legal_basis=[{"citation": "Wet aanpak meervoudige problematiek", "standing": True}])
    only_error(r2, "legal_basis[0].standing", "case-based")


def test_standing_with_a_case_based_purpose() -> None:
    overrides = dict(
        STANDING_OVERRIDES, purposes=["wgs-vroegsignalering", "wams-gecoordineerde-aanpak"]
    )
    r = lint(**overrides, disclosure={"housing": ["postcode"]})
    only_error(r, "purposes[1]", "case-based", "on_request")


def test_standing_without_independent_review() -> None:
    overrides = dict(STANDING_OVERRIDES, independent_review=None)
    r = lint(**overrides, disclosure={"housing": ["postcode"]})
    only_error(r, "mode", "independent review", "--role independent_review")


# --- dates and keys ------------------------------------------------------------------------------


def test_validity_in_the_past() -> None:
    r = lint(valid_from="2024-01-01", valid_until="2025-06-14")
    only_error(r, "valid_until", "in the past")
    assert lint(valid_from="2024-01-01", valid_until="2025-06-15").ok  # today is still valid


def test_validity_inverted() -> None:
    only_error(lint(valid_from="2026-01-01", valid_until="2025-12-31"), "valid_until", "before")


@pytest.mark.parametrize(
    "raw",
    [
        bytes(32),  # all zero: small order
        bytes([1]) + bytes(31),  # u = 1: small order
        b"\xff" * 32,  # not canonical
    ],
)
def test_invalid_recipient_key(raw: bytes) -> None:
    r = lint(recipient__public_key=base64.b64encode(raw).decode())
    only_error(r, "recipient.public_key", "not a valid X25519 public key")


def test_short_cooldown_warns() -> None:
    r = lint(cooldown_days=30)
    assert r.ok
    has_warning(r, "cooldown_days", "second alert")


# --- files and lines -----------------------------------------------------------------------------


def test_findings_carry_yaml_lines(tmp_path: Path) -> None:
    text = yaml.safe_dump(document(trigger__min_domains=1), sort_keys=False)
    f = tmp_path / "p.yaml"
    f.write_text(text)
    r = lint_file(f, today=TODAY)
    (err,) = r.errors
    expected = next(i for i, ln in enumerate(text.splitlines(), 1) if "min_domains" in ln)
    assert err.line == expected
    assert err.render(str(f)).startswith(f"{f}:{expected}: error [trigger.min_domains]: ")


def test_syntax_error_is_a_finding() -> None:
    r = lint_text("id: a\nid: b\n", today=TODAY)
    assert not r.ok and r.errors[0].line == 2 and r.policy is None


def test_findings_are_sorted_by_line() -> None:
    text = yaml.safe_dump(
        document(trigger__min_domains=1, cooldown_days=10, valid_until="2025-01-02"),
        sort_keys=False,
    )
    r = lint_text(text, today=TODAY)
    lines = [f.line or 0 for f in r.findings]
    assert lines == sorted(lines) and len(r.findings) == 3
    assert all(f.severity in (Severity.ERROR, Severity.WARNING) for f in r.findings)
