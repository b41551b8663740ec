"""What a witness checks before it cosigns, as pure functions over bytes (ADR 0024).

A gateway witnesses the matcher's audit log (C2SP tlog-witness, pulled): the latest checkpoint
must carry the matcher's signature under the pinned key, the served size and root must be the
signed ones, and the tree must extend the last checkpoint this gateway verified — never shrink,
never change its root at the same size, and otherwise come with a consistency proof
(RFC 9162 2.1.4) from the old head to the new. Each failure is an `Alarm` with a code; the
message names sizes and hashes only, never an entry's content.

For its own disclosures the gateway also checks an inclusion proof (RFC 9162 2.1.3) of the
matcher's entry against a verified checkpoint, and that the entry's leaf records exactly that
answer: the reveal request, this partner, disclosed or refused.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from crypto.checkpoint import Checkpoint, NoteVerifier, verify_checkpoint
from crypto.errors import CheckpointError, MerkleProofError
from crypto.merkle import leaf_hash, verify_consistency, verify_inclusion

BAD_SIGNATURE: Final = "checkpoint_signature_invalid"
FIELDS_MISMATCH: Final = "checkpoint_fields_mismatch"
TREE_SHRUNK: Final = "tree_shrunk"
ROOT_CHANGED: Final = "same_size_different_root"
INCONSISTENT: Final = "consistency_proof_failed"
INCLUSION_FAILED: Final = "inclusion_proof_failed"
ENTRY_MISMATCH: Final = "entry_not_this_answer"

ALARMS: Final[Mapping[str, str]] = {
    BAD_SIGNATURE: "a checkpoint does not carry a valid signature by the pinned matcher key",
    FIELDS_MISMATCH: "the matcher served a tree size or root other than the one it signed",
    TREE_SHRUNK: "the central log is smaller than a checkpoint this gateway already verified",
    ROOT_CHANGED: "the central log has another root at a size this gateway already verified",
    INCONSISTENT: "the central log does not extend the checkpoint this gateway last verified "
                  "(rewritten or forked)",
    INCLUSION_FAILED: "the matcher's inclusion proof of one of this gateway's answers fails",
    ENTRY_MISMATCH: "the matcher's audit entry for one of this gateway's answers records "
                    "something else",
}
"""Every alarm code and what it means, for the log line and `gateway audit check`."""

ANSWER_EVENTS: Final[Mapping[str, str]] = {
    "disclosed": "disclosure_received",
    "refused": "disclosure_refused",
}
"""The matcher's event name for each answer this gateway can give."""


class Alarm(Exception):
    """The central log is not what a witness may cosign: `code` says why (ALARMS)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{ALARMS[code]}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes

    def __str__(self) -> str:
        return f"size {self.size} root {self.root.hex()[:16]}…"


def open_checkpoint(note: str, verifier: NoteVerifier, *, served_size: int,
                    served_root: bytes) -> Checkpoint:
    """The checkpoint in a signed note, signed by `verifier` for its origin, as served."""
    try:
        checkpoint = verify_checkpoint(note, [verifier], origin=verifier.name)
    except CheckpointError as exc:
        raise Alarm(BAD_SIGNATURE, str(exc)) from None
    if checkpoint.size != served_size or not hmac.compare_digest(checkpoint.root_hash,
                                                                 bytes(served_root)):
        raise Alarm(FIELDS_MISMATCH, f"served size {served_size}, signed {checkpoint.size}")
    return checkpoint


def needs_consistency_proof(previous: TreeHead | None, current: TreeHead) -> bool:
    """A proof is asked for only when a non-empty verified head is followed by a larger one."""
    return previous is not None and 0 < previous.size < current.size


def check_extension(previous: TreeHead | None, current: TreeHead,
                    proof: Sequence[bytes] = ()) -> None:
    """Raise `Alarm` unless `current` extends `previous` (None: nothing verified yet).

    The first checkpoint a gateway sees is taken on trust (as every witness starts); from then
    on every head must be consistent with the last one verified.
    """
    if previous is None:
        return
    if current.size < previous.size:
        raise Alarm(TREE_SHRUNK, f"now {current}, verified before {previous}")
    if current.size == previous.size:
        if not hmac.compare_digest(current.root, previous.root):
            raise Alarm(ROOT_CHANGED, f"now {current}, verified before {previous}")
        return
    if previous.size == 0:
        return  # every tree extends the empty one
    try:
        verify_consistency(previous.size, current.size, list(proof), previous.root,
                           current.root)
    except MerkleProofError as exc:
        raise Alarm(INCONSISTENT, f"from {previous} to {current}: {exc}") from None


def check_receipt(head: TreeHead, index: int, proof: Sequence[bytes], leaf: bytes, *,
                  request: str, partner: str, outcome: str) -> None:
    """Raise `Alarm` unless `leaf` is at `index` under `head` and records this answer."""
    if not leaf:
        raise Alarm(INCLUSION_FAILED, f"no leaf served for entry {index}")
    try:
        verify_inclusion(leaf_hash(leaf), index, head.size, list(proof), head.root)
    except MerkleProofError as exc:
        raise Alarm(INCLUSION_FAILED, f"entry {index} under {head}: {exc}") from None
    recorded = _answer_in(leaf)
    expected = (ANSWER_EVENTS[outcome], request, partner)
    if recorded != expected:
        raise Alarm(ENTRY_MISMATCH, f"entry {index} is not the {outcome} answer to {request}")


def _answer_in(leaf: bytes) -> tuple[str, str, str] | None:
    """(event name, reveal request, partner) recorded in a leaf, or None if unreadable.

    Both entry formats: ADR 0009's (`attributes.reveal_request`) and the Logboek record's
    (`attributes["samenloop.reveal_request"]`, ADR 0023).
    """
    try:
        doc: Any = json.loads(leaf)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("attributes"), dict):
        return None
    attributes = doc["attributes"]

    def attribute(name: str) -> str:
        return str(attributes.get(name, attributes.get(f"samenloop.{name}", "")))

    return str(doc.get("name", "")), attribute("reveal_request"), attribute("partner")
