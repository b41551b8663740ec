"""Appending an approval keeps the rest of the file byte for byte."""

from __future__ import annotations

import pytest
import yaml

from policies.approvals import sign_policy
from policies.canonical import policy_digest
from policies.errors import ApprovalError
from policies.model import parse_policy
from policies.source import parse_yaml
from policies.yamledit import append_approval
from tests.policies.helpers import OFFICER_KEYS, SIGNING_TIME, document

BASE_TEXT = "# my comment\n" + yaml.safe_dump(document(), sort_keys=False)


def approval(officer: str = "po-jansen", text: str = BASE_TEXT):  # type: ignore[no-untyped-def]
    p = parse_policy(parse_yaml(text).document)
    return sign_policy(p, OFFICER_KEYS[officer], officer_id=officer, now=SIGNING_TIME)


def test_append_to_a_file_without_approvals() -> None:
    new = append_approval(BASE_TEXT, approval())
    assert new.startswith(BASE_TEXT)
    doc = parse_yaml(new).document
    assert len(doc["approvals"]) == 1
    assert policy_digest(doc) == policy_digest(parse_yaml(BASE_TEXT).document)


def test_append_twice_and_file_without_final_newline() -> None:
    once = append_approval(BASE_TEXT.rstrip("\n"), approval())
    twice = append_approval(once, approval("po-devries"))
    assert [a["officer_id"] for a in parse_yaml(twice).document["approvals"]] == [
        "po-jansen",
        "po-devries",
    ]


def test_empty_flow_list_is_replaced() -> None:
    new = append_approval(BASE_TEXT + "approvals: []\n", approval())
    assert "approvals: []" not in new and len(parse_yaml(new).document["approvals"]) == 1


def test_items_at_column_zero_keep_their_indentation() -> None:
    once = append_approval(BASE_TEXT, approval())
    dedented = once.replace("\n  - officer_id", "\n- officer_id").replace("\n    ", "\n  ")
    assert len(parse_yaml(dedented).document["approvals"]) == 1
    twice = append_approval(dedented, approval("po-devries"))
    assert len(parse_yaml(twice).document["approvals"]) == 2


def test_approvals_not_last_is_refused() -> None:
    once = append_approval(BASE_TEXT, approval())
    moved = once + "extra_note: 1\n"
    with pytest.raises(ApprovalError, match="not at the end"):
        append_approval(moved, approval("po-devries"))


def test_flow_style_is_refused() -> None:
    a = approval().to_document()
    text = BASE_TEXT + "approvals: [" + yaml.safe_dump(a, default_flow_style=True).strip() + "]\n"
    with pytest.raises(ApprovalError, match="block style"):
        append_approval(text, approval("po-devries"))
