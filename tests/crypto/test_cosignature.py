"""C2SP tlog-cosignature `cosignature/v1`: a real witnessed checkpoint, the spec's example,
round trips, and every way a cosignature must be refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from crypto.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    open_note,
    sign_checkpoint,
    verify_checkpoint,
)
from crypto.cosignature import (
    CosignatureError,
    CosignatureVerifier,
    Cosigner,
    cosign_checkpoint,
    cosignature_key_id,
    cosigned_message,
    parse_cosignature,
    verified_cosigners,
    verify_cosignature,
)
from crypto.errors import CheckpointError
from crypto.signing import SigningKey
from tests.crypto._vectors import load

EX: dict[str, Any] = load("tlog_cosignature_examples.json")
REAL = EX["witnessed_checkpoint"]


def test_real_witness_cosignature_verifies() -> None:
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    assert witness.vkey == REAL["witness_vkey"]  # key id 0xda77ade7 recomputed with type 0x04
    assert witness.key_id == 0xDA77ADE7
    cosig = verify_cosignature(REAL["body"], REAL["witness_line"], witness)
    assert cosig.timestamp == REAL["witness_timestamp"]
    assert cosig.line() == REAL["witness_line"]


def test_real_note_log_signature_and_cosignature_are_kept_apart() -> None:
    log = NoteVerifier.from_vkey(REAL["log_vkey"])
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    origin = "arche2025h1.staging.ct.transparency.dev"
    checkpoint = verify_checkpoint(REAL["note"], [log], origin=origin)
    assert checkpoint.size == 1432088532
    found = verified_cosigners(REAL["note"], [witness])
    assert list(found) == ["remora.n621.de"]
    assert found["remora.n621.de"].timestamp == REAL["witness_timestamp"]
    # The witness key as a plain (type 0x01) note key has another key id: its line is skipped.
    as_note_key = NoteVerifier(witness.name, witness.public_key)
    with pytest.raises(CheckpointError, match="not signed by any trusted key"):
        open_note(REAL["note"], [as_note_key])


def test_real_cosignature_refused_for_another_checkpoint() -> None:
    witness = CosignatureVerifier.from_vkey(REAL["witness_vkey"])
    other = REAL["body"].replace("1432088532", "1432088533")
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(other, REAL["witness_line"], witness)
    with pytest.raises(CosignatureError, match="does not verify"):
        verified_cosigners(REAL["note"].replace("1432088532", "1432088533"), [witness])


def test_c2sp_example_line_and_message() -> None:
    ex = EX["c2sp_example"]
    cosig = parse_cosignature(ex["line"])
    assert cosig.name == "witness.example.com/w1"
    assert cosig.timestamp == ex["timestamp"]
    assert len(cosig.signature) == 64
    assert cosig.line() == ex["line"]
    assert cosigned_message(ex["body"], ex["timestamp"]) == ex["signed_message"].encode()


def test_transparency_dev_formats_timestamp() -> None:
    ex = EX["formats_timestamp"]
    line = "— w " + ex["blob_base64"]
    assert parse_cosignature(line).timestamp == ex["timestamp"]


def _witness(name: str = "woonstad-rotterdam") -> Cosigner:
    return Cosigner(name, SigningKey(bytes(range(32))))


BODY = Checkpoint("samenloop.example/audit", 7, bytes(32)).to_text()


def test_round_trip_and_signed_bytes_computed_independently() -> None:
    import nacl.signing

    signer = _witness()
    line = cosign_checkpoint(BODY, signer, 1_700_000_000)
    assert not line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == signer.key_id.to_bytes(4, "big")
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    # Ed25519 is deterministic: the same bytes signed by PyNaCl directly give the same signature.
    message = b"cosignature/v1\ntime 1700000000\n" + BODY.encode()
    assert blob[12:] == nacl.signing.SigningKey(bytes(range(32))).sign(message).signature
    assert verify_cosignature(BODY, line + "\n", signer.verifier).timestamp == 1_700_000_000
    assert CosignatureVerifier.from_vkey(signer.verifier.vkey) == signer.verifier


def test_cosigned_note_k_of_n() -> None:
    log = NoteSigner("samenloop.example/audit", SigningKey(bytes([9] * 32)))
    a, b = _witness("partner-a"), Cosigner("partner-b", SigningKey(bytes([7] * 32)))
    note = sign_checkpoint(Checkpoint("samenloop.example/audit", 7, bytes(32)), log)
    note += cosign_checkpoint(BODY, a, 10) + "\n" + cosign_checkpoint(BODY, b, 11) + "\n"
    verify_checkpoint(note, [log.verifier])  # the log's own signature still verifies
    assert set(verified_cosigners(note, [a.verifier, b.verifier])) == {"partner-a", "partner-b"}
    assert set(verified_cosigners(note, [b.verifier])) == {"partner-b"}


def test_refusals() -> None:
    signer = _witness()
    line = cosign_checkpoint(BODY, signer, 100)
    other = Cosigner("woonstad-rotterdam", SigningKey(bytes([1] * 32)))
    with pytest.raises(CosignatureError, match="expected witness"):
        verify_cosignature(BODY, line, other.verifier)  # same name, other key
    renamed = Cosigner("another-partner", signer.key)
    with pytest.raises(CosignatureError, match="expected witness"):
        verify_cosignature(BODY, line, renamed.verifier)  # same key, other name
    with pytest.raises(CosignatureError, match="future"):
        verify_cosignature(BODY, line, signer.verifier, not_after=99)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1  # the timestamp is signed
    forged = "— woonstad-rotterdam " + base64.b64encode(bytes(blob)).decode()
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(BODY, forged, signer.verifier)
    for bad in ("woonstad-rotterdam abc", "— woonstad-rotterdam !!", "— a b c",
                "— woonstad-rotterdam " + base64.b64encode(bytes(68)).decode()):
        with pytest.raises(CosignatureError):
            parse_cosignature(bad)
    for ts in (-1, 2**63):
        with pytest.raises(CosignatureError):
            cosign_checkpoint(BODY, signer, ts)
    with pytest.raises(CheckpointError):
        cosign_checkpoint("not a checkpoint\n", signer, 1)
    for vkey in ("x+00000000+" + base64.b64encode(bytes([4]) + bytes(32)).decode(),
                 signer.verifier.vkey.replace("+B", "+A", 1), "x+zz+AAAA"):
        with pytest.raises(CheckpointError):
            CosignatureVerifier.from_vkey(vkey)
    assert cosignature_key_id("woonstad-rotterdam", signer.key.verify_key) == signer.key_id
    assert "PRIVATE" not in repr(signer) and repr(signer).startswith("Cosigner(woonstad")
