"""Merkle tree log primitives with RFC 9162 (RFC 6962) hashing.

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

A tree of n leaves splits at k, the largest power of two below n: the left subtree is always
complete, so any size works, not only powers of two. Proof generation follows RFC 9162 section
2.1.3.1 (PATH) and 2.1.4.1 (SUBPROOF); verification follows 2.1.3.2 and 2.1.4.2, walking the
binary expansions of the index and sizes so no tree is rebuilt.

Generation takes the list of *leaf hashes* (what a log stores); `leaf_hash(entry)` makes them.
Verification raises `MerkleProofError` (with expected and calculated roots on a mismatch) and
returns None on success. Every hash must be exactly 32 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from crypto.errors import MerkleProofError

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of a log entry as a leaf."""
    return hashlib.sha256(b"\x00" + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else "non-bytes"
        raise MerkleProofError(f"{what} must be a {HASH_SIZE}-byte hash, got {size}")


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) over leaf hashes; bottom-up, so deep trees need no recursion."""
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    # Fold complete power-of-two subtrees left to right on a stack (a compact range), then
    # merge what remains right to left; this gives the RFC's split-at-largest-power-of-two tree.
    stack: list[tuple[int, bytes]] = []  # (size, hash)
    for i in range(lo, hi):
        size, h = 1, hashes[i]
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, h = left_size + size, node_hash(left, h)
        stack.append((size, h))
    _, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = node_hash(left, root)
    return root


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head (MTH) of the leaves whose hashes are given, in order."""
    for i, h in enumerate(leaf_hashes):
        _check_hash(h, f"leaf hash {i}")
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def root_of_entries(entries: Sequence[bytes]) -> bytes:
    """The tree head of raw entries (each is hashed with `leaf_hash`)."""
    return _mth([leaf_hash(e) for e in entries], 0, len(entries))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [lo, hi) whose tree heads form PATH(index, D[size]), nearest the leaf
    first (RFC 9162 2.1.3.1). Requires 0 <= index < size.

    Every range is either a complete subtree aligned to its size or a suffix [lo, size), so a
    log that stores its complete subtrees answers each with `subtree_nodes` lookups
    (see services/matcher/tree_store.py) instead of rehashing leaves.
    """
    if not 0 <= index < size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m = lo + k, m - k
    ranges.reverse()  # PATH lists the sibling nearest the leaf first
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose tree heads form PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1).

    Requires 0 < old_size <= new_size; empty when the sizes are equal.
    """
    if not 0 < old_size <= new_size:
        raise MerkleProofError(
            f"old size {old_size} must be in 1..{new_size} for a tree of size {new_size}")
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def subtree_nodes(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete subtrees that make up leaves [lo, hi), left to right, as (level, index).

    A node at `level` and `index` covers leaves [index * 2**level, (index + 1) * 2**level).
    Requires 0 <= lo < hi and lo a multiple of the largest power of two <= hi - lo, which
    holds for [0, n) and for every range of `inclusion_ranges` and `consistency_ranges`;
    then `fold_subtrees` of their hashes is MTH(D[lo:hi]).
    """
    if not 0 <= lo < hi:
        raise MerkleProofError(f"[{lo}, {hi}) is not a non-empty leaf range")
    top = 1 << ((hi - lo).bit_length() - 1)
    if lo % top:
        raise MerkleProofError(f"[{lo}, {hi}) is not a range of the RFC 9162 tree shape")
    nodes: list[tuple[int, int]] = []
    size = top
    while lo < hi:
        while size > hi - lo:
            size >>= 1
        nodes.append((size.bit_length() - 1, lo // size))
        lo += size
    return nodes


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its `subtree_nodes`, in order (merged right to left)."""
    if not hashes:
        raise MerkleProofError("a range needs at least one subtree hash")
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (RFC 9162 2.1.3.1). Requires 0 <= index < n."""
    return [_mth(leaf_hashes, lo, hi)
            for lo, hi in inclusion_ranges(index, len(leaf_hashes))]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 2.1.4.1). Requires 0 < old_size <= n; empty if old_size == n."""
    return [_mth(leaf_hashes, lo, hi)
            for lo, hi in consistency_ranges(old_size, len(leaf_hashes))]


def _mismatch(what: str, expected: bytes, calculated: bytes) -> MerkleProofError:
    return MerkleProofError(what, expected=bytes(expected), calculated=calculated)


def root_from_inclusion_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 2.1.3.2 steps 1-5, without the compare).

    Requires 0 <= index < tree_size and 32-byte hashes; raises `MerkleProofError` if the proof
    has the wrong length for that position.
    """
    _check_hash(leaf, "leaf hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof element {i}")
    if not 0 <= index < tree_size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    fn, sn, r = index, tree_size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            raise MerkleProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` (a leaf hash) is at `index` in the tree of `tree_size` with `root`."""
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(leaf, index, tree_size, proof)
    if not hmac.compare_digest(calculated, root):
        raise _mismatch("inclusion proof does not lead to the root", root, calculated)


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree (`new_size`, `new_root`) extends (`old_size`, `old_root`).

    Requires 0 < old_size <= new_size: a proof from the empty tree proves nothing and is
    refused (as in transparency-dev/merkle's test suite). Equal sizes need an empty proof and
    equal roots; otherwise every hash must be 32 bytes.
    """
    if old_size <= 0:
        raise MerkleProofError("a consistency proof needs an old size of at least 1")
    if new_size < old_size:
        raise MerkleProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == new_size:
        # Nothing is hashed: the claim is only that the two roots are the same value. Like
        # transparency-dev/merkle (whose suite has this case), compare them as given.
        if proof:
            raise MerkleProofError("equal sizes need an empty consistency proof")
        if not hmac.compare_digest(bytes(old_root), bytes(new_root)):
            raise _mismatch("equal sizes but different roots", new_root, bytes(old_root))
        return
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof element {i}")
    path = list(proof)
    if not path:
        raise MerkleProofError("consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("consistency proof is shorter than needed")
    if not hmac.compare_digest(fr, old_root):
        raise _mismatch("consistency proof does not lead to the old root", old_root, fr)
    if not hmac.compare_digest(sr, new_root):
        raise _mismatch("consistency proof does not lead to the new root", new_root, sr)
