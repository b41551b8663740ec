"""Parsing a policy: the structure (JSON Schema), the model, and YAML quirks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from policies.errors import PolicyInvalid, PolicySyntaxError
from policies.model import ApprovalRole, PolicyMode, load_policy, parse_policy
from policies.source import parse_yaml
from policies.structure import policy_schema
from tests.policies.helpers import RECIPIENT_PUBLIC_B64, document


def test_parse_builds_the_model() -> None:
    p = parse_policy(document(trigger__min_per_domain={"financien": 2, "a_domain": 1}))
    assert p.id == "test-samenloop" and p.version == 1 and p.ref == "test-samenloop@1"
    assert p.mode is PolicyMode.ON_REQUEST
    assert p.purposes == {"wams-gecoordineerde-aanpak"}
    assert p.recipient.public_key == RECIPIENT_PUBLIC_B64
    assert len(p.recipient.public_key_bytes) == 32
    assert p.scope.covers("1011") and not p.scope.covers("9999")
    assert p.trigger.min_per_domain == (("a_domain", 1), ("financien", 2))
    assert p.trigger.min_per_domain_map == {"a_domain": 1, "financien": 2}
    assert p.disclosure.fields_for("mental_health") == ("contactpersoon",)
    assert p.disclosure.fields_for("police") == ()
    assert p.disclosure.partner_kinds == ("housing", "mental_health")
    assert p.valid_from == date(2025, 1, 1) and p.valid_until == date(2026, 12, 31)
    assert p.legal_basis[0].standing is False
    assert p.approvals == ()


def test_mode_defaults_to_on_request() -> None:
    assert parse_policy(document(mode=None)).mode is PolicyMode.ON_REQUEST


def test_whole_municipality_scope() -> None:
    p = parse_policy(document(scope={"municipality": "GM0363"}))
    assert p.scope.areas == () and p.scope.covers("4321")


def test_document_round_trip_and_signed_document_drops_approvals() -> None:
    approval = {
        "officer_id": "po-jansen",
        "role": "privacy_officer",
        "key_id": "k1",
        "signed_at": "2025-01-02T10:00:00Z",
        "signature": "A" * 86 + "==",
    }
    doc = document(approvals=[approval])
    p = parse_policy(doc)
    assert p.document() == doc
    assert "approvals" not in p.signed_document()
    assert p.approvals[0].role is ApprovalRole.PRIVACY_OFFICER
    assert p.approvals[0].to_document() == approval


def test_date_objects_are_accepted_as_their_iso_text() -> None:
    p = parse_policy(document(valid_from=date(2025, 1, 1)))
    assert p.document()["valid_from"] == "2025-01-01"


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        ({"id": None}, "", "missing required field(s): id"),
        ({"id": "Bad ID"}, "id", "lower case letters"),
        ({"version": 0}, "version", "at least 1"),
        ({"mode": "always"}, "mode", "one of: on_request, standing"),
        ({"purposes": []}, "purposes", "at least 1"),
        ({"legal_basis": []}, "legal_basis", "at least 1"),
        ({"recipient__public_key": "not-a-key"}, "recipient.public_key", "X25519"),
        ({"scope": {"municipality": "Amsterdam"}}, "scope.municipality", "GM0363"),
        ({"valid_from": "1-1-2025"}, "valid_from", "YYYY-MM-DD"),
        ({"valid_until": "2025-02-30"}, "valid_until", "not a calendar date"),
        ({"trigger__window_days": 0}, "trigger.window_days", "at least 1"),
        ({"trigger__windw_days": 3}, "trigger", "unknown field(s) windw_days"),
        ({"cooldown_days": "90"}, "cooldown_days", "type integer"),
        ({"extra": 1}, "", "unknown field(s) extra"),
        ({"purposes": ["a-b", "a-b"]}, "purposes", "same entry twice"),
    ],
)
def test_schema_errors_name_the_field(overrides: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(document(**overrides))
    messages = [(f.path, f.message) for f in info.value.findings]
    assert any(p == path and words in m for p, m in messages), messages


def test_schema_is_valid_2020_12() -> None:
    schema = policy_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


YAML = """\
id: yaml-policy
version: 1
title: From YAML
legal_basis:
  - citation: Wams art. 3
purpose: Find households with problems in several life domains early.
processing_activity_id: GM0363/wams-01
controller: College van B&W
purposes: [wams-gecoordineerde-aanpak]
recipient:
  team_id: wijkteam-noord
  name: Wijkteam Noord
  public_key: "{key}"
scope:
  municipality: GM0363
trigger:
  window_days: 90
  min_domains: 2
  min_signals: two
disclosure:
  housing: [postcode]
cooldown_days: 90
retention:
  alert_days: 365
valid_from: 2025-01-01
valid_until: 2026-01-01
"""


def test_load_policy_reports_the_yaml_line(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(YAML.format(key=RECIPIENT_PUBLIC_B64))
    with pytest.raises(PolicyInvalid) as info:
        load_policy(f)
    (finding,) = info.value.findings
    assert finding.path == "trigger.min_signals" and finding.line == 19


def test_load_policy_keeps_dates_as_written(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        YAML.format(key=RECIPIENT_PUBLIC_B64).replace("min_signals: two", "min_signals: 2")
    )
    p = load_policy(f)
    assert p.document()["valid_from"] == "2025-01-01"
    assert p.valid_until == date(2026, 1, 1)


def test_duplicate_key_is_a_syntax_error_with_line() -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_yaml("id: a\ntitle: x\nid: b\n")
    assert info.value.line == 3 and "appears twice (first on line 1)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("- a\n- b\n", "mapping"),
        ("a: !!binary aGVsbG8=\n", "not allowed"),
        ("other:\n  <<: {x: 1}\n", "merge keys"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
        ("base: &b [1, *b]\n", "contains it"),
        ("? [a, b]\n: 1\n", "plain text"),
        ("a: [1\n", "not valid YAML"),
        ("1: x\n", "plain text"),
    ],
)
def test_yaml_features_refused(text: str, words: str) -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_yaml(text)
    assert words in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicySyntaxError, match="no such file"):
        load_policy(tmp_path / "absent.yaml")
