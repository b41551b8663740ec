"""`samenloop audit verify`, the check itself: recompute the tree, hold it against every
signed checkpoint, count the witnesses, and name the first entry that does not fit.

Pure over plain values, so the database and the API feed the same check (`database.py`,
`api.py`). The walk goes through the leaves once, in leaf order, with O(log n) memory:

1. each leaf sits at the next index (no gap, no repeat, no leaf of an entry seen before);
2. an entry's bytes hash to its leaf hash (RFC 9162), and the fields shown for it (columns in
   the database, fields over the API), made into the Logboek record again
   (`services.matcher.logboek.record`), are what its bytes say;
3. an entry without content lies in a range a later retention purge record names;
4. at every checkpoint size: the note is signed by the log's key for its origin, the root of
   the leaves so far is the signed root, the checkpoint is consistent with the one before (the
   proof from the source must verify too), and each cosignature by a known witness verifies;
5. at the end: no checkpoint is larger than the log, and with `require_cosignatures` K some
   checkpoint carries K cosignatures of the given witnesses.

The first failure stops the walk and is the report's one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crypto.checkpoint import NoteVerifier, verify_checkpoint
from crypto.cosignature import CosignatureError, CosignatureVerifier, verified_cosigners
from crypto.errors import CheckpointError, MerkleProofError
from crypto.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    fold_subtrees,
    leaf_hash,
    node_hash,
    verify_consistency,
)

PURGE_RECORD = "audit_entries_purged"
"""The name of the entry a retention purge writes (services/matcher/audit_retention.py)."""


@dataclass(frozen=True)
class Leaf:
    """One leaf as a source holds it."""

    index: int
    leaf_hash: bytes
    content: bytes | None
    """The entry's leaf bytes; None when the source has no content for it."""
    shown: Mapping[str, Any] | None = None
    """The leaf document rebuilt from what the source shows for the entry (its columns or API
    fields); None when the source shows nothing besides the bytes."""
    label: str = ""
    """How the source names the entry, e.g. `row 23`."""
    event_id: int | None = None


@dataclass(frozen=True)
class CheckpointRecord:
    tree_size: int
    root_hash: bytes
    signed_note: str


@dataclass(frozen=True)
class Trust:
    """Whom the verifier believes: the log's checkpoint key (its name is the log's origin)
    and the witnesses' cosignature keys."""

    log: NoteVerifier
    witnesses: tuple[CosignatureVerifier, ...] = ()


@dataclass(frozen=True)
class PurgeRange:
    record_leaf: int
    first: int
    end: int
    content: bytes


@dataclass
class Report:
    ok: bool = True
    problem: str | None = None
    leaf: int | None = None
    """The first leaf that does not fit (None when the problem is not one leaf's)."""
    entries: int = 0
    checkpoints: int = 0
    latest_checkpoint: int = 0
    witnessed_size: int = 0
    """The largest checkpoint with at least `require_cosignatures` cosignatures."""
    most_cosignatures: int = 0
    purged: int = 0
    origin: str = ""

    @property
    def unsigned_tail(self) -> int:
        return max(0, self.entries - self.latest_checkpoint)

    def summary(self, require: int) -> str:
        if not self.ok:
            return f"audit log does not verify: {self.problem}"
        text = (f"audit log verified: {self.entries} entries, {self.checkpoints} checkpoints "
                f"signed by {self.origin}, each consistent with the one before")
        if require:
            text += (f"; entries up to {self.witnessed_size} witnessed by at least {require} "
                     "partners")
        if self.purged:
            text += f"; {self.purged} purged after retention (leaf hashes kept)"
        if self.unsigned_tail:
            text += f"; {self.unsigned_tail} newest not yet in a checkpoint"
        return text


class Failure(Exception):
    def __init__(self, message: str, leaf: int | None = None) -> None:
        super().__init__(message)
        self.leaf = leaf


def purge_range(index: int, content: bytes | None) -> PurgeRange | None:
    """The range a purge record names, or None if the leaf is not a purge record."""
    if content is None:
        return None
    try:
        doc = json.loads(content)
        if doc.get("name") != PURGE_RECORD:
            return None
        attributes = doc["attributes"]
        prefix = "samenloop." if "samenloop.first_leaf" in attributes else ""  # record v2, v1
        first = int(attributes[prefix + "first_leaf"])
        end = int(attributes[prefix + "end_leaf"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return PurgeRange(index, first, end, bytes(content))


def first_difference(shown: Any, logged: Any, path: str = "") -> str | None:
    """The first key (dotted path, in sorted order) where two documents differ; None if equal."""
    if isinstance(shown, Mapping) and isinstance(logged, Mapping):
        for key in sorted(set(shown) | set(logged), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in shown or key not in logged:
                return where
            found = first_difference(shown[key], logged[key], where)
            if found is not None:
                return found
        return None
    return None if shown == logged else (path or "the document")


def _describe(leaf: Leaf, doc: Mapping[str, Any] | None = None) -> str:
    parts = [p for p in (leaf.label, str(doc.get("name", "")) if doc else "") if p]
    return f"leaf {leaf.index}" + (f" ({', '.join(parts)})" if parts else "")


class _Walk:
    def __init__(self, trust: Trust, require: int, checkpoints: Sequence[CheckpointRecord],
                 purges: Sequence[PurgeRange],
                 consistency: Callable[[int, int], Sequence[bytes]] | None,
                 localize: Callable[[int, int], str | None] | None) -> None:
        self.trust = trust
        self.require = require
        self.consistency = consistency
        self.localize = localize
        self.report = Report(origin=f"{trust.log.name}+{trust.log.key_id:08x}")
        self.purges = {p.record_leaf: p for p in purges}
        self.checkpoints = sorted(checkpoints, key=lambda c: c.tree_size)
        self.next_checkpoint = 0
        self.stack: list[tuple[int, bytes]] = []  # (size, hash) complete subtrees, the right edge
        self.size = 0
        self.seen_events: set[int] = set()
        self.previous: CheckpointRecord | None = None

    def root(self) -> bytes:
        return fold_subtrees([h for _, h in self.stack]) if self.stack else EMPTY_ROOT

    def covered(self, index: int) -> bool:
        return any(p.first <= index < p.end and p.record_leaf > index
                   for p in self.purges.values())

    def leaf(self, leaf: Leaf) -> None:
        if leaf.index != self.size:
            what = "is missing" if leaf.index > self.size else "appears again or out of order"
            raise Failure(f"leaf {self.size} {what}: the next stored leaf is {leaf.index} "
                          "(leaves were removed, inserted or renumbered)", self.size)
        if len(leaf.leaf_hash) != HASH_SIZE:
            raise Failure(f"{_describe(leaf)} has no valid leaf hash", leaf.index)
        if leaf.event_id is not None:
            if leaf.event_id in self.seen_events:
                raise Failure(f"{_describe(leaf)} is an entry already in the log at an earlier "
                              "leaf (a copied leaf)", leaf.index)
            self.seen_events.add(leaf.event_id)
        if leaf.content is None:
            if not self.covered(leaf.index):
                raise Failure(f"{_describe(leaf)}: its content is missing and no retention "
                              "purge record covers it: the entry was deleted", leaf.index)
            self.report.purged += 1
        else:
            self._content(leaf)
        self._append(leaf.leaf_hash)
        while (self.next_checkpoint < len(self.checkpoints)
               and self.checkpoints[self.next_checkpoint].tree_size == self.size):
            self._checkpoint(self.checkpoints[self.next_checkpoint])
            self.next_checkpoint += 1

    def _content(self, leaf: Leaf) -> None:
        content = leaf.content
        assert content is not None
        if leaf_hash(content) != leaf.leaf_hash:
            raise Failure(f"{_describe(leaf)}: its content does not hash to the leaf hash it "
                          "was sequenced with: the entry was changed after it was logged",
                          leaf.index)
        try:
            doc = json.loads(content)
        except ValueError:
            raise Failure(f"{_describe(leaf)}: its content is not the JSON it was logged as",
                          leaf.index) from None
        if leaf.shown is not None:
            key = first_difference(leaf.shown, doc)
            if key is not None:
                raise Failure(f"{_describe(leaf, doc)}: its stored `{key}` differs from the "
                              "logged entry: the entry was changed after it was logged",
                              leaf.index)
        record = self.purges.get(leaf.index)
        if record is not None and record.content != content:
            raise Failure(f"{_describe(leaf, doc)}: the purge record read first differs from "
                          "the one in the log", leaf.index)

    def _append(self, digest: bytes) -> None:
        size, value = 1, digest
        while self.stack and self.stack[-1][0] == size:
            _, left = self.stack.pop()
            size, value = size * 2, node_hash(left, value)
        self.stack.append((size, value))
        self.size += 1

    def _checkpoint(self, record: CheckpointRecord) -> None:
        s = record.tree_size
        where = f"the checkpoint at tree size {s}"
        try:
            checkpoint = verify_checkpoint(record.signed_note, [self.trust.log],
                                           origin=self.trust.log.name)
        except CheckpointError as exc:
            raise Failure(f"{where}: {exc}", None) from None
        if checkpoint.size != s or checkpoint.root_hash != record.root_hash:
            raise Failure(f"{where}: its stored size or root differs from its signed note")
        start = self.previous.tree_size if self.previous else 0
        if self.root() != checkpoint.root_hash:
            hint = self.localize(start, s) if self.localize else None
            first = f"leaves {start} to {s - 1}" if s - start > 1 else f"leaf {start}"
            raise Failure(hint or f"{first} do not fit {where}, signed before: the log was "
                          "rewritten after it was signed", start)
        if self.previous is not None and self.consistency is not None:
            try:
                verify_consistency(self.previous.tree_size, s,
                                   list(self.consistency(self.previous.tree_size, s)),
                                   self.previous.root_hash, checkpoint.root_hash)
            except MerkleProofError as exc:
                raise Failure(f"the consistency proof from tree size {self.previous.tree_size} "
                              f"to {s} does not verify: {exc}") from None
        try:
            cosigned = verified_cosigners(record.signed_note, self.trust.witnesses)
        except CosignatureError as exc:
            raise Failure(f"{where}: {exc}") from None
        self.report.most_cosignatures = max(self.report.most_cosignatures, len(cosigned))
        if self.require and len(cosigned) >= self.require:
            self.report.witnessed_size = s
        self.report.checkpoints += 1
        self.report.latest_checkpoint = s
        self.previous = record

    def forks(self) -> None:
        seen: dict[int, bytes] = {}
        for record in self.checkpoints:
            if seen.setdefault(record.tree_size, record.root_hash) != record.root_hash:
                raise Failure(f"two checkpoints at tree size {record.tree_size} with different "
                              "roots: a forked log")

    def finish(self) -> None:
        self.report.entries = self.size
        if self.next_checkpoint < len(self.checkpoints):
            s = self.checkpoints[self.next_checkpoint].tree_size
            raise Failure(f"the checkpoint at tree size {s} is larger than the log "
                          f"({self.size} leaves): leaves from {self.size} on were removed",
                          self.size)
        if self.require and self.report.witnessed_size == 0:
            raise Failure(f"no checkpoint carries {self.require} valid cosignatures of the "
                          f"given witnesses (at most {self.report.most_cosignatures})")


def verify(
    trust: Trust,
    leaves: Iterable[Leaf],
    checkpoints: Sequence[CheckpointRecord],
    purge_records: Iterable[tuple[int, bytes | None]] = (),
    *,
    require_cosignatures: int = 0,
    consistency: Callable[[int, int], Sequence[bytes]] | None = None,
    localize: Callable[[int, int], str | None] | None = None,
) -> Report:
    """Walk the log once (see the module docstring) and report the first problem.

    `purge_records` are the (leaf index, content) of the purge record entries, read before the
    walk; the walk checks that each is the entry in the tree. `consistency(a, b)` gives the
    source's consistency proof between two checkpoint sizes; `localize(a, b)` may name the
    first leaf in [a, b) that changed when the root at b does not match.
    """
    purges = [r for i, c in purge_records if (r := purge_range(i, c)) is not None]
    walk = _Walk(trust, require_cosignatures, checkpoints, purges, consistency, localize)
    try:
        walk.forks()
        for leaf in leaves:
            walk.leaf(leaf)
        walk.finish()
    except Failure as exc:
        walk.report.ok = False
        walk.report.problem = str(exc)
        walk.report.leaf = exc.leaf
        walk.report.entries = walk.size
    return walk.report
