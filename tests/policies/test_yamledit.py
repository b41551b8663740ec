"""Appending or replacing an approval keeps the rest of the file byte for byte."""

from __future__ import annotations

import pytest
import yaml

from policies.approvals import prior_approval, sign_policy
from policies.canonical import policy_digest
from policies.errors import ApprovalError
from policies.model import ApprovalRole, parse_policy
from policies.source import parse_yaml
from policies.yamledit import append_approval, replace_approval
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


@pytest.mark.parametrize("index", [0, 1, 2])
def test_replace_one_approval_keeps_every_other_line(index: int) -> None:
    text = BASE_TEXT
    for officer in ("po-jansen", "po-devries", "po-bakker"):
        text = append_approval(text, approval(officer))
    text += "# trailing comment\n"
    officer = ["po-jansen", "po-devries", "po-bakker"][index]
    later = sign_policy(
        parse_policy(parse_yaml(BASE_TEXT).document),
        OFFICER_KEYS[officer],
        officer_id=officer,
        now=SIGNING_TIME.replace(hour=15),
    )
    new = replace_approval(text, index, later)
    old_lines, new_lines = text.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert changed and all("signed_at" in new_lines[i] or "signature" in new_lines[i]
                           for i in changed)
    approvals = parse_yaml(new).document["approvals"]
    assert approvals[index] == later.to_document()
    assert new.endswith("# trailing comment\n")


def test_replace_refuses_a_missing_approval() -> None:
    with pytest.raises(ApprovalError, match="no approval number 2"):
        replace_approval(append_approval(BASE_TEXT, approval()), 1, approval())


def test_sign_refuses_a_second_approval_unless_it_replaces_a_stale_one() -> None:
    text = append_approval(BASE_TEXT, approval())
    p = parse_policy(parse_yaml(text).document)
    key = OFFICER_KEYS["po-jansen"]
    with pytest.raises(ApprovalError, match="one officer counts once"):
        sign_policy(p, key, officer_id="po-jansen", now=SIGNING_TIME)
    prior = prior_approval(
        p, officer_id="po-jansen", role=ApprovalRole.PRIVACY_OFFICER, key=key, trust=None,
        now=SIGNING_TIME,
    )
    assert prior is not None and prior.index == 0 and not prior.stale
    changed = parse_policy({**parse_yaml(text).document, "cooldown_days": 200})
    prior = prior_approval(
        changed, officer_id="po-jansen", role=ApprovalRole.PRIVACY_OFFICER, key=key, trust=None,
        now=SIGNING_TIME,
    )
    assert prior is not None and prior.stale and "changed after it was signed" in prior.reason
    assert sign_policy(changed, key, officer_id="po-jansen", now=SIGNING_TIME, replaces=0)
    other = OFFICER_KEYS["po-bakker"]
    with pytest.raises(ApprovalError, match="pass --officer-trust"):
        prior_approval(
            changed, officer_id="po-jansen", role=ApprovalRole.PRIVACY_OFFICER, key=other,
            trust=None, now=SIGNING_TIME,
        )
