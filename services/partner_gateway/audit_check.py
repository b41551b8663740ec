"""`samenloop gateway audit check`: is the local log intact, and did the central log behave?

Everything is re-verified from the gateway's own database, trusting none of its earlier
verdicts:

1. the local audit log's hash chain (a changed, removed or reordered entry breaks it);
2. each stored checkpoint is the one its chain entry names (SHA-256 of the note, size, root),
   and each chain entry naming a checkpoint still has it;
3. each checkpoint the gateway accepted carries the pinned matcher signature, its own
   cosignature verifies, and each extends the one accepted before it by the stored
   consistency proof;
4. no alarm was ever raised (a rewritten, forked or shrunk central log, a bad signature, a
   failed or wrong inclusion proof) — alarms stay until someone deals with them;
5. each proven receipt's inclusion proof still leads to its checkpoint's root;
6. online (unless `--offline`): one look at the matcher's latest checkpoint, as the witness
   loop does but without cosigning or storing it (an alarm's evidence is stored).

The first problem is the one line a person reads; the exit code is non-zero when there is one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crypto.checkpoint import parse_note
from crypto.cosignature import verify_cosignature
from crypto.errors import CheckpointError
from services.partner_gateway import audit as events
from services.partner_gateway.audit import AuditLog
from services.partner_gateway.connections import GatewayConnectionError
from services.partner_gateway.evidence import (
    PENDING,
    PROVEN,
    Evidence,
    SeenCheckpoint,
    note_sha256,
    unpack,
)
from services.partner_gateway.runtime import Gateway

if TYPE_CHECKING:
    from services.partner_gateway.witness import CentralLog
from services.partner_gateway.witness_checks import (
    ALARMS,
    Alarm,
    TreeHead,
    check_extension,
    check_receipt,
    open_checkpoint,
)

_CHECKPOINT_EVENTS = (events.CHECKPOINT_COSIGNED, events.CHECKPOINT_VERIFIED,
                      events.CENTRAL_LOG_ALARM)


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    checkpoints: int = 0
    cosigned: int = 0
    verified_size: int | None = None
    proven: int = 0
    pending: int = 0
    unreachable: str | None = None
    latest_size: int | None = None  # the matcher's latest checkpoint, verified just now
    alarm_codes: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        central = ("no checkpoint verified yet" if self.verified_size is None else
                   f"central log verified up to tree size {self.verified_size} "
                   f"({self.checkpoints} checkpoints, {self.cosigned} cosigned)")
        if self.latest_size is not None:
            central += f", its latest checkpoint (size {self.latest_size}) extends it"
        return (f"ok: local audit log of {self.entries} entries chains; {central}; "
                f"{self.proven} answers proven in the central log, {self.pending} pending")


def _fields(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def check(gw: Gateway, *, online: bool = True, log: CentralLog | None = None) -> CheckReport:
    """Every check above; `log` is the central log to look at (default: the matcher)."""
    report = CheckReport()
    local = AuditLog(gw.engine)
    entries = local.entries()
    report.entries = len(entries)
    broken = local.verify_chain()
    if broken is not None:
        report.problems.append(
            f"local audit log: entry {broken} does not chain to the one before it (changed, "
            "removed or reordered after it was written)")
    evidence = Evidence(gw.engine)
    seen = evidence.checkpoints()
    named = {int(f["checkpoint"]): f for e in entries if e.event in _CHECKPOINT_EVENTS
             and "note_sha256" in (f := _fields(e.fields)) and "checkpoint" in f}
    _check_named(seen, named, report)
    if gw.checkpoint_verifier is None:
        report.problems.append("the central audit log is not witnessed: set checkpoint_vkey "
                               "(the matcher's note_vkey) in the gateway configuration")
        return report
    _check_accepted(gw, [c for c in seen if c.ok], report)
    for c in seen:
        if not c.ok:
            report.alarm_codes.add(c.verdict)
            report.problems.append(
                f"central audit log alarm: {ALARMS.get(c.verdict, c.verdict)} (code "
                f"{c.verdict}; checkpoint of tree size {c.tree_size} seen "
                f"{c.seen_at:%Y-%m-%d %H:%M} UTC, kept as evidence #{c.seq})")
    _check_receipts(gw, evidence, {c.seq: c for c in seen}, entries, report)
    if online:
        _look(gw, report, log)
    return report


def _check_named(seen: list[SeenCheckpoint], named: dict[int, dict[str, str]],
                 report: CheckReport) -> None:
    """Each stored checkpoint is the one its chained entry names, and none is missing."""
    for c in seen:
        entry = named.pop(c.seq, None)
        if (entry is None or entry.get("note_sha256") != note_sha256(c.note)
                or c.note_sha256 != note_sha256(c.note)
                or entry.get("tree_size") != str(c.tree_size)
                or entry.get("root") != c.root_hash.hex()):
            report.problems.append(
                f"local evidence: stored checkpoint #{c.seq} is not the one the audit log "
                "recorded (changed after it was written)")
    for seq in sorted(named):
        report.problems.append(f"local evidence: checkpoint #{seq} named in the audit log is "
                               "missing (deleted after it was written)")


def _check_accepted(gw: Gateway, accepted: list[SeenCheckpoint], report: CheckReport) -> None:
    """Signature, own cosignature, and consistency of each accepted checkpoint in order."""
    verifier = gw.checkpoint_verifier
    assert verifier is not None
    cosigner = gw.cosigner
    previous: TreeHead | None = None
    for c in accepted:
        head = TreeHead(c.tree_size, c.root_hash)
        try:
            open_checkpoint(c.note, verifier, served_size=c.tree_size, served_root=c.root_hash)
            if previous is not None and c.previous_size != previous.size:
                raise Alarm("consistency_proof_failed",
                            f"checked against size {c.previous_size}, not {previous.size}")
            check_extension(previous, head, c.consistency_proof)
        except Alarm as alarm:
            report.problems.append(f"local evidence: accepted checkpoint #{c.seq} (tree size "
                                   f"{c.tree_size}) no longer verifies: {alarm}")
            return
        if c.cosignature is not None:
            report.cosigned += 1
            if cosigner is not None:
                try:
                    verify_cosignature(parse_note(c.note).text, c.cosignature,
                                       cosigner.verifier)
                except CheckpointError as exc:
                    report.problems.append(f"local evidence: this gateway's cosignature on "
                                           f"checkpoint #{c.seq} does not verify ({exc})")
        previous = head
        report.checkpoints += 1
        report.verified_size = c.tree_size


def _check_receipts(gw: Gateway, evidence: Evidence, by_seq: dict[int, SeenCheckpoint],
                    entries: list[Any], report: CheckReport) -> None:
    chained = {e.request: _fields(e.fields) for e in entries
               if e.event in (events.INCLUSION_PROVEN, events.CENTRAL_LOG_ALARM) and e.request}
    for r in evidence.receipts():
        if r.state == PENDING:
            report.pending += 1
            continue
        if r.state != PROVEN:
            report.alarm_codes.add(str(r.reason_code))
            report.problems.append(
                f"central audit log alarm: {ALARMS.get(r.reason_code, r.reason_code)} (code "
                f"{r.reason_code}; {r.request}, entry {r.audit_index})")
            continue
        checkpoint = by_seq.get(int(r.checkpoint_seq))
        entry = chained.get(r.request, {})
        try:
            if checkpoint is None or not checkpoint.ok:
                raise Alarm("inclusion_proof_failed", "its checkpoint is not an accepted one")
            if entry.get("leaf_sha256") != hashlib.sha256(bytes(r.leaf)).hexdigest():
                raise Alarm("inclusion_proof_failed", "the leaf is not the one recorded")
            check_receipt(TreeHead(checkpoint.tree_size, checkpoint.root_hash),
                          int(r.audit_index), unpack(r.proof), bytes(r.leaf),
                          request=r.request, partner=gw.settings.organisation,
                          outcome=r.outcome)
        except Alarm as alarm:
            report.problems.append(f"local evidence: the stored proof for {r.request} no "
                                   f"longer verifies: {alarm}")
            continue
        report.proven += 1


def _look(gw: Gateway, report: CheckReport, log: CentralLog | None) -> None:
    from services.partner_gateway.witness import Witness

    try:
        look = Witness(gw, log).look(observe_only=True)
    except GatewayConnectionError as exc:
        report.unreachable = str(exc)
        return
    for alarm in look.alarms:
        if alarm.code in report.alarm_codes:
            continue  # already reported from the stored evidence
        report.problems.append(f"central audit log alarm: {alarm} (code {alarm.code})")
    if look.head is not None and not look.alarms:
        report.latest_size = look.head.size
