"""AuditService: entries and subject access, the Merkle tree's checkpoints, proofs and
cosignatures (ADR 0022)."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from samenloop.v1 import audit_pb2, audit_pb2_grpc
from services.matcher.checkpoints import CheckpointView
from services.matcher.service import Matcher
from services.matcher.servicers._common import (
    caller,
    handle,
    pseudonym_in,
    timestamp,
    timestamp_value,
)
from services.matcher.views import AuditEntryView


def entry_message(view: AuditEntryView) -> audit_pb2.AuditEntry:
    if view.content_purged:
        return audit_pb2.AuditEntry(index=view.index, leaf_hash=view.leaf_hash,
                                    content_purged=True)
    r = view.row
    return audit_pb2.AuditEntry(
        index=view.index,
        trace_id=r["trace_id"],
        span_id=r["span_id"],
        parent_span_id=r["parent_span_id"],
        name=r["name"],
        start_time=timestamp(r["start_time"]),
        end_time=timestamp(r["end_time"]),
        status_code=r["status_code"],
        actor_organisation=r["actor_organisation"],
        actor_role=r["actor_role"],
        processing_activity_id=r["processing_activity_id"],
        data_subject_id=r["data_subject_id"],
        data_subject_id_type=r["data_subject_id_type"],
        foreign_operation=r["foreign_operation"],
        attributes={str(k): str(v) for k, v in dict(r["attributes"]).items()},
        leaf=bytes(r["leaf"]),
        foreign_span_id=r.get("foreign_span_id") or "",
        foreign_processor=r.get("foreign_processor") or "",
        purpose=r.get("purpose") or "",
        policy_id=r.get("policy_id") or "",
        policy_version=int(r.get("policy_version") or 0),
        policy_digest=r.get("policy_digest") or "",
        entry_format=int(r.get("entry_format") or 1),
        leaf_hash=view.leaf_hash,
    )


def checkpoint_message(view: CheckpointView) -> audit_pb2.Checkpoint:
    return audit_pb2.Checkpoint(
        tree_size=view.tree_size,
        root_hash=view.root_hash,
        signed_note=view.signed_note,
        create_time=timestamp(view.created_at),
        cosignatures=[
            audit_pb2.Cosignature(witness_name=c.witness,
                                  time=Timestamp(seconds=c.cosigned_at),
                                  signature_line=c.signature_line)
            for c in view.cosignatures
        ],
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @handle
    def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        since = None
        if request.HasField("since"):
            since = timestamp_value(request.since, "since")
        views, token = self.matcher.list_audit_entries(
            caller(context), request.page_size, request.page_token, request.name,
            request.processing_activity_id, since=since, policy_id=request.policy_id,
        )
        return audit_pb2.ListAuditEntriesResponse(
            entries=[entry_message(v) for v in views], next_page_token=token
        )

    @handle
    def LookupSubject(
        self, request: audit_pb2.LookupSubjectRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        views, token = self.matcher.lookup_subject(
            caller(context), pseudonym_in(request, "subject"), request.subject_type,
            request.page_size, request.page_token,
        )
        return audit_pb2.ListAuditEntriesResponse(
            entries=[entry_message(v) for v in views], next_page_token=token
        )

    @handle
    def GetCheckpoint(
        self, request: audit_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> audit_pb2.Checkpoint:
        return checkpoint_message(self.matcher.get_checkpoint(caller(context), request.tree_size))

    @handle
    def ListCheckpoints(
        self, request: audit_pb2.ListCheckpointsRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListCheckpointsResponse:
        views, token = self.matcher.list_checkpoints(
            caller(context), request.page_size, request.page_token, request.min_tree_size)
        return audit_pb2.ListCheckpointsResponse(
            checkpoints=[checkpoint_message(v) for v in views], next_page_token=token)

    @handle
    def GetInclusionProof(
        self, request: audit_pb2.GetInclusionProofRequest, context: grpc.ServicerContext
    ) -> audit_pb2.InclusionProof:
        view = self.matcher.get_inclusion_proof(caller(context), request.index, request.tree_size)
        return audit_pb2.InclusionProof(index=view.index, tree_size=view.tree_size,
                                        hashes=view.hashes, leaf=view.leaf,
                                        leaf_hash=view.leaf_hash)

    @handle
    def GetConsistencyProof(
        self, request: audit_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ConsistencyProof:
        view = self.matcher.get_consistency_proof(
            caller(context), request.first_tree_size, request.second_tree_size)
        return audit_pb2.ConsistencyProof(first_tree_size=view.first_tree_size,
                                          second_tree_size=view.second_tree_size,
                                          hashes=view.hashes)

    @handle
    def AddCosignature(
        self, request: audit_pb2.AddCosignatureRequest, context: grpc.ServicerContext
    ) -> audit_pb2.Checkpoint:
        return checkpoint_message(self.matcher.add_cosignature(
            caller(context), request.tree_size, request.root_hash, request.signature_line))
