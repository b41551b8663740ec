"""Digest, approvals, trust file and the in-force verdict."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from crypto.jcs import canonical_bytes
from policies.approvals import (
    APPROVAL_CONTEXT,
    MAX_CLOCK_SKEW,
    approval_message,
    check_approvals,
    sign_policy,
    with_approval,
)
from policies.canonical import canonical_form, policy_digest
from policies.errors import ApprovalError, TrustFileError
from policies.in_force import in_force
from policies.model import ApprovalRole, Policy, parse_policy
from policies.trust import load_trust, parse_trust
from tests.policies.helpers import (
    OFFICER_KEYS,
    SIGNING_TIME,
    STANDING_OVERRIDES,
    document,
    signed,
    trust,
    trust_document,
)

ON = date(2025, 6, 15)


# --- digest ----------------------------------------------------------------------------------


def test_digest_is_sha256_of_jcs_without_approvals() -> None:
    import hashlib

    doc = document()
    assert canonical_form(doc) == canonical_bytes(doc)
    assert policy_digest(doc) == hashlib.sha256(canonical_bytes(doc)).hexdigest()
    assert policy_digest(parse_policy(doc)) == policy_digest(doc)


def test_digest_ignores_approvals_and_key_order() -> None:
    doc = document()
    with_two = signed(doc, "po-jansen", "po-devries")
    assert policy_digest(with_two) == policy_digest(doc)
    reordered = dict(reversed(list(doc.items())))
    assert policy_digest(reordered) == policy_digest(doc)


def test_digest_known_value() -> None:
    """Pins the canonical form: a change of canonicalisation breaks every signature."""
    doc = {"id": "x", "b": [1, "ü"], "a": {"z": True, "y": None}, "approvals": [{"q": 1}]}
    assert canonical_form(doc) == b'{"a":{"y":null,"z":true},"b":[1,"\xc3\xbc"],"id":"x"}'


def test_approval_message_is_domain_separated_and_binds_the_role() -> None:
    m = approval_message(
        "ab" * 32,
        officer_id="po-jansen",
        role=ApprovalRole.PRIVACY_OFFICER,
        key_id="ed25519:00",
        signed_at="2025-01-02T09:30:00Z",
    )
    assert m.startswith(APPROVAL_CONTEXT)
    body = json.loads(m[len(APPROVAL_CONTEXT) :])
    assert body == {
        "digest": "ab" * 32,
        "key_id": "ed25519:00",
        "officer_id": "po-jansen",
        "role": "privacy_officer",
        "signed_at": "2025-01-02T09:30:00Z",
    }


# --- in force --------------------------------------------------------------------------------


def test_two_distinct_privacy_officers_put_a_policy_in_force() -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    v = in_force(p, trust(), ON)
    assert v.in_force, v.reasons
    assert v.privacy_officers == ("po-devries", "po-jansen")
    assert all(c.valid for c in v.approvals)
    assert v.digest == policy_digest(p)


def test_unsigned_and_single_signature_are_not_in_force() -> None:
    assert not in_force(parse_policy(document()), trust(), ON).in_force
    v = in_force(parse_policy(signed(document(), "po-jansen")), trust(), ON)
    assert not v.in_force
    assert v.reasons == ("needs valid approvals of 2 distinct privacy officers, has 1 (po-jansen)",)


def test_one_officer_signing_twice_counts_once() -> None:
    doc = signed(document(), "po-jansen")
    p = parse_policy(doc)
    # The library refuses to add a second approval by the same officer...
    with pytest.raises(ApprovalError, match="already approved"):
        sign_policy(p, OFFICER_KEYS["po-jansen"], officer_id="po-jansen", now=SIGNING_TIME)
    # ...and a document forged to carry two (e.g. signed at another time) still counts one.
    later = SIGNING_TIME.replace(hour=15)
    second = sign_policy(
        parse_policy(document()), OFFICER_KEYS["po-jansen"], officer_id="po-jansen", now=later
    )
    doc2 = with_approval(doc, second)
    p2 = parse_policy(doc2)
    v = in_force(p2, trust(), ON)
    assert [c.valid for c in v.approvals] == [True, True]
    assert not v.in_force and v.privacy_officers == ("po-jansen",)


def test_one_changed_character_after_signing_is_refused() -> None:
    doc = signed(document(), "po-jansen", "po-devries")
    tampered = copy.deepcopy(doc)
    tampered["trigger"]["window_days"] = 91  # 90 -> 91
    v = in_force(parse_policy(tampered), trust(), ON)
    assert not v.in_force
    assert not any(c.valid for c in v.approvals)
    assert all("changed after signing" in c.reason for c in v.approvals)


@pytest.mark.parametrize(
    "field",
    ["title", "purpose", "controller", "valid_until", "processing_activity_id"],
)
def test_every_character_of_every_field_is_covered(field: str) -> None:
    doc = signed(document(), "po-jansen", "po-devries")
    value = doc[field]
    for i in range(len(value)):
        t = copy.deepcopy(doc)
        replacement = "0" if value[i] != "0" else "1"
        t[field] = value[:i] + replacement + value[i + 1 :]
        try:
            p = parse_policy(t)
        except Exception:
            continue  # a change that breaks the schema is refused earlier
        assert not in_force(p, trust(), ON).in_force


def test_changed_recipient_key_is_refused() -> None:
    """A compromised matcher cannot redirect disclosures to its own key."""
    from nacl.public import PrivateKey

    doc = signed(document(), "po-jansen", "po-devries")
    doc["recipient"]["public_key"] = base64.b64encode(
        bytes(PrivateKey.generate().public_key)
    ).decode()
    assert not in_force(parse_policy(doc), trust(), ON).in_force


def test_signature_moved_to_another_officer_id_is_refused() -> None:
    doc = signed(document(), "po-jansen", "po-devries")
    doc["approvals"][1]["officer_id"] = "po-bakker"
    v = in_force(parse_policy(doc), trust(), ON)
    assert not v.in_force
    assert "belongs to po-devries, not to po-bakker" in v.approvals[1].reason


def test_role_relabelled_is_refused() -> None:
    doc = signed(document(**STANDING_OVERRIDES), "po-jansen", "po-devries")
    doc["approvals"][1]["role"] = "independent_review"
    v = in_force(parse_policy(doc), trust(), ON)
    assert not v.in_force
    assert "registered as privacy_officer" in v.approvals[1].reason


def test_unknown_key_does_not_count() -> None:
    from crypto.signing import SigningKey

    stranger = SigningKey(b"\x77" * 32)
    p = parse_policy(signed(document(), "po-jansen"))
    extra = sign_policy(p, stranger, officer_id="po-devries", now=SIGNING_TIME)
    v = in_force(parse_policy(with_approval(p.document(), extra)), trust(), ON)
    assert not v.in_force
    assert "not in the trust file" in v.approvals[1].reason


def test_signature_over_another_policy_does_not_transfer() -> None:
    other = signed(document(id="other-policy"), "po-jansen", "po-devries")
    doc = document()
    doc["approvals"] = other["approvals"]
    assert not in_force(parse_policy(doc), trust(), ON).in_force


@pytest.mark.parametrize(
    ("on", "reason"),
    [
        (date(2024, 12, 31), "not valid before 2025-01-01"),
        (date(2027, 1, 1), "expired on 2026-12-31"),
    ],
)
def test_outside_validity_is_not_in_force(on: date, reason: str) -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    v = in_force(p, trust(), on)
    assert not v.in_force and v.reasons == (reason,)


@pytest.mark.parametrize("on", [date(2025, 1, 1), date(2026, 12, 31)])
def test_validity_dates_are_inclusive(on: date) -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    assert in_force(p, trust(), on).in_force


@pytest.mark.parametrize("how", ["id", "ref", "digest"])
def test_revoked_is_not_in_force(how: str) -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    key = {"id": p.id, "ref": p.ref, "digest": policy_digest(p)}[how]
    v = in_force(p, trust(), ON, revoked={key})
    assert not v.in_force and v.reasons == ("revoked",)
    assert in_force(p, trust(), ON, revoked={"another-policy"}).in_force


def test_revoking_another_version_leaves_this_one() -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    assert in_force(p, trust(), ON, revoked={f"{p.id}@2"}).in_force


def test_standing_needs_the_independent_review() -> None:
    doc = document(**STANDING_OVERRIDES)
    two = parse_policy(signed(doc, "po-jansen", "po-devries"))
    v = in_force(two, trust(), ON)
    assert not v.in_force
    assert v.reasons == (
        "a standing policy needs a valid independent_review approval by ir-visser",
    )
    three = parse_policy(signed(doc, "po-jansen", "po-devries", "ir-visser"))
    v3 = in_force(three, trust(), ON)
    assert v3.in_force, v3.reasons
    assert v3.independent_reviewers == ("ir-visser",)


def test_standing_review_must_be_by_the_named_reviewer() -> None:
    trust_doc = trust_document()
    from crypto.signing import SigningKey

    other = SigningKey(b"\x22" * 32)
    trust_doc["officers"].append(
        {
            "officer_id": "ir-other",
            "organisation": "toetsingscommissie",
            "role": "independent_review",
            "public_key": other.verify_key.to_base64(),
        }
    )
    doc = signed(document(**STANDING_OVERRIDES), "po-jansen", "po-devries")
    approval = sign_policy(
        parse_policy(doc),
        other,
        officer_id="ir-other",
        role=ApprovalRole.INDEPENDENT_REVIEW,
        now=SIGNING_TIME,
    )
    v = in_force(parse_policy(with_approval(doc, approval)), parse_trust(trust_doc), ON)
    assert not v.in_force and v.independent_reviewers == ("ir-other",)


def test_standing_without_named_reviewer_is_not_in_force() -> None:
    overrides = dict(STANDING_OVERRIDES, independent_review=None)
    doc = signed(document(**overrides), "po-jansen", "po-devries", "ir-visser")
    v = in_force(parse_policy(doc), trust(), ON)
    assert v.reasons == ("a standing policy must name its independent_review",)


def test_removing_an_officer_from_the_trust_file_ends_their_approvals() -> None:
    p = parse_policy(signed(document(), "po-jansen", "po-devries"))
    t = trust_document()
    t["officers"] = [o for o in t["officers"] if o["officer_id"] != "po-devries"]
    assert not in_force(p, parse_trust(t), ON).in_force


def test_check_approvals_reports_bad_base64() -> None:
    doc = signed(document(), "po-jansen")
    doc["approvals"][0]["signature"] = "!" * 86 + "=="
    # the schema refuses it first
    with pytest.raises(Exception, match="signature"):
        parse_policy(doc)


def test_signing_time_must_be_aware() -> None:
    with pytest.raises(ApprovalError):
        sign_policy(
            parse_policy(document()),
            OFFICER_KEYS["po-jansen"],
            officer_id="po-jansen",
            now=SIGNING_TIME.replace(tzinfo=None),
        )


def test_signed_at_is_utc_seconds() -> None:
    p = parse_policy(signed(document(), "po-jansen"))
    assert p.approvals[0].signed_at == "2024-12-20T09:30:00Z"
    assert check_approvals(p, trust(), now=SIGNING_TIME)[0].valid


# --- trust file ------------------------------------------------------------------------------


def test_trust_file_round_trip(tmp_path: Path) -> None:
    t = trust()
    f = tmp_path / "officers.json"
    f.write_text(json.dumps(t.to_document()))
    again = load_trust(f)
    assert [o.key_id for o in again] == [o.key_id for o in t]
    y = tmp_path / "officers.yaml"
    import yaml

    y.write_text(yaml.safe_dump(t.to_document()))
    assert len(load_trust(y)) == 4


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(format="x"), "not a trust file"),
        (lambda d: d["officers"][0].update(role="boss"), "'role' must be"),
        (lambda d: d["officers"][0].update(public_key="abc"), "public_key"),
        (lambda d: d["officers"][0].update(key_id="ed25519:0000"), "does not match"),
        (lambda d: d["officers"].append(dict(d["officers"][0])), "listed twice"),
        (lambda d: d["officers"][0].update(colour="red"), "unknown field"),
        (lambda d: d["officers"][3].update(officer_id="po-jansen"), "one role"),
    ],
)
def test_bad_trust_files(mutate: object, words: str) -> None:
    d = trust_document()
    mutate(d)  # type: ignore[operator]
    with pytest.raises(TrustFileError, match=words):
        parse_trust(d)


def test_missing_trust_file(tmp_path: Path) -> None:
    with pytest.raises(TrustFileError, match="cannot read"):
        load_trust(tmp_path / "none.yaml")


# --- signing times: an approval from the future does not count --------------------------------


def _approval_at(signed_at: str, officer: str = "po-devries") -> dict[str, object]:
    """An approval by `officer` with a real signature over `signed_at`, whatever that says."""
    key = OFFICER_KEYS[officer]
    message = approval_message(
        policy_digest(document()),
        officer_id=officer,
        role=ApprovalRole.PRIVACY_OFFICER,
        key_id=key.key_id,
        signed_at=signed_at,
    )
    return {
        "officer_id": officer,
        "role": "privacy_officer",
        "key_id": key.key_id,
        "signed_at": signed_at,
        "signature": base64.b64encode(key.sign_bytes(message)).decode(),
    }


def _with(signed_at: str) -> Policy:
    doc = signed(document(), "po-jansen")
    doc["approvals"].append(_approval_at(signed_at))
    return parse_policy(doc)


def test_an_approval_dated_2099_does_not_count() -> None:
    p = _with("2099-01-01T00:00:00Z")
    now = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    checks = check_approvals(p, trust(), now=now)
    assert [c.valid for c in checks] == [True, False]
    assert checks[1].reason.startswith(
        "signed_at 2099-01-01T00:00:00Z is later than the verification time 2025-06-15T12:00:00Z"
    )
    assert "5 minutes" in checks[1].reason
    for verdict in (in_force(p, trust(), ON, now=now), in_force(p, trust(), ON)):
        assert not verdict.in_force
        assert verdict.privacy_officers == ("po-jansen",)
        assert any(
            r.startswith("the approval by po-devries does not count: signed_at 2099-01-01")
            for r in verdict.reasons
        )


@pytest.mark.parametrize(
    ("signed_at", "counts"),
    [
        ("2025-06-15T12:05:00Z", True),  # exactly the allowed clock skew ahead
        ("2025-06-15T12:05:01Z", False),  # one second more
        ("2025-06-15T11:00:00Z", True),
    ],
)
def test_clock_skew_of_five_minutes_is_allowed_and_no_more(signed_at: str, counts: bool) -> None:
    assert timedelta(minutes=5) == MAX_CLOCK_SKEW
    now = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    assert in_force(_with(signed_at), trust(), ON, now=now).in_force is counts


@pytest.mark.parametrize(
    ("signed_at", "counts"),
    [
        ("2025-06-15T23:59:59Z", True),
        ("2025-06-16T00:04:59Z", True),
        ("2025-06-16T00:05:00Z", False),
    ],
)
def test_without_a_clock_the_end_of_the_day_is_the_verification_time(
    signed_at: str, counts: bool
) -> None:
    assert in_force(_with(signed_at), trust(), ON).in_force is counts


def test_a_signing_time_that_is_no_real_moment_does_not_count() -> None:
    check = check_approvals(_with("2025-02-30T10:00:00Z"), trust(), now=SIGNING_TIME)[1]
    assert not check.valid and "not a real date and time" in check.reason


def test_the_verification_time_must_be_aware() -> None:
    with pytest.raises(ApprovalError):
        check_approvals(_with("2025-01-01T00:00:00Z"), trust(), now=datetime(2025, 6, 15))
