"""Revocation statements, trust files with organisations, the controller rule, reloading.

The signed bytes are written out literally here, and signatures are checked with PyNaCl and
with `cryptography` directly, so a change of the format or of the signing code is caught.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.signing import SigningKey
from policies.approvals import sign_policy, with_approval
from policies.errors import TrustFileError
from policies.in_force import in_force
from policies.model import ApprovalRole, parse_policy
from policies.revocation import (
    Revocation,
    RevocationError,
    sign_revocation,
    verify_revocation,
)
from policies.trust import parse_trust
from policies.trust_file import TrustFile
from tests.policies.helpers import (
    CONTROLLER,
    OFFICER_KEYS,
    SIGNING_TIME,
    document,
    signed,
    trust,
    trust_document,
)

SEED = bytes([11]) * 32  # po-jansen's key in tests/policies/helpers.py
DIGEST = "3f" * 32
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

# RFC 8785 of the body: keys sorted, no spaces, integers plain. Written out by hand.
EXPECTED_MESSAGE = (
    b"samenloop policy revocation v1\n"
    b'{"digest":"' + DIGEST.encode() + b'",'
    b'"key_id":"' + SigningKey(SEED).key_id.encode() + b'",'
    b'"officer_id":"po-jansen","policy_id":"wams-overlast","reason":"dpia_revised",'
    b'"revoked_at":"2026-03-04T05:06:07Z","version":3}'
)


def statement(**changes: Any) -> Revocation:
    fields: dict[str, Any] = {
        "policy_id": "wams-overlast", "version": 3, "digest": DIGEST, "reason": "dpia_revised",
        "key": OFFICER_KEYS["po-jansen"], "officer_id": "po-jansen", "now": NOW,
    }
    fields.update(changes)
    return sign_revocation(**fields)


def test_the_signed_bytes_and_the_signature_match_independent_implementations() -> None:
    r = statement()
    assert r.message() == EXPECTED_MESSAGE
    signature = base64.b64decode(r.signature)
    assert signature == nacl.signing.SigningKey(SEED).sign(EXPECTED_MESSAGE).signature
    assert signature == Ed25519PrivateKey.from_private_bytes(SEED).sign(EXPECTED_MESSAGE)
    nacl.signing.SigningKey(SEED).verify_key.verify(EXPECTED_MESSAGE, signature)
    assert r.to_document() == {
        "policy_id": "wams-overlast", "version": 3, "digest": DIGEST, "reason": "dpia_revised",
        "revoked_at": "2026-03-04T05:06:07Z", "officer_id": "po-jansen",
        "key_id": SigningKey(SEED).key_id, "signature": r.signature,
    }
    assert Revocation.from_document(r.to_document()) == r


def test_a_statement_made_with_pynacl_alone_verifies() -> None:
    """A gateway in another language builds the same bytes: the verifier accepts them."""
    signature = nacl.signing.SigningKey(SEED).sign(EXPECTED_MESSAGE).signature
    r = Revocation("wams-overlast", 3, DIGEST, "dpia_revised", "2026-03-04T05:06:07Z",
                   "po-jansen", SigningKey(SEED).key_id, base64.b64encode(signature).decode())
    assert verify_revocation(r, trust(), controller=CONTROLLER).valid


def test_a_controller_officers_statement_is_valid() -> None:
    check = verify_revocation(statement(), trust(), controller=CONTROLLER, now=NOW)
    assert check.valid and check.officer is not None
    assert check.officer.organisation == CONTROLLER


@pytest.mark.parametrize(
    ("field", "value"),
    [("policy_id", "other"), ("version", 4), ("digest", "40" * 32), ("reason", "end_of_use"),
     ("revoked_at", "2026-03-04T05:06:08Z")],
)
def test_a_changed_field_breaks_the_signature(field: str, value: object) -> None:
    forged = Revocation(**{**statement().to_document(), field: value})
    check = verify_revocation(forged, trust(), controller=CONTROLLER)
    assert not check.valid and "does not verify" in check.reason


def _with_officer(**entry: str) -> Any:
    doc = trust_document()
    doc["officers"].append(entry)
    return parse_trust(doc)


def test_who_may_revoke() -> None:
    # A partner organisation's privacy officer, registered and validly signing: not enough.
    partner = statement(key=OFFICER_KEYS["po-bakker"], officer_id="po-bakker")
    check = verify_revocation(partner, trust(), controller=CONTROLLER)
    assert not check.valid and "not of the controller gemeente-teststad" in check.reason
    # An independent reviewer of the controller's own organisation: not a privacy officer.
    reviewer_key = SigningKey(bytes([31]) * 32)
    t = _with_officer(officer_id="ir-gemeente", organisation=CONTROLLER,
                      role="independent_review",
                      public_key=reviewer_key.verify_key.to_base64())
    check = verify_revocation(statement(key=reviewer_key, officer_id="ir-gemeente"), t,
                              controller=CONTROLLER)
    assert not check.valid and "only a privacy officer revokes" in check.reason
    # A key not in the trust file.
    stranger = statement(key=SigningKey(bytes([99]) * 32))
    check = verify_revocation(stranger, trust(), controller=CONTROLLER)
    assert not check.valid and "not in the trust file" in check.reason
    # Another officer's registered key under one's own name.
    borrowed = statement(key=OFFICER_KEYS["po-devries"])
    check = verify_revocation(borrowed, trust(), controller=CONTROLLER)
    assert not check.valid and "belongs to po-devries" in check.reason
    # The signer removed from the trust file.
    doc = trust_document()
    doc["officers"] = [o for o in doc["officers"] if o["officer_id"] != "po-jansen"]
    assert not verify_revocation(statement(), parse_trust(doc), controller=CONTROLLER).valid


def test_revoked_at_may_not_be_in_the_future() -> None:
    r = statement(now=NOW + timedelta(minutes=4))
    assert verify_revocation(r, trust(), controller=CONTROLLER, now=NOW).valid
    r = statement(now=NOW + timedelta(minutes=6))
    check = verify_revocation(r, trust(), controller=CONTROLLER, now=NOW)
    assert not check.valid and "in the future" in check.reason
    # A naive `now` is UTC.
    assert not verify_revocation(r, trust(), controller=CONTROLLER,
                                 now=NOW.replace(tzinfo=None)).valid


def test_reasons_are_codes() -> None:
    with pytest.raises(RevocationError, match="not a revocation reason code"):
        statement(reason="DPIA herzien door mw. Jansen")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"version": "3"}, "'version' must be a positive integer"),
        ({"version": 0}, "'version' must be a positive integer"),
        ({"digest": "ABC"}, "'digest' must be 64 lowercase hex"),
        ({"revoked_at": "2026-03-04 05:06"}, "'revoked_at' must be"),
        ({"reason": "free text"}, "not a revocation reason code"),
        ({"colour": "red"}, "unknown field"),
        ({"signature": None}, "'signature' must be text"),
    ],
)
def test_malformed_statements(change: dict[str, Any], words: str) -> None:
    doc = {**statement().to_document(), **change}
    with pytest.raises(RevocationError, match=words):
        Revocation.from_document(doc)


def test_missing_field() -> None:
    doc = statement().to_document()
    del doc["key_id"]
    with pytest.raises(RevocationError, match="missing field"):
        Revocation.from_document(doc)


# --- trust file: organisations --------------------------------------------------------------


def test_a_v1_trust_file_is_refused_with_what_to_do() -> None:
    doc = trust_document()
    doc["format"] = "samenloop-officers/v1"
    with pytest.raises(TrustFileError, match="add `organisation: <organisation id>` to every"):
        parse_trust(doc)


def test_every_officer_names_one_organisation() -> None:
    doc = trust_document()
    del doc["officers"][0]["organisation"]
    with pytest.raises(TrustFileError, match=r"officers\[0\] \(po-jansen\): 'organisation'"):
        parse_trust(doc)
    doc = trust_document()
    second = dict(doc["officers"][0], organisation="elders",
                  public_key=SigningKey(bytes([77]) * 32).verify_key.to_base64())
    doc["officers"].append(second)
    with pytest.raises(TrustFileError, match="acts for one organisation"):
        parse_trust(doc)
    assert {o.officer_id for o in trust().of_organisation(CONTROLLER)} == {
        "po-jansen", "po-devries"}


def test_the_controller_must_have_approved() -> None:
    """With the controller named, two privacy officers of a partner are not enough."""
    on = date(2025, 6, 15)
    doc = trust_document()
    bakker2 = SigningKey(bytes([14]) * 32)
    doc["officers"].append({"officer_id": "po-bakker2", "organisation": "woonstad-teststad",
                            "role": "privacy_officer",
                            "public_key": bakker2.verify_key.to_base64()})
    t = parse_trust(doc)
    policy_doc = signed(document(), "po-bakker")
    policy_doc = with_approval(policy_doc, sign_policy(
        parse_policy(policy_doc), bakker2, officer_id="po-bakker2",
        role=ApprovalRole.PRIVACY_OFFICER, now=SIGNING_TIME))
    policy = parse_policy(policy_doc)
    assert in_force(policy, t, on).in_force  # without a controller: the old rule
    verdict = in_force(policy, t, on, controller=CONTROLLER)
    assert verdict.reasons == (
        "needs a valid approval by a privacy officer of the controller gemeente-teststad",)
    mixed = parse_policy(signed(document(), "po-jansen", "po-bakker"))
    assert in_force(mixed, t, on, controller=CONTROLLER).in_force


# --- the trust file follows its file -----------------------------------------------------


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    os.replace(tmp, path)  # atomic, as docs/policies.md asks


def test_trust_file_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "officers.yaml"
    _write(path, trust_document())
    errors: list[TrustFileError] = []
    tf = TrustFile(path, on_error=errors.append)
    first, trust_now = tf.snapshot()
    assert len(trust_now) == 4
    assert tf.snapshot()[0] == first  # unchanged file: not re-read
    smaller = trust_document()
    smaller["officers"] = [o for o in smaller["officers"] if o["officer_id"] != "po-jansen"]
    _write(path, smaller)
    generation, trust_now = tf.snapshot()
    assert generation > first and {o.officer_id for o in trust_now} == {
        "po-devries", "po-bakker", "ir-visser"}
    # A broken file trusts nobody (fail closed) and says why, once.
    path.write_text("format: samenloop-officers/v2\nofficers: 7\n")
    assert len(tf.current()) == 0 and len(tf.current()) == 0
    assert len(errors) == 1 and "'officers' must be a list" in str(errors[0])
    _write(path, trust_document())
    assert len(tf.current()) == 4


def test_reload_reads_a_copy_that_kept_its_mtime_and_size(tmp_path: Path) -> None:
    """`cp -p` can put other officers in place with the old mtime and the same size:
    `reload()` (SIGHUP at the matcher) re-reads in any case."""
    path = tmp_path / "officers.yaml"
    _write(path, trust_document())
    tf = TrustFile(path)
    stamp = os.stat(path)
    swapped = trust_document()  # po-jansen and po-devries exchange keys: same size
    first, second = swapped["officers"][0], swapped["officers"][1]
    first["public_key"], second["public_key"] = second["public_key"], first["public_key"]
    path.write_text(yaml.safe_dump(swapped))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (stamp.st_size,
                                                                  stamp.st_mtime_ns)
    jansen = OFFICER_KEYS["po-jansen"].key_id
    # (current() notices it through the ctime, unless the rewrite fell in the same clock tick
    # as the first write; reload() does not depend on timestamps at all.)
    generation = tf.generation
    assert tf.reload().by_key_id(jansen).officer_id == "po-devries"  # type: ignore[union-attr]
    assert tf.generation == generation + 1


def test_a_missing_trust_file_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TrustFileError, match="cannot read"):
        TrustFile(tmp_path / "none.yaml")
