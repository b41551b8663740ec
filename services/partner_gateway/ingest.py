"""Ingest one export: read → validate → pseudonymise → journal + vault → submit → report.

The reader runs on the calling thread; up to two batches are pseudonymised at once on worker
threads (one blinds or verifies while the other waits for the pseudonymiser), and submission to
the matcher runs on one more thread behind a bounded queue, so the next VOPRF batch is evaluated
while the previous batch is in flight. Memory stays flat for any file size: at most a few
batches are held. Every row ends in the summary and the per-row report under one outcome: accepted,
refreshed, duplicate or rejected (with the reason code), and a rerun after a crash picks up
where the journal says it stopped (see `journal`).
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from opentelemetry import trace

from crypto.pseudonyms import voprf_input
from domain.errors import FileFormatError
from domain.formats import (
    ExportKind,
    HouseholdLinkRow,
    PartnerMapping,
    Rejection,
    SignalRow,
    read_export,
)
from domain.formats.readers import reading_size
from samenloop.v1 import common_pb2, partner_pb2
from services.common.logging import get_logger
from services.common.tracing import start_detached_span
from services.partner_gateway.connections import call_with_retry
from services.partner_gateway.journal import (
    DONE,
    PREPARED,
    Entry,
    Journal,
    Outcome,
    Prepared,
    file_sha256,
    now_utc,
)
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.vault import VaultEntry, identity_fields

ACCEPTED, REFRESHED, DUPLICATE, REJECTED = "accepted", "refreshed", "duplicate", "rejected"
OUTCOMES = (ACCEPTED, REFRESHED, DUPLICATE, REJECTED)
QUEUE_DEPTH = 2
PREPARE_AHEAD = 2
_PreparedBatch = tuple[list[Prepared], list[VaultEntry], list[str]]


@dataclass
class Summary:
    """Counts over one file; `rejected_by_reason` counts reason codes."""

    file: str
    kind: str
    read: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    resumed: int = 0
    """Rows already handled by an earlier run (counted under their recorded outcome)."""

    @property
    def rejected(self) -> int:
        return self.outcomes[REJECTED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "kind": self.kind, "read": self.read,
            **{o: self.outcomes[o] for o in OUTCOMES},
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "resumed_from_journal": self.resumed,
        }

    def lines(self) -> list[str]:
        out = [f"{self.file} ({self.kind})", f"  read:      {self.read}"]
        out += [f"  {o + ':':<10} {self.outcomes[o]}" for o in OUTCOMES]
        if self.resumed:
            out.append(f"  (of which {self.resumed} recorded by an earlier run)")
        if self.rejected_by_reason:
            out.append("  rejected by reason:")
            width = max(len(c) for c in self.rejected_by_reason)
            for code, n in sorted(self.rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"    {code:<{width}}  {n}")
        return out


class RowReport:
    """The per-row report: one JSON object per line of the export, never a personal value."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._lock = threading.Lock()

    def write(self, file: str, line: int, row_id: str, outcome: str, reason_code: str = "",
              reason: str = "") -> None:
        record = {"file": file, "line": line, "id": row_id, "outcome": outcome}
        if reason_code:
            record["reason_code"] = reason_code
        if reason:
            record["reason"] = reason
        with self._lock:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")


@dataclass
class _Batch:
    batch_id: str
    items: list[Prepared]
    resumed: bool
    span: trace.Span
    """`gateway.batch`: the root of the trace the pseudonymiser and matcher calls continue;
    ended when the batch is submitted."""


class _Tally:
    """Thread-safe summary and report updates."""

    def __init__(self, summary: Summary, report: RowReport | None,
                 progress: Callable[[Summary], None] | None) -> None:
        self.summary = summary
        self.report = report
        self.progress = progress
        self._lock = threading.Lock()

    def read(self, n: int = 1) -> None:
        with self._lock:
            self.summary.read += n

    def outcome(self, line: int, row_id: str, outcome: str, codes: Sequence[str] = (),
                reason: str = "", resumed: bool = False) -> None:
        with self._lock:
            self.summary.outcomes[outcome] += 1
            self.summary.rejected_by_reason.update(c for c in codes if c)
            if resumed:
                self.summary.resumed += 1
        if self.report is not None:
            self.report.write(self.summary.file, line, row_id, outcome, ",".join(codes), reason)
        if self.progress is not None:
            self.progress(self.summary)


def _outcome(result: common_pb2.RowResult, resumed: bool) -> Outcome:
    if result.outcome == common_pb2.ROW_OUTCOME_ACCEPTED:
        kind = REFRESHED if result.reason_code == "refreshed" else ACCEPTED
        return Outcome(0, kind)
    if result.outcome == common_pb2.ROW_OUTCOME_DUPLICATE:
        # A resubmitted prepared row that the matcher already holds was ours: it landed before
        # the crash or the lost answer. A repeat inside the batch is a duplicate either way.
        ours = resumed and result.reason_code != "duplicate_in_batch"
        return Outcome(0, ACCEPTED if ours else DUPLICATE, result.reason_code)
    return Outcome(0, REJECTED, result.reason_code or "matcher.rejected", result.reason)


class _Submitter(threading.Thread):
    """Sends prepared batches to the matcher, one at a time, and records the outcomes."""

    def __init__(self, gw: Gateway, sha: str, kind: ExportKind, tally: _Tally) -> None:
        super().__init__(name="gateway-submit", daemon=True)
        self.gw, self.sha, self.kind, self.tally = gw, sha, kind, tally
        self.journal = Journal(gw.engine)
        self.queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.error: BaseException | None = None

    def put(self, batch: _Batch | None) -> None:
        while True:
            if self.error is not None and batch is not None:
                raise self.error
            try:
                self.queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                if not self.is_alive():
                    raise RuntimeError("the submitting thread stopped") from self.error

    def run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error is not None:
                batch.span.end()
                continue
            try:
                with trace.use_span(batch.span, end_on_exit=True):
                    self._submit(batch)
            except BaseException as exc:  # handed to the reading thread
                self.error = exc

    def _request(self, batch: _Batch) -> tuple[Callable[..., Any], Any]:
        """The stub method and request for a batch of this file's kind."""
        stub = self.gw.partner_stub
        messages = [p.message for p in batch.items]
        if self.kind is ExportKind.SIGNALS:
            return stub.SubmitSignals, partner_pb2.SubmitSignalsRequest(
                batch_id=batch.batch_id,
                signals=[partner_pb2.Signal.FromString(m) for m in messages])
        if self.kind is ExportKind.LINKS:
            return stub.SubmitHouseholdLinks, partner_pb2.SubmitHouseholdLinksRequest(
                batch_id=batch.batch_id,
                links=[partner_pb2.HouseholdLink.FromString(m) for m in messages])
        return stub.WithdrawSignals, partner_pb2.WithdrawSignalsRequest(
            batch_id=batch.batch_id,
            withdrawals=[partner_pb2.Withdrawal.FromString(m) for m in messages])

    def _call(self, batch: _Batch) -> tuple[list[common_pb2.RowResult], bool]:
        """The matcher's results, and whether the batch had to be sent more than once.

        A batch sent again after a failed attempt may have landed the first time (the matcher
        committed, then died or its answer was lost), so its rows come back DUPLICATE: they
        are this gateway's own, as for a batch resumed from the journal (ADR 0017).
        """
        method, request = self._request(batch)
        timeout = self.gw.retry.timeout_seconds
        sent = 0

        def send() -> list[common_pb2.RowResult]:
            nonlocal sent
            sent += 1
            return list(method(request, timeout=timeout).results)

        results = call_with_retry("the matcher", self.gw.settings.matcher, send, self.gw.retry)
        return results, sent > 1

    def _submit(self, batch: _Batch) -> None:
        results, resent = self._call(batch)
        if len(results) != len(batch.items):
            raise RuntimeError(
                f"the matcher answered {len(results)} results for {len(batch.items)} rows")
        outcomes = []
        for item, result in zip(batch.items, results, strict=True):
            o = _outcome(result, batch.resumed or resent)
            outcomes.append(Outcome(item.line, o.outcome, o.reason_code, o.reason))
        with self.gw.engine.begin() as conn:
            self.journal.complete(conn, self.sha, outcomes)
            if self.kind is ExportKind.SIGNALS:
                refused = [i.row_id for i, o in zip(batch.items, outcomes, strict=True)
                           if o.outcome == REJECTED]
                keep = self.journal.accepted_elsewhere(conn, refused)
                self.gw.vault.remove(conn, [r for r in refused if r not in keep])
        for item, o in zip(batch.items, outcomes, strict=True):
            codes = [o.reason_code] if o.outcome == REJECTED else []
            self.tally.outcome(item.line, item.row_id, o.outcome, codes, o.reason)
        get_logger().info("batch_submitted", kind=self.kind.value, batch_id=batch.batch_id,
                          rows=len(batch.items),
                          **{k: v for k, v in Counter(o.outcome for o in outcomes).items()})


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Preparer:
    """Turns accepted rows into messages: pseudonyms, vault entries, link ids."""

    def __init__(self, gw: Gateway, kind: ExportKind, today: date) -> None:
        self.gw, self.kind, self.today = gw, kind, today

    def _pseudonyms(self, inputs: Sequence[bytes], batch_id: str) -> dict[bytes, bytes]:
        unique = list(dict.fromkeys(inputs))
        if not unique:
            return {}
        outputs = self.gw.pseudonymiser.evaluate_all(unique, request_id=batch_id)
        return dict(zip(unique, outputs, strict=True))

    def _pseudonym(self, table: dict[bytes, bytes], data: bytes) -> common_pb2.Pseudonym:
        return common_pb2.Pseudonym(voprf_output=table[data],
                                    key_id=self.gw.settings.pseudonymiser_key_id)

    def prepare(self, rows: Sequence[Any], batch_id: str) -> _PreparedBatch:
        """Messages, vault entries, and signal ids to drop from the vault (withdrawals)."""
        if self.kind is ExportKind.WITHDRAWALS:
            items = [Prepared(r.line, r.signal_id, partner_pb2.Withdrawal(
                signal_id=r.signal_id, reason_code=r.reason or "").SerializeToString())
                for r in rows]
            return items, [], [r.signal_id for r in rows]
        inputs: list[bytes] = []
        for r in rows:
            if r.address is not None:
                inputs.append(voprf_input("household", r.address.canonical()))
            if r.bsn is not None:
                inputs.append(voprf_input("person", r.bsn.value))
        table = self._pseudonyms(inputs, batch_id)
        if self.kind is ExportKind.LINKS:
            return [self._link(r, table) for r in rows], [], []
        items, entries = [], []
        for r in rows:
            items.append(Prepared(r.line, r.signal_id, self._signal(r, table).SerializeToString()))
            retention = self.gw.catalogue.get(r.signal_type).retention_days
            entries.append(self.gw.vault.seal_entry(
                r.signal_id, identity_fields(r), r.observed_on + timedelta(days=retention)))
        return items, entries, []

    def _signal(self, r: SignalRow, table: dict[bytes, bytes]) -> partner_pb2.Signal:
        s = partner_pb2.Signal(
            signal_id=r.signal_id, signal_type=r.signal_type,
            observed_on=r.observed_on.isoformat(), purpose=r.purpose, escalated=r.escalated,
            catalogue_version=self.gw.catalogue.version)
        if r.address is not None:
            s.household.CopyFrom(self._pseudonym(
                table, voprf_input("household", r.address.canonical())))
            s.area_code = r.address.postcode[:4]
        if r.bsn is not None:
            s.person.CopyFrom(self._pseudonym(table, voprf_input("person", r.bsn.value)))
        return s

    def _link(self, r: HouseholdLinkRow, table: dict[bytes, bytes]) -> Prepared:
        link_id = self.gw.link_id(
            f"{r.bsn.value}|{r.address.canonical()}|{r.valid_from.isoformat()}")
        msg = partner_pb2.HouseholdLink(
            link_id=link_id,
            person=self._pseudonym(table, voprf_input("person", r.bsn.value)),
            household=self._pseudonym(table, voprf_input("household", r.address.canonical())),
            valid_from=r.valid_from.isoformat(), area_code=r.address.postcode[:4])
        return Prepared(r.line, link_id, msg.SerializeToString())


def _within(span: trace.Span, work: Callable[..., _PreparedBatch], *args: Any) -> _PreparedBatch:
    """Run `work` on a worker thread inside the batch's span (its pseudonymiser calls join the
    batch's trace)."""
    with trace.use_span(span, end_on_exit=False):
        return work(*args)


def _triage(chunk: Sequence[Any], known: dict[int, Entry], tally: _Tally
            ) -> tuple[list[Any], dict[str, list[Entry]]]:
    """Split a chunk: rejections and rows done earlier are tallied; the rest is returned as
    fresh rows and, by batch id, rows prepared by an earlier run."""
    fresh: list[Any] = []
    resumed: dict[str, list[Entry]] = {}
    for r in chunk:
        entry = known.get(r.line)
        if isinstance(r, Rejection):
            tally.outcome(r.line, "", REJECTED, r.codes,
                          "; ".join(f"{e.field}: {e.reason}" for e in r.errors))
        elif entry is not None and entry.state == DONE:
            codes = [entry.reason_code] if entry.reason_code else []
            tally.outcome(r.line, entry.row_id, entry.outcome or ACCEPTED, codes,
                          entry.reason or "", resumed=True)
        elif entry is not None and entry.state == PREPARED:
            resumed.setdefault(entry.batch_id, []).append(entry)
        else:
            fresh.append(r)
    return fresh, resumed


def check_size(path: Path, limit: int) -> None:
    """Refuse (and log) an export larger than `limit` bytes; a workbook counts unzipped."""
    size = reading_size(path)
    if size > limit:
        get_logger().warning("file_refused", reason="too_large", file=path.name, size=size,
                             limit=limit)
        unzipped = " unzipped" if size > path.stat().st_size else ""
        raise FileFormatError(
            str(path), 0, f"the file is {size:,} bytes{unzipped}, more than this gateway's "
            f"max_file_bytes ({limit:,}); split the export, or raise max_file_bytes in the "
            "gateway configuration")


def ingest_file(
    gw: Gateway,
    path: Path,
    kind: ExportKind,
    mapping: PartnerMapping,
    *,
    report: RowReport | None = None,
    progress: Callable[[Summary], None] | None = None,
    today: date | None = None,
) -> Summary:
    """Send one export to the matcher; returns its summary. Raises one-line errors for peers,
    and `FileFormatError` for a file larger than `max_file_bytes` (before reading a row)."""
    today = today or date.today()
    check_size(path, gw.settings.max_file_bytes)
    sha = file_sha256(path)
    journal = Journal(gw.engine)
    journal.start_file(sha, kind.value, str(path))
    summary = Summary(str(path), kind.value)
    tally = _Tally(summary, report, progress)
    preparer = _Preparer(gw, kind, today)
    submitter = _Submitter(gw, sha, kind, tally)
    log = get_logger()
    log.info("ingest_started", kind=kind.value)
    rows = read_export(
        path, kind, mapping, default_purpose=gw.settings.default_purpose,
        catalogue=gw.catalogue, partner_kind=gw.settings.kind, today=today)
    if kind is not ExportKind.WITHDRAWALS:
        gw.pseudonymiser  # noqa: B018 - connect and check the pinned key once, up front
    submitter.start()
    # Up to PREPARE_AHEAD batches are pseudonymised at once on worker threads: while one waits
    # for the pseudonymiser, another blinds or verifies (gRPC waits without the GIL).
    in_flight: deque[tuple[str, trace.Span, Future[_PreparedBatch]]] = deque()

    def record(batch_id: str, span: trace.Span, future: Future[_PreparedBatch]) -> None:
        try:
            items, entries_, drop = future.result()
            with gw.engine.begin() as conn:
                gw.vault.put_many(conn, entries_, now_utc())
                if drop:
                    gw.vault.remove(conn, drop)
                journal.prepare(conn, sha, kind.value, batch_id, items)
        except BaseException:
            span.end()
            raise
        submitter.put(_Batch(batch_id, items, False, span))

    def batch_span(batch_id: str, rows: int) -> trace.Span:
        return start_detached_span("gateway.batch", **{
            "samenloop.batch_id": batch_id, "samenloop.kind": kind.value, "samenloop.rows": rows})

    with ThreadPoolExecutor(PREPARE_AHEAD, thread_name_prefix="gateway-voprf") as pool:
        try:
            for chunk in _chunks(rows, gw.settings.batch_size):
                tally.read(len(chunk))
                fresh, resumed = _triage(chunk, journal.lookup(sha, [r.line for r in chunk]),
                                         tally)
                for batch_id, entries in resumed.items():
                    submitter.put(_Batch(batch_id, [
                        Prepared(e.line, e.row_id, e.message or b"") for e in entries], True,
                        batch_span(batch_id, len(entries))))
                if fresh:
                    batch_id = uuid.uuid4().hex
                    span = batch_span(batch_id, len(fresh))
                    in_flight.append((batch_id, span, pool.submit(
                        _within, span, preparer.prepare, fresh, batch_id)))
                    if len(in_flight) >= PREPARE_AHEAD:
                        record(*in_flight.popleft())
            while in_flight:
                record(*in_flight.popleft())
        finally:
            for _, span, future in in_flight:
                future.cancel()
                span.end()
            submitter.put(None)
            submitter.join()
    if submitter.error is not None:
        raise submitter.error
    journal.finish_file(sha)
    log.info("ingest_finished", kind=kind.value, read=summary.read,
             **{o: summary.outcomes[o] for o in OUTCOMES})
    return summary
