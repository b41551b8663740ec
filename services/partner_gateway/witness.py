"""The gateway as a witness of the matcher's audit log (C2SP tlog-witness, pulled; ADR 0024).

`gateway serve` and `gateway watch` run `run` in a thread. Every `witness_interval_seconds`
one `Witness.look`:

1. fetch the latest checkpoint (GetCheckpoint) and verify the matcher's signature with the
   pinned `checkpoint_vkey`;
2. check that it extends the last checkpoint this gateway verified (GetConsistencyProof);
3. cosign it (`cosignature/v1` with `witness_key`) and hand the line back (AddCosignature);
4. prove the matcher's audit entry of each of its answered reveal requests the new checkpoint
   covers (GetInclusionProof), checking that the entry records exactly that answer.

Every checkpoint seen is stored with its verdict and chained into the local audit log
(`evidence.py`). A failed check is an alarm: an error-level `central_log_alarm` line with the
code (witness_checks.ALARMS), the checkpoint kept as evidence, no cosignature, and
`samenloop gateway audit check` exits non-zero from then on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc

from crypto.checkpoint import parse_note
from crypto.cosignature import cosign_checkpoint
from samenloop.v1 import audit_pb2
from services.common.logging import get_logger
from services.partner_gateway.connections import (
    GatewayConnectionError,
    PeerRefused,
    call_with_retry,
)
from services.partner_gateway.evidence import FAILED, OK, PROVEN, Evidence, SeenCheckpoint
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.witness_checks import (
    Alarm,
    TreeHead,
    check_extension,
    check_receipt,
    needs_consistency_proof,
    open_checkpoint,
)

T = TypeVar("T")
_ONE_LOOK_AT_A_TIME = threading.Lock()
"""The witness thread and the reveal loop (which looks at once after answering, to prove the
answer) must not both extend the chain of accepted checkpoints from the same reference."""


class NotWitnessing(GatewayConnectionError):
    """The configuration has no `checkpoint_vkey`: there is nothing to verify against."""


class CentralLog(Protocol):
    """The four AuditService calls a witness makes."""

    def latest(self) -> audit_pb2.Checkpoint: ...
    def consistency(self, first: int, second: int) -> list[bytes]: ...
    def inclusion(self, index: int, tree_size: int) -> audit_pb2.InclusionProof: ...
    def add_cosignature(self, tree_size: int, root: bytes, line: str) -> None: ...


class MatcherLog:
    """`CentralLog` over the gateway's mTLS channel, with its retries and one-line errors."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def _call(self, call: Callable[[float], T]) -> T:
        gw = self.gw
        return call_with_retry("the matcher", gw.settings.matcher,
                               lambda: call(gw.retry.timeout_seconds), gw.retry)

    def latest(self) -> audit_pb2.Checkpoint:
        stub = self.gw.audit_stub
        return self._call(lambda t: stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                       timeout=t))

    def consistency(self, first: int, second: int) -> list[bytes]:
        stub = self.gw.audit_stub
        request = audit_pb2.GetConsistencyProofRequest(first_tree_size=first,
                                                       second_tree_size=second)
        answer = self._call(lambda t: stub.GetConsistencyProof(request, timeout=t))
        return [bytes(h) for h in answer.hashes]

    def inclusion(self, index: int, tree_size: int) -> audit_pb2.InclusionProof:
        stub = self.gw.audit_stub
        request = audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size)
        return self._call(lambda t: stub.GetInclusionProof(request, timeout=t))

    def add_cosignature(self, tree_size: int, root: bytes, line: str) -> None:
        stub = self.gw.audit_stub
        request = audit_pb2.AddCosignatureRequest(tree_size=tree_size, root_hash=root,
                                                  signature_line=line)
        self._call(lambda t: stub.AddCosignature(request, timeout=t))


@dataclass
class Look:
    """What one look at the central log found."""

    head: TreeHead | None = None
    verdict: str = OK
    new: bool = False
    cosigned: bool = False
    proven: int = 0
    alarms: list[Alarm] = field(default_factory=list)


class Witness:
    def __init__(self, gw: Gateway, log: CentralLog | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.gw = gw
        self.log = log or MatcherLog(gw)
        self.clock = clock
        self.evidence = Evidence(gw.engine)
        self.events = get_logger()

    def look(self, *, observe_only: bool = False) -> Look:
        """One look: verify the latest checkpoint, cosign it, prove our receipts under it.

        `observe_only` (for `gateway audit check`): verify, and keep an alarm's evidence, but
        neither cosign nor store a verified checkpoint nor prove receipts — the witness loop
        alone extends the chain of accepted checkpoints, one look at a time.
        """
        with _ONE_LOOK_AT_A_TIME:
            return self._look(observe_only)

    def _look(self, observe_only: bool) -> Look:
        verifier = self.gw.checkpoint_verifier
        if verifier is None:
            raise NotWitnessing("this gateway does not witness the central audit log: set "
                                "checkpoint_vkey (the matcher's note_vkey) in its configuration")
        served = self.log.latest()
        note = served.signed_note
        reference = self.evidence.last_verified()
        previous = (None if reference is None
                    else TreeHead(reference.tree_size, reference.root_hash))
        proof: list[bytes] = []
        try:
            checkpoint = open_checkpoint(note, verifier, served_size=served.tree_size,
                                         served_root=bytes(served.root_hash))
            head = TreeHead(checkpoint.size, checkpoint.root_hash)
            if needs_consistency_proof(previous, head):
                assert previous is not None
                proof = self.log.consistency(previous.size, head.size)
            check_extension(previous, head, proof)
        except Alarm as alarm:
            return self._alarm(alarm, note, TreeHead(served.tree_size, bytes(served.root_hash)),
                               previous, proof, say=not observe_only)
        result = Look(head=head, new=previous != head)
        if observe_only:
            return result
        if result.new:
            line = self._cosign(note, head)
            seq = self.evidence.record_checkpoint(
                tree_size=head.size, root_hash=head.root, note=note, verdict=OK,
                previous_size=None if previous is None else previous.size,
                consistency_proof=proof, cosignature=line)
            result.cosigned = line is not None
            self.events.info("checkpoint_verified", tree_size=head.size,
                             previous_size=None if previous is None else previous.size,
                             cosigned=result.cosigned)
        else:
            assert reference is not None
            seq = reference.seq
            result.cosigned = self._cosign_again(served, reference)
        result.proven, failures = self._prove(head, seq)
        result.alarms.extend(failures)
        if failures:
            result.verdict = failures[0].code
        return result

    # cosigning -----------------------------------------------------------------------------
    def _cosign(self, note: str, head: TreeHead) -> str | None:
        """Our cosignature line, once the matcher took it; None without a key or if refused."""
        cosigner = self.gw.cosigner
        if cosigner is None:
            return None
        line = cosign_checkpoint(parse_note(note).text, cosigner, int(self.clock()))
        return line if self._hand_over(head, line) else None

    def _cosign_again(self, served: audit_pb2.Checkpoint, reference: SeenCheckpoint) -> bool:
        """Re-send our stored line for an unchanged head if the matcher does not show it."""
        name = self.gw.settings.organisation
        if any(c.witness_name == name for c in served.cosignatures):
            return reference.cosignature is not None
        if reference.cosignature is None:
            return False
        return self._hand_over(TreeHead(reference.tree_size, reference.root_hash),
                               reference.cosignature)

    def _hand_over(self, head: TreeHead, line: str) -> bool:
        try:
            self.log.add_cosignature(head.size, head.root, line)
        except PeerRefused as exc:
            self.events.warning("cosignature_refused", tree_size=head.size,
                                code=exc.code.name if exc.code else "UNKNOWN", error=str(exc))
            return False
        return True

    # receipts ------------------------------------------------------------------------------
    def _prove(self, head: TreeHead, checkpoint_seq: int) -> tuple[int, list[Alarm]]:
        proven, failures = 0, []
        for receipt in self.evidence.pending_receipts(head.size):
            index = int(receipt.audit_index)
            try:
                answer = self.log.inclusion(index, head.size)
            except PeerRefused as exc:
                if exc.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                                grpc.StatusCode.OUT_OF_RANGE):
                    continue  # not in a checkpoint yet: try again at the next look
                raise
            hashes, leaf = [bytes(h) for h in answer.hashes], bytes(answer.leaf)
            try:
                check_receipt(head, index, hashes, leaf, request=str(receipt.request),
                              partner=self.gw.settings.organisation,
                              outcome=str(receipt.outcome))
            except Alarm as alarm:
                failures.append(alarm)
                self.evidence.settle_receipt(str(receipt.request), state=FAILED,
                                             checkpoint_seq=checkpoint_seq, tree_size=head.size,
                                             proof=hashes, leaf=leaf, reason_code=alarm.code)
                self._say_alarm(alarm, head, None)
                continue
            self.evidence.settle_receipt(str(receipt.request), state=PROVEN,
                                         checkpoint_seq=checkpoint_seq, tree_size=head.size,
                                         proof=hashes, leaf=leaf)
            proven += 1
        return proven, failures

    # alarms --------------------------------------------------------------------------------
    def _alarm(self, alarm: Alarm, note: str, served: TreeHead, previous: TreeHead | None,
               proof: list[bytes], *, say: bool) -> Look:
        """Keep the offending checkpoint as evidence (once), say so in the log (unless the
        caller reports it itself, as `gateway audit check` does), and do not cosign."""
        if self.evidence.already_seen(note, alarm.code) is None:
            self.evidence.record_checkpoint(
                tree_size=served.size, root_hash=served.root, note=note, verdict=alarm.code,
                previous_size=None if previous is None else previous.size,
                consistency_proof=proof)
        if say:
            self._say_alarm(alarm, served, previous)
        return Look(head=served, verdict=alarm.code, alarms=[alarm])

    def _say_alarm(self, alarm: Alarm, head: TreeHead, previous: TreeHead | None) -> None:
        self.events.error("central_log_alarm", code=alarm.code, tree_size=head.size,
                          verified_size=None if previous is None else previous.size,
                          detail=alarm.detail,
                          action="not cosigned; see samenloop gateway audit check")


def prove_answers(gw: Gateway) -> None:
    """After answering: the matcher signed a checkpoint covering its entries (ADR 0022), so
    look now and prove them; a peer away is left to the witness loop."""
    if gw.checkpoint_verifier is None:
        return
    try:
        Witness(gw).look()
    except GatewayConnectionError as exc:
        get_logger().info("answers_not_proven_yet", error=str(exc))


def run(gw: Gateway, stop: threading.Event) -> None:
    """Look at the central log every `witness_interval_seconds` until `stop` is set."""
    events = get_logger()
    if gw.checkpoint_verifier is None:
        events.warning("central_log_not_witnessed", reason="no checkpoint_vkey configured")
        return
    witness = Witness(gw)
    trouble: str | None = None
    events.info("witness_started", interval_seconds=gw.settings.witness_interval_seconds,
                cosigning=gw.cosigner is not None)
    while not stop.is_set():
        try:
            witness.look()
            if trouble is not None:
                events.info("central_log_reachable_again")
                trouble = None
        except GatewayConnectionError as exc:
            said = str(exc)
            if said != trouble:  # once per kind of trouble, not every turn
                events.warning("central_log_unavailable", error=said)
                trouble = said
        stop.wait(gw.settings.witness_interval_seconds)
