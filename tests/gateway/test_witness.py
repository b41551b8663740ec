"""The gateway as a witness of the central audit log, on logs built with crypto/ (ADR 0024).

The checks (witness_checks.py) are run on real RFC 9162 trees and C2SP signed checkpoints made
here with crypto.merkle and crypto.checkpoint: an honest log that grows, and the same log
rewritten (one leaf changed, then grown), shrunk, or re-rooted at the same size — which case
is which is known by construction. `Witness.look` and `gateway audit check` are then driven
against `TreeLog`, a log kept in memory that signs with the dev PKI's matcher checkpoint key and
checks each cosignature it is handed with crypto.cosignature. The same behaviour against a real
matcher process is in test_witness_e2e.py.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from crypto.checkpoint import Checkpoint as CheckpointBody
from crypto.checkpoint import NoteSigner, NoteVerifier, sign_checkpoint
from crypto.cosignature import CosignatureVerifier, verify_cosignature
from crypto.devsetup import AUDIT_LOG_ORIGIN
from crypto.jcs import canonical_bytes
from crypto.keys import KeyKind, generate_key_file, load_signing_key, load_verify_key
from crypto.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from crypto.signing import SigningKey
from samenloop.v1 import audit_pb2
from services.common.logging import configure_logging
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.audit_check import check
from services.partner_gateway.evidence import DISCLOSED, REFUSED, Evidence
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.settings import load_settings
from services.partner_gateway.store import open_store
from services.partner_gateway.witness import Witness
from services.partner_gateway.witness_checks import (
    BAD_SIGNATURE,
    ENTRY_MISMATCH,
    FIELDS_MISMATCH,
    INCLUSION_FAILED,
    INCONSISTENT,
    ROOT_CHANGED,
    TREE_SHRUNK,
    Alarm,
    TreeHead,
    check_extension,
    check_receipt,
    open_checkpoint,
)
from tests.gateway.conftest import Deployment, gateway_config

HOUSING = "woonstad-rotterdam"


def entry(n: int, name: str = "signal_received", **attributes: str) -> bytes:
    """A leaf shaped like a matcher audit entry (canonical JSON)."""
    return canonical_bytes({"name": name, "span_id": f"{n:016x}",
                            "attributes": {"partner": HOUSING, **attributes}})


def head(leaves: list[bytes]) -> TreeHead:
    return TreeHead(len(leaves), root_hash([leaf_hash(x) for x in leaves]))


def proof(leaves: list[bytes], old: int) -> list[bytes]:
    return consistency_proof([leaf_hash(x) for x in leaves], old)


# --- the checks, on trees built here ------------------------------------------------------

HONEST = [entry(n) for n in range(11)]
REWRITTEN = [*HONEST[:3], entry(3, "signal_withdrawn"), *HONEST[4:]]


def test_an_honest_log_that_grows_extends_every_earlier_head() -> None:
    for old in range(1, 11):
        for new in range(old, 12):
            check_extension(head(HONEST[:old]), head(HONEST[:new]), proof(HONEST[:new], old))
    check_extension(None, head(HONEST))  # the first head is taken on trust
    check_extension(TreeHead(0, head([]).root), head(HONEST))  # anything extends the empty tree


@pytest.mark.parametrize(("old", "new"), [(4, 7), (5, 11), (8, 9), (4, 4)])
def test_a_rewritten_leaf_under_a_verified_head_is_detected(old: int, new: int) -> None:
    """The matcher rewrote leaf 3 after the witness verified `old` leaves, then grew the log;
    its proof is computed honestly over the rewritten tree, and still cannot reach the old
    root."""
    verified = head(HONEST[:old])
    served = head(REWRITTEN[:new])
    code = ROOT_CHANGED if old == new else INCONSISTENT
    with pytest.raises(Alarm) as info:
        check_extension(verified, served, proof(REWRITTEN[:new], old) if new > old else [])
    assert info.value.code == code


def test_a_shrunk_log_and_a_proof_for_other_sizes_are_detected() -> None:
    with pytest.raises(Alarm) as info:
        check_extension(head(HONEST[:8]), head(HONEST[:5]))
    assert info.value.code == TREE_SHRUNK
    with pytest.raises(Alarm) as info:  # a valid proof, but from 4 instead of 5
        check_extension(head(HONEST[:5]), head(HONEST[:9]), proof(HONEST[:9], 4))
    assert info.value.code == INCONSISTENT
    with pytest.raises(Alarm) as info:  # no proof at all
        check_extension(head(HONEST[:5]), head(HONEST[:9]), [])
    assert info.value.code == INCONSISTENT


def _keys(tmp_path: Path) -> tuple[NoteSigner, NoteVerifier]:
    signer = NoteSigner(AUDIT_LOG_ORIGIN, SigningKey.generate())
    return signer, signer.verifier


def test_a_checkpoint_must_be_signed_by_the_pinned_key_for_its_origin(tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path)
    h = head(HONEST)
    good = sign_checkpoint(CheckpointBody(AUDIT_LOG_ORIGIN, h.size, h.root), signer)
    assert open_checkpoint(good, verifier, served_size=h.size, served_root=h.root).size == 11
    other = NoteSigner(AUDIT_LOG_ORIGIN, SigningKey.generate())
    cases = {
        "another key": sign_checkpoint(CheckpointBody(AUDIT_LOG_ORIGIN, h.size, h.root), other),
        # the pinned key, but over the head of another log (origin) it may also sign
        "another origin": sign_checkpoint(CheckpointBody("elders/audit", h.size, h.root),
                                          signer),
        "a changed body": good.replace(f"\n{h.size}\n", f"\n{h.size + 1}\n"),
        "garbage": "not a note",
    }
    for what, note in cases.items():
        with pytest.raises(Alarm) as info:
            open_checkpoint(note, verifier, served_size=h.size, served_root=h.root)
        assert info.value.code == BAD_SIGNATURE, what
    with pytest.raises(Alarm) as info:
        open_checkpoint(good, verifier, served_size=h.size - 1, served_root=h.root)
    assert info.value.code == FIELDS_MISMATCH


def test_a_receipt_must_prove_exactly_this_answer() -> None:
    answer = entry(5, "disclosure_received", reveal_request="revealRequests/r-5")
    leaves = [*HONEST[:5], answer, *HONEST[6:]]
    hashes = [leaf_hash(x) for x in leaves]
    h = head(leaves)
    path = inclusion_proof(hashes, 5)
    check_receipt(h, 5, path, answer, request="revealRequests/r-5", partner=HOUSING,
                  outcome=DISCLOSED)
    wrong = {
        "another request": (5, path, answer, "revealRequests/r-6", HOUSING, DISCLOSED),
        "another partner": (5, path, answer, "revealRequests/r-5", "politie-rotterdam",
                            DISCLOSED),
        "a refusal": (5, path, answer, "revealRequests/r-5", HOUSING, REFUSED),
    }
    # the same answer as a Logboek record (ADR 0023: attributes under `samenloop.`)
    record = canonical_bytes({"name": "disclosure_received", "attributes": {
        "samenloop.reveal_request": "revealRequests/r-5", "samenloop.partner": HOUSING}})
    leaves[5] = record
    check_receipt(head(leaves), 5, inclusion_proof([leaf_hash(x) for x in leaves], 5), record,
                  request="revealRequests/r-5", partner=HOUSING, outcome=DISCLOSED)
    for what, (i, p, leaf, request, partner, outcome) in wrong.items():
        with pytest.raises(Alarm) as info:
            check_receipt(h, i, p, leaf, request=request, partner=partner, outcome=outcome)
        assert info.value.code == ENTRY_MISMATCH, what
    broken = {
        "another index": (4, path, answer),
        "a flipped proof hash": (5, [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]], answer),
        "a changed leaf": (5, path, answer.replace(b"r-5", b"r-7")),
        "no leaf": (5, path, b""),
    }
    for what, (i, p, leaf) in broken.items():
        with pytest.raises(Alarm) as info:
            check_receipt(h, i, p, leaf, request="revealRequests/r-5", partner=HOUSING,
                          outcome=DISCLOSED)
        assert info.value.code == INCLUSION_FAILED, what


# --- the witness, on a log kept in memory -------------------------------------------------


@dataclass
class TreeLog:
    """A central log in memory: RFC 9162 tree over its leaves, checkpoints signed with the
    matcher's checkpoint key, cosignatures checked against the registered witness key."""

    signer: NoteSigner
    witness: CosignatureVerifier
    leaves: list[bytes] = field(default_factory=list)
    cosignatures: dict[tuple[int, bytes], str] = field(default_factory=dict)
    refused: int = 0

    def hashes(self, size: int | None = None) -> list[bytes]:
        return [leaf_hash(x) for x in self.leaves[:size]]

    def latest(self) -> audit_pb2.Checkpoint:
        h = head(self.leaves)
        note = sign_checkpoint(CheckpointBody(AUDIT_LOG_ORIGIN, h.size, h.root), self.signer)
        mine = self.cosignatures.get((h.size, h.root))
        cosigs = [] if mine is None else [audit_pb2.Cosignature(
            witness_name=self.witness.name, signature_line=mine)]
        return audit_pb2.Checkpoint(tree_size=h.size, root_hash=h.root, signed_note=note,
                                    cosignatures=cosigs)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return consistency_proof(self.hashes(second), first)

    def inclusion(self, index: int, tree_size: int) -> audit_pb2.InclusionProof:
        return audit_pb2.InclusionProof(index=index, tree_size=tree_size,
                                        hashes=inclusion_proof(self.hashes(tree_size), index),
                                        leaf=self.leaves[index])

    def add_cosignature(self, tree_size: int, root: bytes, line: str) -> None:
        body = CheckpointBody(AUDIT_LOG_ORIGIN, tree_size, root).to_text()
        verify_cosignature(body, line, self.witness)  # raises if it is not the witness's
        self.cosignatures[(tree_size, root)] = line


@pytest.fixture
def witness_gateway(deployment: Deployment, tmp_path: Path) -> Gateway:
    """A housing gateway with a witness key, pinning the dev PKI's matcher checkpoint key."""
    key = tmp_path / "witness.key"
    generate_key_file(KeyKind.ED25519, key)
    comps = deployment.pki.manifest["components"]
    assert isinstance(comps, dict)
    vkey = comps["matcher"]["keys"]["checkpoint"]["note_vkey"]
    config = gateway_config(deployment, tmp_path / "gw", "housing", "127.0.0.1:9",
                            checkpoint_vkey=vkey, witness_key=str(key))
    gw = Gateway(load_settings(config))
    yield gw
    gw.close()


@pytest.fixture
def tree_log(deployment: Deployment, witness_gateway: Gateway) -> TreeLog:
    signer = NoteSigner(AUDIT_LOG_ORIGIN,
                        load_signing_key(deployment.pki.key_file("matcher", "checkpoint")))
    assert witness_gateway.settings.witness_key is not None
    public = load_verify_key(Path(f"{witness_gateway.settings.witness_key}.pub"))
    return TreeLog(signer, CosignatureVerifier(HOUSING, public))


def test_the_witness_cosigns_a_growing_log_and_proves_its_answers(
        witness_gateway: Gateway, tree_log: TreeLog) -> None:
    witness = Witness(witness_gateway, tree_log, clock=lambda: 1_800_000_000)
    evidence = Evidence(witness_gateway.engine)
    tree_log.leaves = HONEST[:4]
    first = witness.look()
    assert first.new and first.cosigned and first.verdict == "ok"
    assert (4, head(HONEST[:4]).root) in tree_log.cosignatures  # it verified at the "matcher"
    assert witness.look().new is False  # nothing new: nothing stored, nothing cosigned again
    # two answers of this gateway; the log records them at 4 and 6
    evidence.expect_receipt("revealRequests/a", "alerts/x/disclosures/1", DISCLOSED, 4)
    evidence.expect_receipt("revealRequests/b", "alerts/x/disclosures/2", REFUSED, 6)
    tree_log.leaves = [*HONEST[:4],
                       entry(4, "disclosure_received", reveal_request="revealRequests/a"),
                       HONEST[5]]
    grown = witness.look()
    assert grown.new and grown.cosigned and grown.proven == 1  # entry 6 is not in the tree yet
    tree_log.leaves += [entry(6, "disclosure_refused", reveal_request="revealRequests/b"),
                        HONEST[7]]
    assert witness.look().proven == 1
    states = {r.request: r.state for r in evidence.receipts()}
    assert states == {"revealRequests/a": "proven", "revealRequests/b": "proven"}
    seen = evidence.checkpoints()
    assert [(c.tree_size, c.previous_size, c.verdict) for c in seen] == [
        (4, None, "ok"), (6, 4, "ok"), (8, 6, "ok")]
    report = check(witness_gateway, online=False)
    assert report.problems == []
    assert (report.verified_size, report.cosigned, report.proven) == (8, 3, 2)


def test_a_forked_log_raises_the_alarm_and_is_not_cosigned(
        witness_gateway: Gateway, tree_log: TreeLog) -> None:
    stream = io.StringIO()
    configure_logging("gateway", stream=stream)
    witness = Witness(witness_gateway, tree_log)
    tree_log.leaves = HONEST[:6]
    assert witness.look().cosigned
    tree_log.leaves = HONEST[:8]  # grown honestly: `audit check` looks and finds it fine
    report = check(witness_gateway, log=tree_log)
    assert report.problems == [] and (report.verified_size, report.latest_size) == (6, 8)
    tree_log.leaves = REWRITTEN[:9]  # leaf 3 rewritten after the cosignature, then grown
    look = witness.look()
    assert look.verdict == INCONSISTENT and not look.cosigned
    assert (9, head(REWRITTEN[:9]).root) not in tree_log.cosignatures
    assert witness.look().verdict == INCONSISTENT  # still refused on the next look
    stored = Evidence(witness_gateway.engine).checkpoints()
    assert [c.verdict for c in stored] == ["ok", INCONSISTENT]  # evidence kept once
    alarms = AuditLog(witness_gateway.engine).entries(events.CENTRAL_LOG_ALARM)
    assert [a.reason_code for a in alarms] == [INCONSISTENT]
    for online in (False, True):  # found again online, reported once
        report = check(witness_gateway, online=online, log=tree_log)
        assert len(report.problems) == 1 and INCONSISTENT in report.problems[0]
        assert "rewritten or forked" in report.problems[0]
    # an error-level line per look of the witness (the check says it in its own line): code
    # and sizes, nothing from any entry
    configure_logging("gateway-tests", level="WARNING")
    alarms_said = [e for e in map(json.loads, stream.getvalue().splitlines())
                   if e["event"] == "central_log_alarm"]
    assert [(e["level"], e["code"], e["tree_size"], e["verified_size"]) for e in alarms_said] \
        == [("error", INCONSISTENT, 9, 6)] * 2


def test_a_wrong_receipt_is_an_alarm(witness_gateway: Gateway, tree_log: TreeLog) -> None:
    witness = Witness(witness_gateway, tree_log)
    evidence = Evidence(witness_gateway.engine)
    evidence.expect_receipt("revealRequests/a", "alerts/x/disclosures/1", DISCLOSED, 2)
    tree_log.leaves = [*HONEST[:2], entry(2, "disclosure_refused",
                                          reveal_request="revealRequests/a"), HONEST[3]]
    look = witness.look()
    assert look.cosigned and look.verdict == ENTRY_MISMATCH  # the log is consistent, though
    assert "records something else" in check(witness_gateway, online=False).problems[0]


def test_the_check_finds_local_evidence_changed_with_the_guards_dropped(
        witness_gateway: Gateway, tree_log: TreeLog) -> None:
    witness = Witness(witness_gateway, tree_log)
    for size in (3, 7):
        tree_log.leaves = HONEST[:size]
        witness.look()
    assert check(witness_gateway, online=False).problems == []
    engine = witness_gateway.engine
    with engine.begin() as conn:  # someone with the database file
        conn.execute(sa.text("DROP TRIGGER witness_checkpoints_no_update"))
        conn.execute(sa.text("UPDATE witness_checkpoints SET consistency_proof = NULL, "
                             "note = replace(note, '7', '8') WHERE seq = 2"))
    first, second = check(witness_gateway, online=False).problems
    assert "checkpoint #2 is not the one the audit log recorded" in first
    assert "accepted checkpoint #2 (tree size 7) no longer verifies" in second
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        conn.execute(sa.text("UPDATE audit_log SET fields = 'x=1' WHERE seq = 1"))
    problems = check(witness_gateway, online=False).problems
    assert problems[0].startswith("local audit log: entry 1 does not chain")


def test_concurrent_appends_keep_one_chain(db_url: str) -> None:
    """The witness thread and the reveal loop append at once; the chain must not fork."""
    log = AuditLog(open_store(db_url))

    def append(who: str) -> None:
        for n in range(15):
            log.append(events.CHECKPOINT_VERIFIED, fields=[f"by={who}", f"n={n}"])

    threads = [threading.Thread(target=append, args=(w,)) for w in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log.entries()) == 45
    assert log.verify_chain() is None
    log.engine.dispose()
