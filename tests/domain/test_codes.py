"""The versioned code lists (domain/codes.yaml) and the regisseur id pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.codes import CodesError, UnknownCode, check_regisseur, load_codes
from domain.errors import InvalidValue
from domain.formats import WITHDRAWAL_REASONS


def test_the_shipped_lists() -> None:
    codes = load_codes()
    assert codes.version == "2026.3"
    assert list(codes.withdrawal_reason) == [
        "resolved", "retracted", "error", "objection", "moved", "deceased", "other"]
    assert list(codes.closure_outcome) == [
        "help_accepted", "help_declined", "already_in_care", "no_action_needed", "unreachable"]
    assert codes.requester_role.codes["community_police_officer"].label_nl == "wijkagent"
    assert list(codes.view_reason) == [
        "review_alert", "prepare_contact", "check_existing_care", "coordinate_plan", "close_alert"]
    # The export format checks the same withdrawal list the matcher checks.
    assert list(WITHDRAWAL_REASONS) == list(codes.withdrawal_reason)
    assert load_codes() is load_codes()  # parsed once


def test_check_names_the_field_and_lists_the_codes_without_the_value() -> None:
    reasons = load_codes().inquiry_reason
    assert reasons.check("care_avoidance", "inquiry.reason") == "care_avoidance"
    with pytest.raises(UnknownCode) as err:
        reasons.check("mevrouw Jansen is verward", "inquiry.reason")
    text = str(err.value)
    assert text.startswith("inquiry.reason must be a code from the list `inquiry_reason` "
                           "(codes version 2026.3): multiple_problems_suspected, ")
    assert "Jansen" not in text


@pytest.mark.parametrize(("value", "ok"), [
    ("r-17", True), ("u0412", True), ("team.noord_3", True), ("a" * 32, True), ("0", True),
    ("", False), ("a" * 33, False), ("Jan de Vries", False), ("JdVries", False),
    ("-r17", False), (".r17", False), ("r 17", False), ("jan@example.nl", False),
    ("r17\n", False),
])
def test_regisseur_ids(value: str, ok: bool) -> None:
    if ok:
        assert check_regisseur(value) == value
    else:
        with pytest.raises(InvalidValue) as err:
            check_regisseur(value)
        assert err.value.field == "regisseur" and (not value or value not in str(err.value))


GOOD_ENTRY = "  - {code: a_code, nl: een code, en: a code}\n"


def write(tmp_path: Path, body: str) -> Path:
    lists = ["inquiry_reason", "requester_role", "withdrawal_reason", "review_decision_reason",
             "closure_outcome", "revocation_reason", "view_reason"]
    text = 'format: samenloop-codes/v1\nversion: "1"\n'
    for name in lists:
        text += f"{name}:\n" + (body if name == "inquiry_reason" else GOOD_ENTRY)
    path = tmp_path / "codes.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("body", "message"), [
    (GOOD_ENTRY * 2, "inquiry_reason[1]: code 'a_code' appears twice"),
    ("  - {code: Vrije Tekst, nl: x, en: x}\n", "inquiry_reason[0]: `code` must be"),
    ("  - {code: a_code, nl: '', en: x}\n", "inquiry_reason[0]: `nl` and `en` labels"),
    ("  - {code: a_code, nl: x}\n", "inquiry_reason[0]: an entry has exactly"),
    ("  []\n", "`inquiry_reason` must be a non-empty list"),
])
def test_a_broken_file_names_the_entry(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(CodesError) as err:
        load_codes(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
