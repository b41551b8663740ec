"""The audit log's Merkle tree as use cases: sequencing, checkpoints, proofs, cosignatures.

AuditService's GetCheckpoint, ListCheckpoints, GetInclusionProof, GetConsistencyProof and
AddCosignature (ADR 0022); the storage is `tree_store.py`, `sequencer.py`, `checkpoints.py`.
Who may ask what: a privacy officer anything (an inclusion proof only for an entry in its
`visibility.audit_scope`); a registered partner's gateway checkpoints, consistency proofs,
its own cosignatures, and inclusion proofs of entries about its own organisation.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from crypto.cosignature import (
    CosignatureError,
    CosignatureVerifier,
    parse_cosignature,
    verify_cosignature,
)
from services.matcher import audit, checkpoints, store, tree_store
from services.matcher import audit_catalogue as catalogue
from services.matcher.authorization import GATEWAY
from services.matcher.checkpoints import CheckpointView
from services.matcher.clock import to_utc_aware
from services.matcher.core import MatcherCore, parse_page_token
from services.matcher.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
)
from services.matcher.schema import audit_events, audit_leaves
from services.matcher.views import Caller, ConsistencyProofView, InclusionProofView
from services.matcher.visibility import audit_scope

AUDIT_LOG_ACTIVITY = catalogue.AUDIT_LOG
COSIGNATURE_CLOCK_SKEW = timedelta(minutes=5)
"""A cosignature dated further ahead of the matcher's clock is refused."""


class AuditLogUseCases(MatcherCore):
    """The tree behind AuditService."""

    def _check_caller(self, caller: Caller) -> None:
        if caller.role == GATEWAY:
            self.partner(caller)  # only registered partners' gateways

    @staticmethod
    def _latest(conn: sa.Connection) -> CheckpointView:
        latest = checkpoints.get(conn, None)
        if latest is None:
            raise FailedPrecondition("the matcher has not signed a checkpoint of its audit log "
                                     "yet; try again once entries were logged")
        return latest

    def get_checkpoint(self, caller: Caller, tree_size: int) -> CheckpointView:
        self._check_caller(caller)
        if tree_size < 0:
            raise InvalidArgument("tree_size must not be negative")
        with self.engine.connect() as conn:
            if tree_size == 0:
                return self._latest(conn)
            found = checkpoints.get(conn, tree_size)
        if found is None:
            raise NotFound(f"no checkpoint was signed at tree size {tree_size}; "
                           "ListCheckpoints lists the sizes")
        return found

    def list_checkpoints(
        self, caller: Caller, page_size: int, page_token: str, min_tree_size: int
    ) -> tuple[list[CheckpointView], str]:
        self._check_caller(caller)
        size = max(1, min(page_size or 100, 1000))
        after = parse_page_token(page_token)
        with self.engine.connect() as conn:
            found = checkpoints.page(conn, after, max(0, min_tree_size), size + 1)
        token = str(found[size - 1].tree_size) if len(found) > size else ""
        return found[:size], token

    def get_inclusion_proof(self, caller: Caller, index: int, tree_size: int
                            ) -> InclusionProofView:
        self._check_caller(caller)
        if index < 0 or tree_size < 0:
            raise InvalidArgument("index and tree_size must not be negative")
        scope = audit_scope(caller.organisation, caller.role, self.settings.controller)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> InclusionProofView:
            latest = self._latest(conn)
            size = tree_size or latest.tree_size
            if size > latest.tree_size:
                raise OutOfRange(f"tree_size {size} is past the latest checkpoint "
                                 f"({latest.tree_size} entries)")
            if index >= size:
                raise OutOfRange(f"leaf {index} is not in a tree of {size} entries; the "
                                 "matcher signs a checkpoint covering it within "
                                 f"{int(self.settings.audit_log.checkpoint_interval.total_seconds())}"
                                 " s")
            query = (sa.select(audit_leaves.c.leaf_hash, audit_events)
                     .select_from(audit_leaves.outerjoin(
                         audit_events, audit_events.c.id == audit_leaves.c.event_id))
                     .where(audit_leaves.c.leaf_index == index))
            if scope is not None:
                query = query.where(scope)
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(f"no audit entry at leaf {index} that you may read")
            purged = row.id is None
            audit.write(conn, actor, [audit.AuditEvent(
                "inclusion_proof_served", AUDIT_LOG_ACTIVITY,
                "" if purged else row.data_subject_id,
                audit.NONE if purged else row.data_subject_id_type,
                {"leaf_index": str(index), "tree_size": str(size)})], self.clock.now())
            return InclusionProofView(index, size, tree_store.inclusion_proof(conn, index, size),
                                      b"" if purged else bytes(row.leaf), bytes(row.leaf_hash))

        return store.run_transaction(self.engine, work)

    def get_consistency_proof(self, caller: Caller, first: int, second: int
                              ) -> ConsistencyProofView:
        self._check_caller(caller)
        with self.engine.connect() as conn:
            latest = self._latest(conn)
            second = second or latest.tree_size
            if first < 1 or first > second:
                raise InvalidArgument(f"first_tree_size must be in 1..{second} (second_tree_size)")
            if second > latest.tree_size:
                raise OutOfRange(f"second_tree_size {second} is past the latest checkpoint "
                                 f"({latest.tree_size} entries)")
            hashes = tree_store.consistency_proof(conn, first, second)
        return ConsistencyProofView(first, second, hashes)

    def add_cosignature(self, caller: Caller, tree_size: int, root_hash: bytes,
                        signature_line: str) -> CheckpointView:
        partner = self.partner(caller)
        if partner.witness_key is None:
            raise FailedPrecondition(
                f"no witness key is registered for {partner.organisation}; the matcher "
                f"operator sets partners.{partner.organisation}.witness_key to the gateway's "
                "witness.key.pub")
        witness = CosignatureVerifier(partner.organisation, partner.witness_key)
        try:
            named = parse_cosignature(signature_line).name
        except CosignatureError as exc:
            raise InvalidArgument(str(exc)) from None
        if named != witness.name:
            raise PermissionDenied(f"the cosignature is by witness {named!r}; your certificate "
                                   f"is {caller.role} of {caller.organisation}")
        now = self.clock.now()
        not_after = int(to_utc_aware(now + COSIGNATURE_CLOCK_SKEW).timestamp())

        def work(conn: sa.Connection) -> CheckpointView:
            found = checkpoints.get(conn, tree_size)
            if found is None:
                raise NotFound(f"the matcher signed no checkpoint at tree size {tree_size}")
            if bytes(root_hash) != found.root_hash:
                raise InvalidArgument(
                    f"root_hash is not the root of the checkpoint the matcher signed at size "
                    f"{tree_size}: this matcher did not sign that checkpoint")
            try:
                cosig = verify_cosignature(found.body, signature_line, witness,
                                           not_after=not_after)
            except CosignatureError as exc:
                raise InvalidArgument(str(exc)) from None
            checkpoints.add_cosignature(conn, tree_size, cosig, now)
            updated = checkpoints.get(conn, tree_size)
            assert updated is not None
            return updated

        view = store.run_transaction(self.engine, work)
        self.log.info("checkpoint_cosigned", witness=partner.organisation, tree_size=tree_size)
        return view
