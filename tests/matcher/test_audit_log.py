"""The Merkle audit log over the API (ADR 0022): a disclosure is provable at once, gateways
fetch only their own proofs and witness checkpoints, and `audit verify` checks it all remotely.

A real matcher on loopback over mTLS, on SQLite and PostgreSQL. Oracles: hashlib for leaf
hashes, crypto.merkle's RFC 9162 verifiers, the keys published in the dev PKI's manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from crypto.checkpoint import NoteVerifier, verify_checkpoint
from crypto.cosignature import (
    CosignatureVerifier,
    Cosigner,
    cosign_checkpoint,
    verified_cosigners,
)
from crypto.keys import load_signing_key, load_verify_key
from crypto.merkle import verify_consistency, verify_inclusion
from samenloop.auditverify.api import verify_api
from samenloop.auditverify.core import Trust
from samenloop.v1 import audit_pb2, audit_pb2_grpc
from services.common.db import create_engine, migrate
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.server import serve
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness, registered_partners, settings_for
from tests.matcher.helpers import GGZ, HOUSING, POLICE, Pki, build_matcher_for_test
from tests.matcher.test_reveal import make_alert

WITNESSES = (HOUSING, POLICE)  # GGZ registers no witness key here


@pytest.fixture
def witnessed(db_url: str, pki: Pki, pseudonymiser: Pseudonymiser, tmp_path: Path
              ) -> Iterator[Harness]:
    """The matcher fixture, with witness keys registered for two partners."""
    migrate(MIGRATIONS, db_url)
    engine = create_engine(db_url)
    clock = SettableClock(SystemClock().now())
    trust = tmp_path / "officers.yaml"
    shutil.copy(pki.trust, trust)
    registered = registered_partners(pki)
    partners = {**registered, **{org: dataclasses.replace(
        registered[org], witness_key=load_verify_key(
            pki.dir / f"gateway-{org}" / "witness.key.pub")) for org in WITNESSES}}
    m = build_matcher_for_test(engine, pki, settings_for(pki, pseudonymiser, partners=partners),
                               clock, trust)
    server = serve(m, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=8)
    harness = Harness(pki, pseudonymiser, m, server, clock, trust)
    yield harness
    harness.close()
    server.stop(0)
    engine.dispose()


def _key(pki: Pki, component: str, purpose: str, field: str) -> str:
    return str(pki.component(component)["keys"][purpose][field])


def _cosign(pki: Pki, org: str, checkpoint: audit_pb2.Checkpoint, *, key: str = "witness",
            name: str | None = None) -> str:
    body = checkpoint.signed_note.split("\n\n", 1)[0] + "\n"
    signer = Cosigner(name or org, load_signing_key(pki.dir / f"gateway-{org}" / f"{key}.key"))
    return cosign_checkpoint(body, signer, int(time.time()))


def test_disclosure_is_provable_at_once_and_witnessed(witnessed: Harness) -> None:
    h = witnessed
    pki = h.pki
    log_key = NoteVerifier.from_vkey(_key(pki, "matcher", "checkpoint", "note_vkey"))
    make_alert(h)
    housing = h.gateway(HOUSING)
    [rr] = housing.pull()
    answer = housing.disclose(rr, {"postcode": "3071AB", "huisnummer": "1",
                                   "geslachtsnaam": "Jansen"})
    leaf = answer.audit_index

    # At once: a signed checkpoint covers the entry, and its own gateway gets the proof.
    gw_audit = h.stub("gateway-woonstad-rotterdam", audit_pb2_grpc.AuditServiceStub)
    proof = gw_audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=leaf),
                                       timeout=10)
    checkpoint = gw_audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(
        tree_size=proof.tree_size), timeout=10)
    signed = verify_checkpoint(checkpoint.signed_note, [log_key], origin=log_key.name)
    assert signed.size == proof.tree_size > leaf and signed.root_hash == checkpoint.root_hash
    assert proof.leaf_hash == hashlib.sha256(b"\x00" + proof.leaf).digest()
    verify_inclusion(proof.leaf_hash, leaf, proof.tree_size, list(proof.hashes),
                     signed.root_hash)
    entry = json.loads(proof.leaf)
    assert entry["name"] == "disclosure_received"
    assert entry["attributes"]["samenloop.disclosure"] == answer.disclosure  # Logboek record
    # Another partner's gateway gets nothing about it, as if it were not there.
    with pytest.raises(grpc.RpcError) as err:
        h.stub("gateway-politie-rotterdam", audit_pb2_grpc.AuditServiceStub).GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(index=leaf), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        gw_audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
            index=leaf, tree_size=proof.tree_size + 10_000), timeout=10)
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE

    # Every entry is a leaf: indexes 0..n-1, leaf hashes of the bytes; the proof read is one.
    auditor = h.auditor()
    entries = list(auditor.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000),
                                            timeout=10).entries)
    assert [e.index for e in entries] == list(range(len(entries)))
    assert all(e.leaf_hash == hashlib.sha256(b"\x00" + e.leaf).digest() for e in entries)
    [read] = [e for e in entries if e.name == "inclusion_proof_served"]
    assert read.actor_organisation == HOUSING and read.attributes["leaf_index"] == str(leaf)
    assert read.data_subject_id == json.loads(proof.leaf)["attributes"][
        "dpl.core.data_subject_id"]  # the read is about the disclosed entry's subject

    # Consistency between the first and the latest checkpoint.
    listed = list(auditor.ListCheckpoints(audit_pb2.ListCheckpointsRequest(), timeout=10)
                  .checkpoints)
    police_audit = h.stub("gateway-politie-rotterdam", audit_pb2_grpc.AuditServiceStub)
    first = listed[0]
    latest = police_audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=10)
    consistency = gw_audit.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
        first_tree_size=first.tree_size), timeout=10)
    assert consistency.second_tree_size == latest.tree_size
    verify_consistency(first.tree_size, latest.tree_size, list(consistency.hashes),
                       first.root_hash, latest.root_hash)

    # Witnesses: each partner's gateway cosigns with its own key; the note carries the lines.
    for org in WITNESSES:
        stub = h.stub(f"gateway-{org}", audit_pb2_grpc.AuditServiceStub)
        stub.AddCosignature(audit_pb2.AddCosignatureRequest(
            tree_size=latest.tree_size, root_hash=latest.root_hash,
            signature_line=_cosign(pki, org, latest)), timeout=10)
    served = auditor.GetCheckpoint(audit_pb2.GetCheckpointRequest(tree_size=latest.tree_size),
                                   timeout=10)
    witnesses = [CosignatureVerifier.from_vkey(_key(pki, f"gateway-{o}", "witness",
                                                    "cosignature_vkey")) for o in WITNESSES]
    assert set(verified_cosigners(served.signed_note, witnesses)) == set(WITNESSES)
    assert {c.witness_name for c in served.cosignatures} == set(WITNESSES)
    verify_checkpoint(served.signed_note, [log_key])  # the log's own signature still holds

    refusals = [  # (caller, request, code)
        (POLICE, dict(signature_line=_cosign(pki, POLICE, latest, name=HOUSING)),
         grpc.StatusCode.PERMISSION_DENIED),  # a line in another witness's name
        (HOUSING, dict(signature_line=_cosign(pki, HOUSING, latest, key="disclosure")),
         grpc.StatusCode.INVALID_ARGUMENT),  # not its registered witness key
        (HOUSING, dict(signature_line=_cosign(pki, HOUSING, latest), root_hash=b"\x01" * 32),
         grpc.StatusCode.INVALID_ARGUMENT),  # a checkpoint the matcher did not sign
        (HOUSING, dict(signature_line=_cosign(pki, HOUSING, latest),
                       tree_size=latest.tree_size + 1), grpc.StatusCode.NOT_FOUND),
        (GGZ, dict(signature_line=_cosign(pki, GGZ, latest)),
         grpc.StatusCode.FAILED_PRECONDITION),  # no witness key registered
    ]
    for org, fields, code in refusals:
        request = {"tree_size": latest.tree_size, "root_hash": latest.root_hash, **fields}
        with pytest.raises(grpc.RpcError) as err:
            h.stub(f"gateway-{org}", audit_pb2_grpc.AuditServiceStub).AddCosignature(
                audit_pb2.AddCosignatureRequest(**request), timeout=10)  # type: ignore[arg-type]
        assert err.value.code() == code, (org, fields, err.value.details())

    # And the whole log verifies over the API, two witnesses required.
    report = verify_api(auditor, Trust(log_key, tuple(witnesses)), require_cosignatures=2)
    assert report.ok, report.problem
    assert report.witnessed_size == latest.tree_size and report.entries >= latest.tree_size

