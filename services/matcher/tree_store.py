"""The audit log's RFC 9162 tree in the database: leaves, complete subtrees, proofs.

A leaf is one sequenced audit entry (`audit_leaves`: leaf index, event id, leaf hash). Each
complete subtree gets its hash stored once, when its last leaf is appended
(`audit_tree_nodes`: level >= 1 and index; level 0 is the leaf hash itself). Every range a root
or a proof needs is a complete subtree or a suffix made of at most log2(n) of them
(`crypto.merkle.subtree_nodes`), so a proof at a million leaves reads a few dozen rows and hashes
nothing but the suffixes: no request rebuilds the tree.

Appending needs only the right edge of the tree, the complete subtrees that make up [0, n)
(the compact range), which are stored nodes too. The functions take a connection and do not
lock; the sequencer (`sequencer.py`) serialises appends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crypto.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    fold_subtrees,
    inclusion_ranges,
    node_hash,
    subtree_nodes,
)
from services.matcher.schema import audit_leaves, audit_tree_nodes, audit_tree_state
from services.matcher.store import chunks

Node = tuple[int, int]
"""(level, index): the complete subtree over leaves [index * 2**level, (index + 1) * 2**level)."""


class TreeCorrupt(Exception):
    """A stored node or leaf the tree needs is missing: the tables were changed by hand."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


def tree_head(conn: sa.Connection, *, lock: bool = False) -> TreeHead:
    """The current tree head. With `lock` (PostgreSQL: FOR UPDATE) concurrent sequencers on
    other replicas wait here until this transaction ends; SQLite serialises writers anyway."""
    query = sa.select(audit_tree_state.c.tree_size, audit_tree_state.c.root_hash).where(
        audit_tree_state.c.id == 1)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return TreeHead(int(row.tree_size), bytes(row.root_hash))


def node_hashes(conn: sa.Connection, nodes: Iterable[Node]) -> dict[Node, bytes]:
    """The stored hashes of complete subtrees; raises `TreeCorrupt` if one is missing."""
    wanted = set(nodes)
    by_level: dict[int, set[int]] = defaultdict(set)
    for level, index in wanted:
        by_level[level].add(index)
    found: dict[Node, bytes] = {}
    for index_part in chunks(sorted(by_level.pop(0, set()))):
        for row in conn.execute(sa.select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash)
                                .where(audit_leaves.c.leaf_index.in_(index_part))):
            found[(0, int(row.leaf_index))] = bytes(row.leaf_hash)
    if by_level:
        clauses = [sa.and_(audit_tree_nodes.c.level == level,
                           audit_tree_nodes.c.node_index.in_(sorted(indexes)))
                   for level, indexes in sorted(by_level.items())]
        for row in conn.execute(sa.select(audit_tree_nodes).where(sa.or_(*clauses))):
            found[(int(row.level), int(row.node_index))] = bytes(row.hash)
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing)
        raise TreeCorrupt(f"the audit tree has no stored node at level {level} index {index}")
    return found


def range_hashes(conn: sa.Connection, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH(D[lo:hi]) for each range, from stored subtrees (one round trip per table)."""
    decomposed = [subtree_nodes(lo, hi) for lo, hi in ranges]
    stored = node_hashes(conn, (n for nodes in decomposed for n in nodes))
    return [fold_subtrees([stored[n] for n in nodes]) for nodes in decomposed]


def root_at(conn: sa.Connection, size: int) -> bytes:
    """The root of the tree of the first `size` leaves (any size up to the current one)."""
    if size == 0:
        return EMPTY_ROOT
    [root] = range_hashes(conn, [(0, size)])
    return root


def inclusion_proof(conn: sa.Connection, index: int, size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[size]). Requires 0 <= index < size <= the current size."""
    return range_hashes(conn, inclusion_ranges(index, size))


def consistency_proof(conn: sa.Connection, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[new_size]). Requires 0 < old_size <= new_size <= current."""
    return range_hashes(conn, consistency_ranges(old_size, new_size))


def append(
    conn: sa.Connection, head: TreeHead, leaves: Sequence[tuple[int, bytes]], now: datetime
) -> TreeHead:
    """Append (event id, leaf hash) pairs after `head`; store leaves, new nodes, the new head.

    The caller holds the sequencing lock and passes the head it read under it.
    """
    if not leaves:
        return head
    edge = subtree_nodes(0, head.size) if head.size else []
    stored = node_hashes(conn, edge)
    stack: list[tuple[int, int, bytes]] = [(lvl, i, stored[(lvl, i)]) for lvl, i in edge]
    new_nodes: list[dict[str, object]] = []
    leaf_rows: list[dict[str, object]] = []
    for offset, (event_id, digest) in enumerate(leaves):
        position = head.size + offset
        leaf_rows.append({"leaf_index": position, "event_id": event_id, "leaf_hash": digest,
                          "sequenced_at": now})
        level, index, value = 0, position, digest
        while stack and stack[-1][0] == level:
            _, _, left = stack.pop()
            level, index, value = level + 1, index >> 1, node_hash(left, value)
            new_nodes.append({"level": level, "node_index": index, "hash": value})
        stack.append((level, index, value))
    for part in chunks(leaf_rows):
        conn.execute(sa.insert(audit_leaves), part)
    for part in chunks(new_nodes):
        conn.execute(sa.insert(audit_tree_nodes), part)
    new_head = TreeHead(head.size + len(leaves), fold_subtrees([h for _, _, h in stack]))
    conn.execute(audit_tree_state.update().where(audit_tree_state.c.id == 1)
                 .values(tree_size=new_head.size, root_hash=new_head.root, updated_at=now))
    return new_head


def leaf_index_of(conn: sa.Connection, event_id: int) -> int | None:
    """The leaf index of an audit entry (its row id), or None while it is not sequenced."""
    value = conn.execute(sa.select(audit_leaves.c.leaf_index)
                         .where(audit_leaves.c.event_id == event_id)).scalar_one_or_none()
    return None if value is None else int(value)
