"""`audit verify --matcher HOST:PORT`: the same check over the AuditService API.

As a privacy officer of the controller (who may list every entry): ListAuditEntries in leaf
order, ListCheckpoints, and GetConsistencyProof between successive checkpoints, which must
verify against the signed roots. The matcher is not trusted for anything: the keys come from
the verifier's own keys file, and every root is recomputed from the entries it served. Each
page read is itself logged by the matcher (an `audit_entries_listed` entry).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from samenloop.auditverify.core import PURGE_RECORD, CheckpointRecord, Leaf, Report, Trust, verify
from samenloop.v1 import audit_pb2
from services.matcher import logboek

PAGE = 1000
TIMEOUT = 60.0


def _shown(entry: Any) -> dict[str, Any]:
    """The leaf document rebuilt from the entry's served fields (`logboek.record`)."""
    row = {
        "trace_id": entry.trace_id, "span_id": entry.span_id,
        "parent_span_id": entry.parent_span_id, "name": entry.name,
        "start_time": entry.start_time.ToDatetime(), "end_time": entry.end_time.ToDatetime(),
        "status_code": entry.status_code, "actor_organisation": entry.actor_organisation,
        "actor_role": entry.actor_role, "processing_activity_id": entry.processing_activity_id,
        "data_subject_id": entry.data_subject_id,
        "data_subject_id_type": entry.data_subject_id_type,
        "foreign_operation": entry.foreign_operation, "foreign_span_id": entry.foreign_span_id,
        "foreign_processor": entry.foreign_processor, "purpose": entry.purpose,
        "policy_id": entry.policy_id, "policy_version": entry.policy_version or None,
        "policy_digest": entry.policy_digest, "attributes": dict(entry.attributes),
        "entry_format": entry.entry_format or logboek.FORMAT_V1,
    }
    return logboek.record(row)


def _entries(stub: Any, name: str = "") -> Iterator[Any]:
    token = ""
    while True:
        page = stub.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            page_size=PAGE, page_token=token, name=name), timeout=TIMEOUT)
        yield from page.entries
        token = page.next_page_token
        if not token:
            return


def leaves(stub: Any) -> Iterator[Leaf]:
    for entry in _entries(stub):
        if entry.content_purged:
            yield Leaf(entry.index, bytes(entry.leaf_hash), None)
        else:
            yield Leaf(entry.index, bytes(entry.leaf_hash), bytes(entry.leaf), _shown(entry))


def checkpoint_records(stub: Any) -> list[CheckpointRecord]:
    out: list[CheckpointRecord] = []
    token = ""
    while True:
        page = stub.ListCheckpoints(audit_pb2.ListCheckpointsRequest(
            page_size=PAGE, page_token=token), timeout=TIMEOUT)
        out.extend(CheckpointRecord(c.tree_size, bytes(c.root_hash), c.signed_note)
                   for c in page.checkpoints)
        token = page.next_page_token
        if not token:
            return out


def verify_api(stub: Any, trust: Trust, *, require_cosignatures: int = 0) -> Report:
    """The whole check through an AuditService stub (see `core.verify`)."""

    def consistency(first: int, second: int) -> list[bytes]:
        proof = stub.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
            first_tree_size=first, second_tree_size=second), timeout=TIMEOUT)
        return [bytes(h) for h in proof.hashes]

    records = checkpoint_records(stub)
    purges = [(e.index, None if e.content_purged else bytes(e.leaf))
              for e in _entries(stub, PURGE_RECORD)]
    return verify(trust, leaves(stub), records, purges,
                  require_cosignatures=require_cosignatures, consistency=consistency)
