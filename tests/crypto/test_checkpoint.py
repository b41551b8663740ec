"""C2SP signed notes and tlog-checkpoints: the published examples, round trips, rejections."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from crypto.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    note_key_id,
    open_note,
    parse_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from crypto.errors import CheckpointError, CryptoError
from crypto.merkle import leaf_hash, root_hash
from crypto.signing import SigningKey
from tests.crypto._vectors import load

EX: dict[str, Any] = load("signed_note_examples.json")
GO = EX["go_sumdb_note"]


def test_go_reference_keys_parse_and_round_trip() -> None:
    signer = NoteSigner.from_skey(GO["skey"])
    verifier = NoteVerifier.from_vkey(GO["vkey"])
    assert signer.skey == GO["skey"]
    assert verifier.vkey == GO["vkey"]
    assert signer.verifier == verifier
    assert signer.key_id == 0xC74F20A3 == note_key_id("PeterNeumann", verifier.public_key)


def test_go_reference_note_is_reproduced_byte_for_byte() -> None:
    # Ed25519 is deterministic, so signing the published text must give the published note.
    assert sign_note(GO["text"], [NoteSigner.from_skey(GO["skey"])]) == GO["note"]


def test_go_reference_note_opens() -> None:
    note, verified = open_note(GO["note"], [NoteVerifier.from_vkey(GO["vkey"])])
    assert note.text == GO["text"]
    assert [v.name for v in verified] == ["PeterNeumann"]


def test_tampered_note_is_rejected() -> None:
    verifier = NoteVerifier.from_vkey(GO["vkey"])
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(GO["note"].replace("cryptography", "cryptographY"), [verifier])


def test_c2sp_signed_note_example_parses() -> None:
    ex = EX["c2sp_signed_note"]
    note = parse_note(ex["note"])
    assert note.text == ex["text"]  # the text keeps its inner blank line
    (sig,) = note.signatures
    assert sig.name == ex["key_name"]
    assert len(sig.signature) == 64
    assert note.to_text() == ex["note"]


def test_c2sp_checkpoint_example_parses() -> None:
    ex = EX["c2sp_tlog_checkpoint"]
    note = parse_note(ex["note"])
    cp = parse_checkpoint(note.text)
    assert cp.origin == ex["origin"]
    assert cp.size == ex["size"]
    assert cp.root_hash == base64.b64decode(ex["root_base64"])
    assert cp.to_text() == note.text
    assert note.signatures[0].name == ex["origin"]


def test_unknown_keys_are_ignored_and_a_note_without_known_key_rejected() -> None:
    go = NoteVerifier.from_vkey(GO["vkey"])
    with pytest.raises(CheckpointError, match="not signed by any trusted key"):
        open_note(EX["c2sp_tlog_checkpoint"]["note"], [go])
    # A known signature next to an unknown one verifies.
    other = NoteSigner("example.org/other", SigningKey.generate())
    note = parse_note(GO["note"])
    both = sign_note(note.text, [other], existing=note.signatures)
    _, verified = open_note(both, [go])
    assert verified == [go]


def test_same_name_other_key_is_unknown_not_trusted() -> None:
    impostor = NoteSigner("PeterNeumann", SigningKey.generate())
    forged = sign_note(GO["text"], [impostor])
    with pytest.raises(CheckpointError, match="not signed by any trusted key"):
        open_note(forged, [NoteVerifier.from_vkey(GO["vkey"])])


def test_checkpoint_sign_and_verify() -> None:
    hashes = [leaf_hash(f"event {i}".encode()) for i in range(11)]
    signer = NoteSigner("samenloop.example/audit", SigningKey.generate())
    cp = Checkpoint("samenloop.example/audit", 11, root_hash(hashes))
    signed = sign_checkpoint(cp, signer)
    assert verify_checkpoint(signed, [signer.verifier], origin="samenloop.example/audit") == cp
    with pytest.raises(CheckpointError, match="expected"):
        verify_checkpoint(signed, [signer.verifier], origin="other.example/log")
    altered = signed.replace("\n11\n", "\n12\n")
    with pytest.raises(CheckpointError):
        verify_checkpoint(altered, [signer.verifier])


def test_checkpoint_with_extensions_and_empty_tree() -> None:
    cp = Checkpoint("o.example/log", 0, root_hash([]), ("ext line",))
    assert parse_checkpoint(cp.to_text()) == cp
    assert cp.to_text().split("\n")[1] == "0"


@pytest.mark.parametrize(
    "text",
    [
        "origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # leading zero
        "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n12\nnot base64\n",
        "origin\n12\nAAAA\n",  # not 32 bytes
        "origin\n12\n",  # missing root
        "\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # empty origin
        "origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",  # empty extension
        "origin\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  # no final newline
    ],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "note",
    [
        "text without blank line\n\u2014 k AAAAAAA=\n",
        "text\n\n",  # no signatures
        "text\n\n- k AAAAAAAA\n",  # hyphen, not em dash
        "text\n\n\u2014 k AAAAAAAA",  # no final newline
        "text\n\n\u2014 k+x AAAAAAAA\n",  # '+' in the key name
        "text\n\n\u2014 k AAAA\n",  # too short for id + signature
        "text\n\n\u2014 k !!!!\n",
        "te\x07xt\n\n\u2014 k AAAAAAAA\n",  # control character
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(CheckpointError):
        parse_note(note)


def test_duplicate_signature_from_one_key_is_rejected() -> None:
    note = GO["note"] + GO["note"].split("\n\n")[1]
    with pytest.raises(CheckpointError, match="two signatures"):
        open_note(note, [NoteVerifier.from_vkey(GO["vkey"])])


@pytest.mark.parametrize(
    "vkey",
    [
        GO["vkey"].replace("c74f20a3", "c74f20a4"),  # id does not match
        GO["vkey"].replace("PeterNeumann", "PeterNeumanm"),
        GO["vkey"][:-2],
        "PeterNeumann+c74f20a3",
        GO["vkey"].replace("+ARpc", "+AhpC"),  # wrong type byte
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(CryptoError):  # CheckpointError or InvalidPublicKey
        NoteVerifier.from_vkey(vkey)


def test_signer_repr_hides_the_key() -> None:
    signer = NoteSigner.from_skey(GO["skey"])
    assert "AYEKFALV" not in repr(signer)
