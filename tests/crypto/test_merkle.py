"""RFC 9162 Merkle trees: the RFC 6962 reference tree, transparency-dev's proof vectors, and
generate/verify agreement for every size and index up to a few dozen leaves."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import MerkleProofError
from crypto.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    consistency_ranges,
    fold_subtrees,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    root_hash,
    root_of_entries,
    subtree_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.crypto._vectors import load
from tests.support.vectors import require_shared_vectors

REFERENCE = load("rfc6962_reference_tree.json")
SUBSET: list[dict[str, Any]] = load("merkle_subset.json")["cases"]
REF_LEAVES = [bytes.fromhex(x) for x in REFERENCE["leaves"]]
REF_HASHES = [leaf_hash(x) for x in REF_LEAVES]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _run_case(case: dict[str, Any]) -> bool:
    """True if the verifier rejected the case."""
    proof = [_b64(p) for p in case["proof"] or []]
    try:
        if "leafIdx" in case:
            verify_inclusion(
                _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"])
            )
        else:
            verify_consistency(
                case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
            )
    except MerkleProofError:
        return True
    return False


def test_reference_tree_roots_for_every_prefix() -> None:
    assert root_hash([]) == EMPTY_ROOT == bytes.fromhex(REFERENCE["empty_root"])
    for size, expected in enumerate(REFERENCE["roots"], start=1):
        assert root_of_entries(REF_LEAVES[:size]).hex() == expected
        assert root_hash(REF_HASHES[:size]).hex() == expected


@pytest.mark.parametrize("case", SUBSET, ids=lambda c: c["file"])
def test_transcribed_proof_vectors(case: dict[str, Any]) -> None:
    assert _run_case(case) == case["wantErr"], case["desc"]


def test_all_196_shared_proof_vectors() -> None:
    folder = require_shared_vectors("merkle")
    files = sorted(Path(folder).rglob("*.json"))
    assert len(files) == 196
    wrong = [
        str(f.relative_to(folder))
        for f in files
        if _run_case(c := json.loads(f.read_text())) != c["wantErr"]
    ]
    assert wrong == []


def test_shared_happy_paths_are_generated_by_our_prover() -> None:
    """The vectors' happy-path proofs are over the reference tree; our generator must agree."""
    folder = require_shared_vectors("merkle")
    checked = 0
    for f in sorted(Path(folder).rglob("happy-path.json")):
        case = json.loads(f.read_text())
        expected = [_b64(p) for p in case["proof"] or []]
        if "leafIdx" in case:
            if case["treeSize"] > len(REF_HASHES):
                continue
            got = inclusion_proof(REF_HASHES[: case["treeSize"]], case["leafIdx"])
        else:
            got = consistency_proof(REF_HASHES[: case["size2"]], case["size1"])
        assert got == expected, f.name
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("size", range(1, 34))
def test_every_inclusion_proof_verifies(size: int) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    root = root_hash(hashes)
    for index in range(size):
        proof = inclusion_proof(hashes, index)
        verify_inclusion(hashes[index], index, size, proof, root)
        with pytest.raises(MerkleProofError):
            verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
        if size > 1:
            with pytest.raises(MerkleProofError):
                verify_inclusion(hashes[index], (index + 1) % size, size, proof, root)


@pytest.mark.parametrize("size", range(1, 34))
def test_every_consistency_proof_verifies(size: int) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    root = root_hash(hashes)
    for old in range(1, size + 1):
        old_root = root_hash(hashes[:old])
        proof = consistency_proof(hashes, old)
        verify_consistency(old, size, proof, old_root, root)
        if old < size:
            with pytest.raises(MerkleProofError):
                verify_consistency(old, size, proof, leaf_hash(b"rewritten"), root)
            with pytest.raises(MerkleProofError):
                verify_consistency(old, size, [*proof, proof[0]], old_root, root)
            with pytest.raises(MerkleProofError):
                verify_consistency(old, size, proof[:-1], old_root, root)


def _from_stored_nodes(hashes: list[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) the way a log with stored complete subtrees computes it."""
    nodes = subtree_nodes(lo, hi)
    covered = [(i << level, (i + 1) << level) for level, i in nodes]
    assert covered[0][0] == lo and covered[-1][1] == hi  # contiguous, left to right
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert all(b - a == 1 << level for (a, b), (level, _) in zip(covered, nodes, strict=True))
    return fold_subtrees([root_hash(hashes[a:b]) for a, b in covered])


@pytest.mark.parametrize("size", range(1, 40))
def test_proofs_from_stored_subtrees_equal_the_rfc_proofs(size: int) -> None:
    # A log that stores complete subtrees answers every proof range from O(log n) nodes.
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    assert _from_stored_nodes(hashes, 0, size) == root_hash(hashes)
    for index in range(size):
        got = [_from_stored_nodes(hashes, lo, hi) for lo, hi in inclusion_ranges(index, size)]
        assert got == inclusion_proof(hashes, index)
    for old in range(1, size + 1):
        got = [_from_stored_nodes(hashes, lo, hi) for lo, hi in consistency_ranges(old, size)]
        assert got == consistency_proof(hashes, old)


def test_subtree_ranges_refuse_other_shapes() -> None:
    assert subtree_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert subtree_nodes(8, 13) == [(2, 2), (0, 12)]
    for lo, hi in ((3, 5), (2, 7), (5, 5), (-1, 3)):
        with pytest.raises(MerkleProofError):
            subtree_nodes(lo, hi)
    with pytest.raises(MerkleProofError):
        fold_subtrees([])


def test_mismatch_error_carries_the_roots() -> None:
    hashes = REF_HASHES[:5]
    root = root_hash(hashes)
    proof = inclusion_proof(hashes, 2)
    with pytest.raises(MerkleProofError) as info:
        verify_inclusion(REF_HASHES[3], 2, 5, proof, root)
    assert info.value.expected == root
    assert info.value.calculated is not None and info.value.calculated != root
    assert root.hex() in str(info.value)


def test_preconditions_are_checked() -> None:
    with pytest.raises(MerkleProofError):
        inclusion_proof(REF_HASHES, 8)
    with pytest.raises(MerkleProofError):
        inclusion_proof([], 0)
    with pytest.raises(MerkleProofError):
        consistency_proof(REF_HASHES, 0)
    with pytest.raises(MerkleProofError):
        consistency_proof(REF_HASHES, 9)
    with pytest.raises(MerkleProofError, match="32-byte"):
        root_hash([b"short"])
    with pytest.raises(MerkleProofError):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(MerkleProofError):
        verify_consistency(3, 2, [], REF_HASHES[0], REF_HASHES[0])


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    # A leaf whose entry is the concatenation of two hashes does not collide with their node.
    a, b = REF_HASHES[0], REF_HASHES[1]
    assert root_hash([a, b]) != leaf_hash(a + b)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_random_sizes(size: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    root = root_hash(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    verify_inclusion(hashes[index], index, size, inclusion_proof(hashes, index), root)
    old = data.draw(st.integers(min_value=1, max_value=size))
    verify_consistency(old, size, consistency_proof(hashes, old), root_hash(hashes[:old]), root)
